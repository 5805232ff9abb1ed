package radio

import "time"

// LoRaWAN framing and EU868 channel plan constants (LoRaMac EU868 [V],
// RADIO.md section 5).
const (
	// LoRaOverhead is the PHYPayload bytes around the FRMPayload without
	// FOpts: MHDR 1 + FHDR 7 + FPort 1 + MIC 4.
	LoRaOverhead = 13
	// LoRaPreamble is the LoRaWAN preamble length in symbols.
	LoRaPreamble = 8
	// LoRaBandwidth is the EU868 bandwidth of DR0..DR5 in Hz.
	LoRaBandwidth = 125_000
	// LoRaCodingRate is the LoRaWAN coding rate 4/5, as the CR of AN1200.13.
	LoRaCodingRate = 1
)

// deThreshold is the symbol time above which LoRa low data rate
// optimisation (DE) is on: SF11 and SF12 at 125 kHz (AN1200.13 [V]).
const deThreshold = 16 * time.Millisecond

// LoRaAirtime returns the time on air of one LoRa frame by Semtech
// AN1200.13 [V]: sf is the spreading factor (6..12), bwHz the bandwidth,
// payloadPHY the PHYPayload length in bytes, cr the coding rate 1..4
// (4/5..4/8), crc whether a payload CRC is sent (LoRaWAN: uplink yes,
// downlink no), explicitHeader whether the PHY header is sent (LoRaWAN:
// yes) and preamble the programmed preamble length in symbols (LoRaWAN: 8).
// Low data rate optimisation is switched on when a symbol lasts more than
// 16 ms, as LoRaMac does. Arguments out of range give 0.
func LoRaAirtime(sf int, bwHz int, payloadPHY int, cr int, crc, explicitHeader bool, preamble int) time.Duration {
	if sf < 6 || sf > 12 || bwHz <= 0 || payloadPHY < 0 || payloadPHY > 255 ||
		cr < 1 || cr > 4 || preamble < 0 || preamble > 65535 {
		return 0
	}
	// Count quarter symbols so the 4.25-symbol sync word stays exact in
	// integers: ToA = (4·n_pre + 17 + 4·n_pay) · 2^SF / (4·BW).
	symbolNS := int64(1<<sf) * int64(time.Second) / int64(bwHz)
	de := 0
	if time.Duration(symbolNS) > deThreshold {
		de = 1
	}
	quarters := int64(4*preamble+17) + 4*int64(loraPayloadSymbols(sf, payloadPHY, cr, crc, explicitHeader, de))
	return time.Duration(quarters * int64(1<<sf) * int64(time.Second) / (4 * int64(bwHz)))
}

// loraPayloadSymbols is n_pay of AN1200.13:
// 8 + max(ceil((8PL − 4SF + 28 + 16CRC − 20IH) / (4(SF − 2DE)))·(CR+4), 0).
func loraPayloadSymbols(sf, pl, cr int, crc, explicitHeader bool, de int) int {
	num := 8*pl - 4*sf + 28
	if crc {
		num += 16
	}
	if !explicitHeader {
		num -= 20
	}
	den := 4 * (sf - 2*de)
	blocks := 0
	if num > 0 {
		blocks = (num + den - 1) / den
	}
	return 8 + blocks*(cr+4)
}

// LoRaPHYPayload returns the PHYPayload length of a LoRaWAN uplink that
// carries frmPayload application bytes and no FOpts: frmPayload + 13.
func LoRaPHYPayload(frmPayload int) int {
	return frmPayload + LoRaOverhead
}

// LoRaUplinkAirtime returns the time on air of a LoRaWAN EU868 uplink at
// spreading factor sf on 125 kHz carrying frmPayload application bytes:
// CR 4/5, CRC on, explicit header, 8-symbol preamble.
func LoRaUplinkAirtime(sf, frmPayload int) time.Duration {
	return LoRaAirtime(sf, LoRaBandwidth, LoRaPHYPayload(frmPayload), LoRaCodingRate, true, true, LoRaPreamble)
}

// LoRaDownlinkAirtime is LoRaUplinkAirtime for a downlink, which carries
// no payload CRC (LoRaWAN [V]).
func LoRaDownlinkAirtime(sf, frmPayload int) time.Duration {
	return LoRaAirtime(sf, LoRaBandwidth, LoRaPHYPayload(frmPayload), LoRaCodingRate, false, true, LoRaPreamble)
}

// LoRaRX2SF is the spreading factor of EU868's RX2 window by default
// (DR0, 869.525 MHz), where class C devices listen between uplinks
// (LoRaWAN Regional Parameters [K]).
const LoRaRX2SF = 12

// TimeOff returns how long a sub-band stays closed after a transmission of
// the given airtime under a regulatory duty cycle (ETSI EN 300 220 as
// LoRaMac implements it [V]): airtime·(1/dutyCycle − 1). A duty cycle
// outside (0, 1) means no limit and gives 0.
func TimeOff(airtime time.Duration, dutyCycle float64) time.Duration {
	if dutyCycle <= 0 || dutyCycle >= 1 || airtime <= 0 {
		return 0
	}
	return time.Duration(float64(airtime) * (1/dutyCycle - 1))
}

// MinPeriod returns the shortest interval between the starts of two
// transmissions of the given airtime under dutyCycle: airtime + TimeOff.
// A device scheduled more often than this is held back by the band.
func MinPeriod(airtime time.Duration, dutyCycle float64) time.Duration {
	return airtime + TimeOff(airtime, dutyCycle)
}

// LoRaDataRate is one EU868 data rate: its spreading factor on 125 kHz
// (or 250 kHz for DR6), PHY bit rate and largest FRMPayload without FOpts
// and without a repeater.
type LoRaDataRate struct {
	DR, SF, BandwidthHz int
	BitRate             int // bits per second
	MaxPayload          int // FRMPayload bytes (LoRaWAN Regional Parameters N)
}

// loraDataRates lists EU868 DR0..DR6 (LoRaMac EU868 [V] for the payload caps
// and the DR0/DR5/DR6 rates of RADIO.md section 4; the DR1..DR4 bit rates
// are the LoRaWAN Regional Parameters values [K]).
var loraDataRates = []LoRaDataRate{
	{DR: 0, SF: 12, BandwidthHz: 125_000, BitRate: 250, MaxPayload: 51},
	{DR: 1, SF: 11, BandwidthHz: 125_000, BitRate: 440, MaxPayload: 51},
	{DR: 2, SF: 10, BandwidthHz: 125_000, BitRate: 980, MaxPayload: 51},
	{DR: 3, SF: 9, BandwidthHz: 125_000, BitRate: 1760, MaxPayload: 115},
	{DR: 4, SF: 8, BandwidthHz: 125_000, BitRate: 3125, MaxPayload: 222},
	{DR: 5, SF: 7, BandwidthHz: 125_000, BitRate: 5470, MaxPayload: 222},
	{DR: 6, SF: 7, BandwidthHz: 250_000, BitRate: 11000, MaxPayload: 222},
}

// LoRaDataRateFor returns the EU868 125 kHz data rate that uses spreading
// factor sf (7..12), and false when there is none.
func LoRaDataRateFor(sf int) (LoRaDataRate, bool) {
	for _, d := range loraDataRates {
		if d.SF == sf && d.BandwidthHz == LoRaBandwidth {
			return d, true
		}
	}
	return LoRaDataRate{}, false
}
