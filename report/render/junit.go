package render

import (
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/m2msim/m2msim/report"
)

// errNoResult is returned for an Input without a Result.
var errNoResult = errors.New("no result to render")

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit writes r as junit.xml: one test suite named after the scenario,
// one test case per threshold (a failed one names what was measured
// against its limit), and a test case "run completed" when there is no
// threshold or the run was cut short, which fails for an interrupted or
// aborted run. The suite's time is the run's elapsed time; warnings go
// to system-out.
func JUnit(w io.Writer, r *report.Result) error {
	if r == nil {
		return fmt.Errorf("junit: %w", errNoResult)
	}
	s := junitSuiteOf(r)
	doc := junitSuites{Name: "m2msim", Tests: s.Tests, Failures: s.Failures, Time: s.Time, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

func junitSuiteOf(r *report.Result) junitSuite {
	name := r.Scenario.Name
	s := junitSuite{
		Name:       "m2msim: " + name,
		Time:       junitTime(r.ElapsedS),
		Properties: []junitProperty{{"seed", strconv.FormatUint(r.Seed, 10)}, {"status", string(r.Status)}},
		SystemOut:  strings.Join(r.Warnings, "\n"),
	}
	if r.Scenario.File != "" {
		s.Properties = append(s.Properties, junitProperty{"scenario_file", r.Scenario.File})
	}
	if !r.Started.IsZero() {
		s.Timestamp = r.Started.UTC().Format("2006-01-02T15:04:05")
	}
	for _, v := range verdicts(r) {
		s.Cases = append(s.Cases, thresholdCase(name, v))
	}
	if cut := cutShort(r.Status); cut || len(r.Thresholds) == 0 {
		s.Cases = append(s.Cases, completedCase(r, cut))
	}
	s.Tests = len(s.Cases)
	for _, c := range s.Cases {
		if c.Failure != nil {
			s.Failures++
		}
	}
	return s
}

func thresholdCase(class string, v verdict) junitCase {
	c := junitCase{Name: v.Expr, Classname: class, Time: junitTime(0)}
	if !v.Passed {
		c.Failure = &junitFailure{
			Message: fmt.Sprintf("measured %s against limit %s", v.Measured, cmp.Or(v.Limit, "(unreadable)")),
			Type:    "threshold",
			Text:    v.Reason,
		}
	}
	return c
}

// completedCase is the test case for the run itself: it fails when the
// run was cut short.
func completedCase(r *report.Result, cut bool) junitCase {
	c := junitCase{Name: "run completed", Classname: r.Scenario.Name, Time: junitTime(r.ElapsedS)}
	if cut {
		c.Failure = &junitFailure{
			Message: fmt.Sprintf("run %s after %s", r.Status, elapsed(r)),
			Type:    string(r.Status),
			Text:    fmt.Sprintf("The run was %s before its schedule ended; its figures cover %s.", r.Status, elapsed(r)),
		}
	}
	return c
}

// cutShort reports whether a run ended before its schedule did.
func cutShort(s report.Status) bool {
	return s == report.StatusInterrupted || s == report.StatusAborted
}

func junitTime(s float64) string {
	if !(s > 0) || math.IsInf(s, 0) {
		s = 0
	}
	return strconv.FormatFloat(s, 'f', 3, 64)
}
