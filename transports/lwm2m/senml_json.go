package lwm2m

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/m2msim/m2msim/transports/coap"
)

// appendSenMLJSON writes records as a SenML JSON array, compact, keys in
// the order bn, n, t, value.
func appendSenMLJSON(dst []byte, base Path, recs []Record) ([]byte, error) {
	hasBN, bnOnly := senmlNames(base, recs)
	dst = append(dst, '[')
	for i, r := range recs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		sep := false
		if i == 0 && hasBN {
			dst = append(appendSenMLBaseName(append(dst, `"bn":"`...), base, bnOnly), '"')
			sep = true
		}
		if !bnOnly {
			dst = appendJSONKey(dst, "n", sep)
			dst = append(appendSenMLName(append(dst, '"'), base, r.Path), '"')
			sep = true
		}
		if r.Time != 0 {
			if !finite(r.Time) {
				return dst, codeErr(coap.NotAcceptable, "senml json: time of %v is not finite", r.Path)
			}
			dst = strconv.AppendFloat(appendJSONKey(dst, "t", sep), r.Time, 'f', -1, 64)
			sep = true
		}
		var err error
		if dst, err = appendJSONValue(dst, r, sep); err != nil {
			return dst, err
		}
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}

func appendJSONKey(b []byte, key string, sep bool) []byte {
	if sep {
		b = append(b, ',')
	}
	return append(append(append(b, '"'), key...), `":`...)
}

func appendJSONValue(b []byte, r Record, sep bool) ([]byte, error) {
	v := r.Value
	switch v.typ {
	case TypeInteger, TypeTime, TypeUnsigned:
		return v.AppendText(appendJSONKey(b, "v", sep)), nil
	case TypeFloat:
		if !finite(v.Float()) {
			return b, codeErr(coap.NotAcceptable, "senml json: %v is not finite", r.Path)
		}
		return v.AppendText(appendJSONKey(b, "v", sep)), nil
	case TypeBoolean:
		return strconv.AppendBool(appendJSONKey(b, "vb", sep), v.Bool()), nil
	case TypeString, TypeCorelnk:
		return appendJSONString(appendJSONKey(b, "vs", sep), v.s), nil
	case TypeOpaque:
		b = append(appendJSONKey(b, "vd", sep), '"')
		return append(base64.RawURLEncoding.AppendEncode(b, []byte(v.s)), '"'), nil
	case TypeObjlnk:
		b = append(appendJSONKey(b, "vlo", sep), '"')
		return append(v.AppendText(b), '"'), nil
	}
	return b, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD as
// encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\ufffd"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}

// jsonRecord is a SenML JSON record; pointers tell absent keys from zero
// values.
type jsonRecord struct {
	BN  *string      `json:"bn"`
	BT  *json.Number `json:"bt"`
	N   *string      `json:"n"`
	T   *json.Number `json:"t"`
	V   *json.Number `json:"v"`
	VS  *string      `json:"vs"`
	VB  *bool        `json:"vb"`
	VD  *string      `json:"vd"`
	VLO *string      `json:"vlo"`
}

func decodeSenMLJSON(target Path, payload []byte, types TypeFunc) ([]Record, error) {
	var in []jsonRecord
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&in); err != nil {
		return nil, badRequest("senml json: %v", err)
	}
	if dec.More() {
		return nil, badRequest("senml json: data after the array")
	}
	recs := make([]senmlRecord, len(in))
	for i := range in {
		if err := in[i].convert(&recs[i]); err != nil {
			return nil, err
		}
	}
	return resolveSenML(target, recs, types)
}

func (j *jsonRecord) convert(r *senmlRecord) error {
	r.bn, r.n, r.vs, r.vb, r.vdBase64, r.vlo = j.BN, j.N, j.VS, j.VB, j.VD, j.VLO
	var err error
	if r.bt, err = jsonFloat(j.BT, "bt"); err != nil {
		return err
	}
	if r.t, err = jsonFloat(j.T, "t"); err != nil {
		return err
	}
	if j.V != nil {
		if r.num, err = jsonNumber(*j.V); err != nil {
			return err
		}
	}
	if values(j.V != nil, j.VS != nil, j.VB != nil, j.VD != nil, j.VLO != nil) > 1 {
		return badRequest("senml json: a record with more than one value")
	}
	return nil
}

func values(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}

func jsonFloat(n *json.Number, key string) (*float64, error) {
	if n == nil {
		return nil, nil
	}
	f, err := strconv.ParseFloat(string(*n), 64)
	if err != nil || !finite(f) {
		return nil, badRequest("senml json: %s %q is not a number", key, clip(string(*n)))
	}
	return &f, nil
}

// jsonNumber keeps integers exact: a JSON integer beyond 2^53 is still an
// exact Integer or Unsigned.
func jsonNumber(n json.Number) (*senmlNumber, error) {
	s := string(n)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return &senmlNumber{kind: 'i', i: i}, nil
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		return &senmlNumber{kind: 'u', u: u}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !finite(f) {
		return nil, badRequest("senml json: v %q is not a number", clip(s))
	}
	return &senmlNumber{kind: 'f', f: f}, nil
}
