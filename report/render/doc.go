// Package render writes a finished run's reports for people and for CI:
// report.html (one self-contained page with inline SVG plots that opens
// offline), junit.xml (one test case per threshold), summary.md (GitHub
// Markdown for $GITHUB_STEP_SUMMARY) and timeseries.csv (one row per
// interval).
//
// Render only draws. It reads a report.Result, the run's timeline of
// report.Points and, for a staged run, a Capacity computed elsewhere; it
// computes no statistic of its own beyond the reductions a plot needs.
package render
