package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes. Scenarios write it as "128B", "1KiB",
// "2MiB", "1GiB" or a plain number of bytes.
type ByteSize int64

// Byte size units.
const (
	Byte ByteSize = 1
	KiB           = 1024 * Byte
	MiB           = 1024 * KiB
	GiB           = 1024 * MiB
)

var byteUnits = []struct {
	name string
	size ByteSize
}{{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}, {"B", Byte}}

// ParseByteSize reads a size such as "128B", "1KiB", "2MiB" or "512".
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	mult := Byte
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(t, u.name); ok {
			t, mult = strings.TrimSpace(num), u.size
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	switch {
	case err != nil:
		return 0, fmt.Errorf("size %q: want a whole number of B, KiB, MiB or GiB, such as 128B", s)
	case n < 0:
		return 0, fmt.Errorf("size %q: must not be negative", s)
	case n > math.MaxInt64/int64(mult):
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return ByteSize(n) * mult, nil
}

// String writes b in the largest unit that divides it: "128B", "1KiB".
func (b ByteSize) String() string {
	for _, u := range byteUnits {
		if b != 0 && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// UnmarshalText reads a size with ParseByteSize.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalText writes b as String does.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }
