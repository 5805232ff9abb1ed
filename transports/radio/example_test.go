package radio_test

import (
	"fmt"
	"time"

	"github.com/m2msim/m2msim/transports/radio"
)

// A LoRaWAN device at SF12 sending 20 bytes may transmit at most once
// every three minutes in the 1 % sub-band.
func ExampleLookup() {
	p, err := radio.Lookup("lorawan-sf12")
	if err != nil {
		fmt.Println(err)
		return
	}
	airtime := p.Airtime(20)
	fmt.Println(p.Title)
	fmt.Println("airtime:", airtime)
	fmt.Println("min period:", radio.MinPeriod(airtime, p.DutyCycle).Round(time.Second))
	// Output:
	// LoRaWAN EU868 class A, DR0 SF12BW125
	// airtime: 1.810432s
	// min period: 3m1s
}

func ExampleLoRaAirtime() {
	// SF7, 125 kHz, CR 4/5, CRC, explicit header, 8-symbol preamble,
	// 20 B PHYPayload: Semtech AN1200.13's worked example.
	fmt.Println(radio.LoRaAirtime(7, 125_000, 20, 1, true, true, 8))
	// Output: 56.576ms
}
