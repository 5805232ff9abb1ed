package scenarios

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()

// MarshalJSON writes the scenario's normalised form: every key the schema
// has, with defaults filled in, in schema order, and durations, sizes,
// rates and templates written as a scenario file would write them. Absent
// blocks and an unset seed are left out. Credentials appear only as the
// names of their variables, so the form is safe to print and store.
func (s *Scenario) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := encodeJSON(&b, reflect.ValueOf(s).Elem(), func(key string) bool { return key == "seed" && !s.seedSet }); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeJSON writes v with its yaml keys; skip drops top-level keys.
func encodeJSON(b *bytes.Buffer, v reflect.Value, skip func(string) bool) error {
	switch {
	case v.Kind() == reflect.Pointer && v.IsNil():
		b.WriteString("null")
		return nil
	case v.Type() == durationType:
		return writeJSON(b, durationText(time.Duration(v.Int())))
	case v.Type().Implements(textMarshalerType):
		text, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return err
		}
		return writeJSON(b, string(text))
	}
	switch v.Kind() {
	case reflect.Pointer:
		return encodeJSON(b, v.Elem(), nil)
	case reflect.Struct:
		return encodeStruct(b, v, skip)
	case reflect.Slice:
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := encodeJSON(b, v.Index(i), nil); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case reflect.Int, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
		return nil
	case reflect.Uint64:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
		return nil
	}
	return writeJSON(b, v.Interface())
}

func encodeStruct(b *bytes.Buffer, v reflect.Value, skip func(string) bool) error {
	b.WriteByte('{')
	first := true
	for i := range v.NumField() {
		f := v.Type().Field(i)
		key, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		fv := v.Field(i)
		if !f.IsExported() || key == "" || key == "-" || (skip != nil && skip(key)) ||
			((fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Slice) && fv.IsNil()) ||
			(opts == "omitempty" && fv.IsZero()) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		if err := writeJSON(b, key); err != nil {
			return err
		}
		b.WriteByte(':')
		if err := encodeJSON(b, fv, nil); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}

// writeJSON writes v without escaping <, > and &, which thresholds use.
func writeJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode's newline
	return nil
}

// durationText writes d as time.Duration.String does, without the zero
// units it leaves at the end: "1m" rather than "1m0s".
func durationText(d time.Duration) string {
	t := d.String()
	if strings.HasSuffix(t, "m0s") {
		t = strings.TrimSuffix(t, "0s")
	}
	if strings.HasSuffix(t, "h0m") {
		t = strings.TrimSuffix(t, "0m")
	}
	return t
}
