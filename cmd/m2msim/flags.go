package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/m2msim/m2msim/internal/spell"
)

// parseFlags parses args against the flags defined in fs and returns the
// positional arguments. Flags may follow positional arguments ("run FILE
// --out DIR"), take their value as the next argument or after "=", and
// be spelt with one dash or two; "--" ends them. Errors spell flags
// --name, suggest the nearest name for an unknown one, and carry the
// value's own explanation for a bad value. -h and --help return
// flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a[1:], "-"), "=")
		f := fs.Lookup(name)
		switch {
		case name == "" || name[0] == '-':
			return nil, fmt.Errorf("bad flag syntax %q", a)
		case f == nil && (name == "h" || name == "help"):
			return nil, flag.ErrHelp
		case f == nil:
			return nil, unknownFlag(fs, name)
		case !hasValue && isBool(f):
			value = "true"
		case !hasValue:
			if i+1 == len(args) || isFlag(fs, args[i+1]) {
				return nil, fmt.Errorf("--%s needs a value: --%s %s", name, name, f.Usage)
			}
			i++
			value = args[i]
		}
		if err := fs.Set(name, value); err != nil {
			return nil, fmt.Errorf("--%s: %w", name, err)
		}
	}
	return pos, nil
}

// isFlag reports whether a is one of fs's flags, which is then not taken
// as the value of the flag before it.
func isFlag(fs *flag.FlagSet, a string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	return strings.HasPrefix(a, "-") && fs.Lookup(name) != nil
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func unknownFlag(fs *flag.FlagSet, name string) error {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if near, ok := nearest(name, names); ok {
		return fmt.Errorf("unknown flag --%s (did you mean --%s?)", name, near)
	}
	if len(names) == 0 {
		return fmt.Errorf("unknown flag --%s (this command takes no flags)", name)
	}
	return fmt.Errorf("unknown flag --%s (flags: --%s)", name, strings.Join(names, ", --"))
}

// nearest returns the candidate closest to name: the only one that
// starts with name or that name starts with ("dur", "output"), else the
// one within the fewest edits (one for a candidate of up to four
// letters, two up to nine, three beyond), the first listed on a tie.
func nearest(name string, candidates []string) (string, bool) {
	var prefixed []string
	for _, c := range candidates {
		if len(name) >= 2 && (strings.HasPrefix(c, name) || strings.HasPrefix(name, c)) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0], true
	}
	best, bestD := "", 0
	for _, c := range candidates {
		d := spell.Distance(name, c)
		if d <= 1+len(c)/5 && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best, best != ""
}

// durationValue is a time.Duration flag whose errors show the form
// wanted. Zero is refused unless zeroOK.
type durationValue struct {
	d      *time.Duration
	zeroOK bool
}

func (v durationValue) String() string {
	if v.d == nil {
		return ""
	}
	return v.d.String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a duration (e.g. 30s, 2m)", s)
	case d < 0 || d == 0 && !v.zeroOK:
		if v.zeroOK {
			return fmt.Errorf("%q: want 0 or more", s)
		}
		return fmt.Errorf("%q: want more than 0 (e.g. 30s, 2m)", s)
	}
	*v.d = d
	return nil
}

// seedValue is an optional uint64 flag.
type seedValue struct{ p **uint64 }

func (v seedValue) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return strconv.FormatUint(**v.p, 10)
}

func (v seedValue) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a whole number from 0 to %d", s, uint64(1<<64-1))
	}
	*v.p = &n
	return nil
}

// levelValue is a log level flag.
type levelValue struct{ l *slog.Level }

func (v levelValue) String() string {
	if v.l == nil {
		return ""
	}
	return strings.ToLower(v.l.String())
}

func (v levelValue) Set(s string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil || strings.ContainsAny(s, "+-") {
		return fmt.Errorf("%q is not a level (debug, info, warn or error)", s)
	}
	*v.l = l
	return nil
}

// pathValue is a file or directory flag: it refuses an empty value.
type pathValue struct{ p *string }

func (v pathValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v pathValue) Set(s string) error {
	if s == "" {
		return errors.New("want a path, got an empty value")
	}
	*v.p = s
	return nil
}
