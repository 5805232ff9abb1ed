package radio

import (
	"strconv"
	"time"

	"github.com/m2msim/m2msim/transports/netem"
)

// Each builder below cites RADIO.md section 4 (and 5, 6) with its source
// labels. Where RADIO.md gives a range, the choice within it is stated.
// Delays are one-way, device to IP core, connected state, fitted as a
// median and p95 (fitDelay) [S].

// cellularBurst is the mean loss burst in packets for terrestrial links:
// RADIO.md 1.4's worked example (2 % loss in bursts of 3) [K]; satelliteBurst
// stands for rain fades (GEO) and handover outages (LEO, every 15 s) [K].
const (
	cellularBurst  = 3
	satelliteBurst = 10
)

// t3412Default is TS 24.008's default periodic TAU timer, 54 min [V].
const t3412Default = 54 * time.Minute

// lpwanSlot spreads NB-IoT uplink grants 10-40 ms apart, one transport
// block each (RADIO.md 4 mapping: "slot (e.g. 10-40 ms grants)") [K].
func lpwanSlot(tbs int) netem.Slot {
	return netem.Slot{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond, Bytes: tbs}
}

// nbiot: NB-IoT in CE0. Median 0.4 s (Keysight "100 ms~8 s" [V];
// Ugwuanyi 2021 measured 837 ms [V]) with p95 2 s (TR 45.820 [K]); Pareto
// rather than paretonormal because a paretonormal with that spread puts
// ~13 % of draws at zero delay, while Pareto's floor stays at 114 ms.
// Loss 0.5 % of 0.1-1 % [K]. UL ~20 kbit/s single-tone, DL 26 kbit/s NB1
// peak (mbedded.ninja [V]); cells of the 1000-bit (125 B) UL TBS [K] and
// the 680-bit (85 B) NB1 DL TBS [K]. MTU 1280, the low end of 1280-1500.
// Sleep: PSM, eDRX 20.48-10485.76 s, PTW 2.56-40.96 s (TS 24.008 [K]),
// inactivity 10-20 s, RACH + RRC setup 1-3 s (RADIO.md 6 [K]).
func nbiot() Profile {
	up := profile(netem.Pareto, 400*time.Millisecond, 2*time.Second, 0.5, cellularBurst, 20_000)
	up.CellSize, up.Slot = 125, lpwanSlot(125)
	down := profile(netem.Pareto, 400*time.Millisecond, 2*time.Second, 0.5, cellularBurst, 26_000)
	down.CellSize = 85
	return Profile{
		Name: "nbiot", Title: "NB-IoT Cat-NB1/NB2 (CE0)",
		Link: netem.Link{Up: up, Down: down},
		MTU:  1280,
		Sleep: SleepDefaults{
			PSM: true, T3412: t3412Default,
			EDRX:       Range{20480 * time.Millisecond, 10485760 * time.Millisecond},
			PTW:        Range{2560 * time.Millisecond, 40960 * time.Millisecond},
			Inactivity: Range{10 * time.Second, 20 * time.Second},
			Wake:       Range{1 * time.Second, 3 * time.Second},
		},
		Sources: []string{"TR 45.820 [K]", "Keysight NB-IoT field measurements [V]", "mbedded.ninja [V]",
			"Ugwuanyi et al. 2021 [V]", "TS 24.008 [K]", "median/p95 fit to iproute2 pareto table [S]"},
	}
}

