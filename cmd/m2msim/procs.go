package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/m2msim/m2msim/internal/procs"
)

// procsValue is --procs: auto (0) or a fixed number of cores.
type procsValue struct{ p *int }

func (v procsValue) String() string {
	if v.p == nil || *v.p == 0 {
		return "auto"
	}
	return strconv.Itoa(*v.p)
}

func (v procsValue) Set(s string) error {
	if s == "auto" {
		*v.p = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 4096 {
		return fmt.Errorf("%q: want auto or a number of cores from 1 to 4096", s)
	}
	*v.p = n
	return nil
}

// governProcs holds GOMAXPROCS for a run: n cores when given, what
// $GOMAXPROCS says when set, else sized to the load (package procs).
func governProcs(n int) *procs.Governor {
	switch {
	case n > 0:
		return procs.Fixed(n)
	case os.Getenv("GOMAXPROCS") != "":
		return procs.Fixed(0)
	}
	return procs.Auto(processCPU)
}
