// Package radio holds radio technology profiles for m2msim: the link
// numbers of NB-IoT, LTE-M, 2G, 3G, LTE, 5G, LoRaWAN, Sigfox, Wi-Fi, BLE
// gateways and satellites, as netem links (delay distribution,
// Gilbert-Elliott loss, rate, grant slots), plus what netem cannot express:
// time on air, regulatory duty cycles, message caps and sleep timers.
//
// Every number comes from RADIO.md, the project's radio and netem
// reference (sections 4 to 6), and its doc comment carries RADIO.md's
// source label: [V] read in a source, [K] domain knowledge to refine, [S]
// computed here. RADIO.md gives delays as a median and a 95th percentile;
// the profiles turn the two into netem's Delay and Jitter for the chosen
// table distribution, so a shaped link draws those quantiles rather than
// using them as a mean and a spread.
//
// Message-level technologies (LoRaWAN, Sigfox, Iridium SBD) carry their
// serialisation in Airtime and leave the link rate at zero: the engine
// holds a send for its airtime and the band's time-off (TimeOff), and the
// link adds only the backhaul.
package radio