// ltem: LTE-M Cat-M1. Median 50 ms (Keysight [V]), p95 200 ms of
// 150-300 ms [K], Pareto for the same reason as NB-IoT (floor 23 ms, near
// the 10-15 ms spec). Loss 0.5 % of 0.1-1 % [K]. HD-FDD UL 375 kbit/s, DL
// 300 kbit/s (of "~300-375 kbps" [K]) in 1000-bit TBS cells [K]. MTU 1430
// (AT&T [V]). Sleep: PSM, eDRX 5.12-2621.44 s, PTW 1.28-20.48 s, T3412
// 54 min (TS 24.008 [K], default [V]); LTE's 0.1-0.3 s RRC setup [K].
func ltem() Profile {
	up := profile(netem.Pareto, 50*time.Millisecond, 200*time.Millisecond, 0.5, cellularBurst, 375_000)
	down := profile(netem.Pareto, 50*time.Millisecond, 200*time.Millisecond, 0.5, cellularBurst, 300_000)
	up.CellSize, down.CellSize = 125, 125
	return Profile{
		Name: "ltem", Title: "LTE-M Cat-M1",
		Link: netem.Link{Up: up, Down: down},
		MTU:  1430,
		Sleep: SleepDefaults{
			PSM: true, T3412: t3412Default,
			EDRX:       Range{5120 * time.Millisecond, 2621440 * time.Millisecond},
			PTW:        Range{1280 * time.Millisecond, 20480 * time.Millisecond},
			Inactivity: Range{10 * time.Second, 20 * time.Second},
			Wake:       Range{100 * time.Millisecond, 300 * time.Millisecond},
		},
		Sources: []string{"Keysight Cat-M1 field measurements [V]", "AT&T IoT MTU [V]", "TS 24.008 [K]",
			"median/p95 fit to iproute2 pareto table [S]"},
	}
}

// gprs: 2G GPRS. Median 300 ms of 250-400 ms one-way, p95 450 ms from
// "±100-200 ms" (WebPageTest 2G, BrowserStack gprs-good 500 ms RTT,
// comcast [V]). Loss 1 % (BrowserStack gprs-good [V]). UL 20 kbit/s of
// 20-30, DL 50 kbit/s (comcast [V]). MTU 1400 ("1500, often 1400").
// TBF setup 0.2-0.5 s after idle [K].
func gprs() Profile {
	return Profile{
		Name: "gprs", Title: "2G GPRS",
		Link: netem.Link{
			Up:   profile(netem.ParetoNormal, 300*time.Millisecond, 450*time.Millisecond, 1, cellularBurst, 20_000),
			Down: profile(netem.ParetoNormal, 300*time.Millisecond, 450*time.Millisecond, 1, cellularBurst, 50_000),
		},
		MTU:     1400,
		Sleep:   SleepDefaults{Wake: Range{200 * time.Millisecond, 500 * time.Millisecond}},
		Sources: []string{"WebPageTest 2G [V]", "BrowserStack gprs-good [V]", "comcast [V]", "median/p95 fit [S]"},
	}
}

// umts: 3G UMTS/HSPA. Median 100 ms of 75-150 ms, p95 200 ms from
// "±30-100 ms" (WebPageTest 3G 300 ms RTT and 3G Fast 150 ms, DevTools,
// comcast [V]). Loss 1 % of 0.5-1.5 %. UL 768 kbit/s, DL 1.6 Mbit/s [V].
// IDLE to DCH 1.5-2 s, tails 5-12 s [K].
func umts() Profile {
	return Profile{
		Name: "3g", Title: "3G UMTS/HSPA",
		Link: netem.Link{
			Up:   profile(netem.ParetoNormal, 100*time.Millisecond, 200*time.Millisecond, 1, cellularBurst, 768_000),
			Down: profile(netem.ParetoNormal, 100*time.Millisecond, 200*time.Millisecond, 1, cellularBurst, 1_600_000),
		},
		MTU: 1500,
		Sleep: SleepDefaults{
			Inactivity: Range{5 * time.Second, 12 * time.Second},
			Wake:       Range{1500 * time.Millisecond, 2 * time.Second},
		},
		Sources: []string{"WebPageTest 3G/3G Fast [V]", "Firefox DevTools [V]", "comcast [V]", "median/p95 fit [S]"},
	}
}

