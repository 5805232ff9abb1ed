package render

// fixtures are the inputs kept as golden files, by name.
var fixtures = []struct {
	name string
	in   func() Input
}{{"", fixtureInput}, {"-minimal", minimalInput}}
