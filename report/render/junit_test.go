package render

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/m2msim/m2msim/internal/golden"
)

func TestJUnitGolden(t *testing.T) {
	for _, f := range fixtures {
		var b bytes.Buffer
		if err := JUnit(&b, f.in().Result); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, "junit"+f.name+".golden.xml", b.Bytes())
	}
}

// junitDoc is what a CI system reads of junit.xml.
type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Time     string `xml:"time,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Class   string `xml:"classname,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestJUnitCounts(t *testing.T) {
	interrupted := fixtureInput().Result
	interrupted.Status = "interrupted"
	aborted := minimalInput().Result
	aborted.Status = "aborted"
	tests := []struct {
		name            string
		in              func() Input
		tests, failures int
		failed          []string
	}{
		{"fixture", fixtureInput, 4, 1, []string{"measured 160.2ms against limit < 100ms"}},
		{"no thresholds", minimalInput, 1, 0, nil},
		{"no thresholds, aborted", func() Input { return Input{Result: aborted} }, 1, 1, []string{"run aborted after 2s"}},
		{"interrupted", func() Input { return Input{Result: interrupted} }, 5, 2,
			[]string{"measured 160.2ms against limit < 100ms", "run interrupted after 2m0.412s of 2m0s planned"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := JUnit(&b, tt.in().Result); err != nil {
				t.Fatal(err)
			}
			var doc junitDoc
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
				t.Fatalf("junit.xml is not valid XML: %v\n%s", err, b.Bytes())
			}
			s := doc.Suites[0]
			if doc.Tests != tt.tests || s.Tests != tt.tests || len(s.Cases) != tt.tests {
				t.Errorf("tests = %d, suite %d, cases %d; want %d", doc.Tests, s.Tests, len(s.Cases), tt.tests)
			}
			if doc.Failures != tt.failures || s.Failures != tt.failures {
				t.Errorf("failures = %d, suite %d; want %d", doc.Failures, s.Failures, tt.failures)
			}
			var failed []string
			for _, c := range s.Cases {
				if c.Failure != nil {
					failed = append(failed, c.Failure.Message)
				}
			}
			if strings.Join(failed, "|") != strings.Join(tt.failed, "|") {
				t.Errorf("failure messages = %q, want %q", failed, tt.failed)
			}
		})
	}
}
