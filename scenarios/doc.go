// Package scenarios loads m2msim scenario files: YAML, version 1, decoded
// strictly (unknown keys are problems), defaulted, then validated. Every
// problem found is reported at once, each with its file, line, column and
// YAML path, and a valid Scenario converts to a *sim.Plan.
//
// The YAML is parsed into a yaml.Node tree, which keeps positions, and the
// tree is decoded by a small reflective decoder of this package rather than
// yaml.Unmarshal, which stops at the first problem of a kind and loses
// columns.
package scenarios