// lte: LTE Cat-1. Median 30 ms of 20-35 ms (WebPageTest LTE, RTT ~70 ms
// [V]), p95 ~60 ms [K]. Loss 0.2 % of 0.1-0.5 %. Cat-1 UL 5 / DL 10
// Mbit/s. MTU 1430 of 1430-1500 (AT&T [V]). IDLE to CONNECTED 0.1-0.3 s
// [K]; inactivity ~10 s (Huang MobiSys'12 [V]).
func lte() Profile {
	return Profile{
		Name: "lte", Title: "LTE Cat-1",
		Link: netem.Link{
			Up:   profile(netem.ParetoNormal, 30*time.Millisecond, 60*time.Millisecond, 0.2, cellularBurst, 5_000_000),
			Down: profile(netem.ParetoNormal, 30*time.Millisecond, 60*time.Millisecond, 0.2, cellularBurst, 10_000_000),
		},
		MTU: 1430,
		Sleep: SleepDefaults{
			Inactivity: Range{10 * time.Second, 10 * time.Second},
			Wake:       Range{100 * time.Millisecond, 300 * time.Millisecond},
		},
		Sources: []string{"WebPageTest LTE [V]", "Huang et al. MobiSys'12 [V]", "AT&T IoT MTU [V]", "median/p95 fit [S]"},
	}
}

// nr: 5G NR eMBB. Median 10 ms of 5-15 ms [K] (IMT-2020 user-plane target
// 4 ms [V]), p95 20 ms [K]. Loss 0.1 % [K]. UL 100 Mbit/s, DL 1 Gbit/s
// ("100s Mbps-Gbps"). Idle to active 10-20 ms (IMT-2020 control-plane
// target 20 ms [V]). RRC_INACTIVE is not modelled.
func nr() Profile {
	return Profile{
		Name: "5g", Title: "5G NR eMBB",
		Link: netem.Link{
			Up:   profile(netem.ParetoNormal, 10*time.Millisecond, 20*time.Millisecond, 0.1, cellularBurst, 100_000_000),
			Down: profile(netem.ParetoNormal, 10*time.Millisecond, 20*time.Millisecond, 0.1, cellularBurst, 1_000_000_000),
		},
		MTU:     1500,
		Sleep:   SleepDefaults{Wake: Range{10 * time.Millisecond, 20 * time.Millisecond}},
		Sources: []string{"ITU-R IMT-2020 [V]", "TR 38.913 [K]", "median/p95 fit [S]"},
	}
}

// loraDefaultSF is the spreading factor of plain "lorawan": SF7 (DR5), the
// rate ADR settles on near a gateway.
const loraDefaultSF = 7

// lorawanDefault is plain "lorawan": lorawan-sf7 under the base name.
func lorawanDefault() Profile {
	p := lorawan(loraDefaultSF)
	p.Name = "lorawan"
	return p
}

// backhaul is a gateway or base station's path to the network server,
// 50-300 ms uniform (RADIO.md 4, LoRaWAN [K]).
func backhaul() netem.Profile { return uniform(50*time.Millisecond, 300*time.Millisecond) }

// lorawan: LoRaWAN EU868 class A at spreading factor sf on 125 kHz. The
// link is the backhaul only: time on air is Airtime (AN1200.13 [V], CR
// 4/5, CRC, 8-symbol preamble) and collisions (ALOHA) belong to the
// engine's MAC model, so the link loses nothing. FRMPayload caps 51/115/222
// B by data rate, duty cycle 1 % in 868.0-868.6 MHz (LoRaMac EU868 [V]).
// Downlink only at RX1 +1 s / RX2 +2 s after an uplink [V]. TTN's fair use
// (30 s airtime, 10 downlinks a day) is a policy, not modelled [K].
func lorawan(sf int) Profile {
	dr, _ := LoRaDataRateFor(sf)
	return Profile{
		Name:       "lorawan-sf" + strconv.Itoa(sf),
		Title:      "LoRaWAN EU868 class A, DR" + strconv.Itoa(dr.DR) + " SF" + strconv.Itoa(sf) + "BW125",
		Link:       netem.Link{Up: backhaul(), Down: backhaul()},
		MaxPayload: dr.MaxPayload, MaxDownPayload: dr.MaxPayload,
		PHYRate:     netem.Bitrate(dr.BitRate),
		Airtime:     func(payload int) time.Duration { return LoRaUplinkAirtime(sf, payload) },
		DownAirtime: func(payload int) time.Duration { return LoRaDownlinkAirtime(sf, payload) },
		DutyCycle:   0.01,
		Sleep: SleepDefaults{
			DownlinkAfterUplink: true,
			RXWindow:            Range{1 * time.Second, 2 * time.Second},
		},
		Sources: []string{"LoRaMac-node EU868 [V]", "Semtech AN1200.13 [V]", "LoRaWAN Regional Parameters [K]",
			"backhaul 50-300 ms [K]"},
	}
}

