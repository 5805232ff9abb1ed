package radio

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/m2msim/m2msim/transports/netem"
)

// tablePayload is the application payload the table's airtime column
// assumes: a small telemetry reading.
const tablePayload = 20

// Row is one line of the radio reference table: a profile's headline
// numbers, uplink unless named otherwise.
type Row struct {
	Name, Title string
	// P50 and P95 are the median and 95th percentile one-way delay the
	// uplink's distribution draws.
	P50, P95 time.Duration
	// Loss is the uplink's long-run loss rate.
	Loss netem.Percent
	// Up and Down are the link rates (0 = unlimited); PHYRate the radio
	// rate of technologies whose serialisation is airtime.
	Up, Down, PHYRate netem.Bitrate
	// MTU, MaxPayload and MaxDownPayload are the profile's caps in bytes.
	MTU, MaxPayload, MaxDownPayload int
	// Airtime is the airtime of a 20 B application payload, 0 if none.
	Airtime time.Duration
	// DutyCycle, MessagesPerDay and MinInterval are the send limits.
	DutyCycle      float64
	MessagesPerDay int
	MinInterval    time.Duration
	Sources        []string
}

// Table returns one row per profile in Names order, with "lorawan"
// expanded into its spreading factors lorawan-sf7 to lorawan-sf12.
func Table() []Row {
	var rows []Row
	for _, name := range names {
		if name == "lorawan" {
			for sf := 7; sf <= 12; sf++ {
				rows = append(rows, rowOf(lorawan(sf)))
			}
			continue
		}
		rows = append(rows, rowOf(builders[name]()))
	}
	return rows
}

func rowOf(p Profile) Row {
	r := Row{
		Name: p.Name, Title: p.Title,
		P50:  delayQuantile(p.Link.Up, 0.5),
		P95:  delayQuantile(p.Link.Up, 0.95),
		Loss: p.Link.Up.Loss.Rate(),
		Up:   p.Link.Up.Rate, Down: p.Link.Down.Rate, PHYRate: p.PHYRate,
		MTU: p.MTU, MaxPayload: p.MaxPayload, MaxDownPayload: p.MaxDownPayload,
		DutyCycle: p.DutyCycle, MessagesPerDay: p.MessagesPerDay, MinInterval: p.MinInterval,
		Sources: append([]string(nil), p.Sources...),
	}
	if p.Airtime != nil {
		r.Airtime = p.Airtime(tablePayload)
	}
	return r
}

// WriteTable writes Table as aligned text: one header line, then one line
// per profile.
func WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDELAY P50\tP95\tLOSS\tUP\tDOWN\tMAX PAYLOAD\tAIRTIME 20B\tLIMITS\tTITLE\tSOURCES")
	for _, r := range Table() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Name, formatDuration(r.P50), formatDuration(r.P95), trimFloat(float64(r.Loss), 2)+"%",
			r.rate(r.Up), r.rate(r.Down), r.payload(), dash(r.Airtime), r.limits(),
			r.Title, strings.Join(r.Sources, "; "))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write radio table: %w", err)
	}
	return nil
}

// rate prints a link rate, the PHY rate where airtime serialises, or "-".
func (r Row) rate(b netem.Bitrate) string {
	switch {
	case b > 0:
		return b.String()
	case r.PHYRate > 0:
		return r.PHYRate.String() + " phy"
	}
	return "-"
}

// payload prints the message caps ("12B/8B" up/down) or the MTU.
func (r Row) payload() string {
	switch {
	case r.MaxPayload > 0 && r.MaxDownPayload > 0 && r.MaxDownPayload != r.MaxPayload:
		return strconv.Itoa(r.MaxPayload) + "B/" + strconv.Itoa(r.MaxDownPayload) + "B"
	case r.MaxPayload > 0:
		return strconv.Itoa(r.MaxPayload) + "B"
	case r.MTU > 0:
		return "mtu " + strconv.Itoa(r.MTU)
	}
	return "-"
}

// limits prints the duty cycle, daily cap and minimum interval.
func (r Row) limits() string {
	var parts []string
	if r.DutyCycle > 0 {
		parts = append(parts, netem.Percent(r.DutyCycle*100).String()+" duty")
	}
	if r.MessagesPerDay > 0 {
		parts = append(parts, strconv.Itoa(r.MessagesPerDay)+"/day")
	}
	if r.MinInterval > 0 {
		parts = append(parts, "1/"+formatDuration(r.MinInterval))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func dash(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return formatDuration(d)
}

// formatDuration prints d compactly for tables: "5.5ms" under 10 ms,
// whole milliseconds under 1 s, seconds with up to two decimals below a
// minute, then time.Duration's own "1h0m0s" style trimmed of zero units.
func formatDuration(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return trimFloat(float64(d)/float64(time.Millisecond), 1) + "ms"
	case d < time.Second:
		return strconv.FormatInt(int64(d.Round(time.Millisecond)/time.Millisecond), 10) + "ms"
	case d < time.Minute:
		return trimFloat(d.Seconds(), 2) + "s"
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// trimFloat formats v with at most prec decimals and no trailing zeros.
func trimFloat(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
