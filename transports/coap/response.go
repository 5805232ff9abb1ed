package coap

// ResponseError is an error response (class 4 or 5) taken as the failure
// of the request it answers, for callers that count failures by kind.
type ResponseError struct {
	Code Code
}

// Error names the code.
func (e *ResponseError) Error() string { return "coap: error response " + e.Code.String() }

// Kind returns "coap_" and the code with an underscore for its dot
// ("coap_4_04"): a label that also passes as a metric name.
func (e *ResponseError) Kind() string { return CodeLabel(e.Code) }

// CodeLabel names a code for counts by code: "coap_2_05".
func CodeLabel(c Code) string {
	s := []byte("coap_" + c.String())
	s[6] = '_'
	return string(s)
}