// sigfoxFrame is one Sigfox RC1 uplink frame at 100 bit/s, ~2 s; a message
// is sent 3 times (sigfox-ep-lib N=1-3 [V], ~2 s [K]).
const (
	sigfoxFrame   = 2 * time.Second
	sigfoxRepeats = 3
)

// sigfox: Sigfox RC1. Airtime 3 × ~2 s; delivery 2-6 s + callback, the
// link carrying the backhaul [K]. Loss 2 % of "1-5 % with N=3" [K],
// independent per message. 12 B UL / 8 B DL, 140 UL and 4 DL a day, 1 %
// duty cycle (6 messages/h = 36 s/h), DL window of 25 s opening ~20 s
// after an uplink (sigfox-downlink README, QW demo [V]).
func sigfox() Profile {
	up := backhaul()
	up.Loss = ge(2, 1)
	return Profile{
		Name: "sigfox", Title: "Sigfox RC1 (EU868)",
		Link:       netem.Link{Up: up, Down: backhaul()},
		MaxPayload: 12, MaxDownPayload: 8,
		PHYRate:   100,
		Airtime:   func(int) time.Duration { return sigfoxRepeats * sigfoxFrame },
		DutyCycle: 0.01, MessagesPerDay: 140, DownlinksPerDay: 4,
		Sleep: SleepDefaults{
			DownlinkAfterUplink: true,
			RXWindow:            Range{20 * time.Second, 45 * time.Second},
		},
		Sources: []string{"sigfox-downlink README [V]", "Sigfox QW demo [V]", "sigfox-ep-lib wiki [V]",
			"loss and callback [K]"},
	}
}

// dtimBeacon is one 802.11 beacon interval, 102.4 ms.
const dtimBeacon = 1024 * time.Millisecond / 10

// wifi: Wi-Fi station in power save. Median 20 ms (LAN 1-5 ms + ISP 10-40
// ms), p95 40 ms [K]; loss 0.2 % (comcast [V]); UL 15 / DL 30 Mbit/s
// (DevTools Wi-Fi [V]). Downlink waits for the next DTIM beacon, modelled
// as a netem slot of up to one beacon interval (DTIM 1; DTIM 3 waits up to
// 307.2 ms) [K].
func wifi() Profile {
	down := profile(netem.ParetoNormal, 20*time.Millisecond, 40*time.Millisecond, 0.2, cellularBurst, 30_000_000)
	down.Slot = netem.Slot{Max: dtimBeacon}
	return Profile{
		Name: "wifi", Title: "Wi-Fi station (power save, DTIM 1)",
		Link: netem.Link{
			Up:   profile(netem.ParetoNormal, 20*time.Millisecond, 40*time.Millisecond, 0.2, cellularBurst, 15_000_000),
			Down: down,
		},
		MTU:     1500,
		Sources: []string{"Firefox DevTools Wi-Fi [V]", "comcast [V]", "DTIM power save [K]", "median/p95 fit [S]"},
	}
}

// bleGateway: BLE peripheral behind a gateway with a 50 ms connection
// interval (gateways use 30-100 ms; TI, Nordic, mbed GAP docs [V]): the
// radio waits U[0, 50 ms) for the next connection event, plus a 20 ms
// backhaul [K], so uniform over [20, 70) ms. Link loss 0.5 % of 0.1-1 %
// [K]; 10 kB/s each way, the low end of 10-100 kB/s [K]. ATT MTU 247 (244
// B per notification) after MTU exchange; without it, 23 (20 B).
func bleGateway() Profile {
	link := func() netem.Profile {
		p := uniform(20*time.Millisecond, 70*time.Millisecond)
		p.Loss, p.Rate = ge(0.5, cellularBurst), 80_000
		return p
	}
	return Profile{
		Name: "ble-gateway", Title: "BLE peripheral via gateway (50 ms interval)",
		Link:       netem.Link{Up: link(), Down: link()},
		MTU:        247,
		MaxPayload: 244, MaxDownPayload: 244,
		Sources: []string{"TI BLE GAP docs [V]", "Nordic GAP docs [V]", "mbed GAP docs [V]", "rates and backhaul [K]"},
	}
}

// geo: GEO satellite VSAT. Uniform over [250, 330) ms one-way: above the
// 240 ms propagation floor, RTT ~580 ms within 550-700 (TS 22.261 GEO
// ≤280 ms [V], APNIC 2022 [V]), ±40 ms of ±20-50. Loss 0.5 % of 0.1-1 % in
// rain-fade bursts [K]. UL 10 / DL 100 Mbit/s VSAT. MTU 1500 (PEP).
func geo() Profile {
	link := func(rate netem.Bitrate) netem.Profile {
		p := uniform(250*time.Millisecond, 330*time.Millisecond)
		p.Loss, p.Rate = ge(0.5, satelliteBurst), rate
		return p
	}
	return Profile{
		Name: "geo", Title: "GEO satellite (VSAT)",
		Link:    netem.Link{Up: link(10_000_000), Down: link(100_000_000)},
		MTU:     1500,
		Sources: []string{"TS 22.261 [V]", "APNIC 2022 [V]", "loss bursts [K]"},
	}
}

// leo: LEO Starlink. One-way median 25 ms (RTT median 50, IQR 40-60, min
// 20) and p95 45 ms (RTT p95 80-100 [K]) (APNIC 2022, IMC'22 [V];
// TS 22.261 LEO ≤30 ms [V]). Loss 1 % of 0.5-1 % in bursts standing for
// handovers every 15 s [K]. UL 10 / DL 100 Mbit/s, the low ends of 10-20
// and 100-300+.
func leo() Profile {
	return Profile{
		Name: "leo", Title: "LEO satellite (Starlink)",
		Link: netem.Link{
			Up:   profile(netem.ParetoNormal, 25*time.Millisecond, 45*time.Millisecond, 1, satelliteBurst, 10_000_000),
			Down: profile(netem.ParetoNormal, 25*time.Millisecond, 45*time.Millisecond, 1, satelliteBurst, 100_000_000),
		},
		MTU:     1500,
		Sources: []string{"APNIC 2022 [V]", "IMC'22 Starlink [V]", "TS 22.261 [V]", "median/p95 fit [S]"},
	}
}

// Iridium SBD session times: 5 s for 70 B up to ~20 s for the 340 B
// maximum (NAL Research [V]), interpolated linearly between.
const (
	iridiumShort, iridiumShortBytes = 5 * time.Second, 70
	iridiumLong, iridiumMaxMO       = 20 * time.Second, 340
)

// iridiumSession is the SBD session time for an MO message of payload B.
func iridiumSession(payload int) time.Duration {
	if payload <= iridiumShortBytes {
		return iridiumShort
	}
	extra := time.Duration(payload-iridiumShortBytes) * (iridiumLong - iridiumShort) / (iridiumMaxMO - iridiumShortBytes)
	return iridiumShort + extra
}

// iridium: Iridium SBD on a 9602/9603 modem. The session (Airtime) takes
// 5-20 s by length, then the Internet backhaul [K]; the modem retries
// failed sessions, so the link loses nothing [K]. 2.4 kbit/s, MO 340 B / MT
// 270 B, ~1 message per 40 s; MT only on an MO or a mailbox check (NAL
// Research, PX4 RockBLOCK page [V]).
func iridium() Profile {
	return Profile{
		Name: "iridium", Title: "Iridium SBD (9602/9603)",
		Link:       netem.Link{Up: backhaul(), Down: backhaul()},
		MaxPayload: iridiumMaxMO, MaxDownPayload: 270,
		PHYRate:     2400,
		Airtime:     iridiumSession,
		MinInterval: 40 * time.Second,
		Sleep:       SleepDefaults{DownlinkAfterUplink: true},
		Sources:     []string{"NAL Research SBD [V]", "PX4 RockBLOCK page [V]", "backhaul [K]"},
	}
}
