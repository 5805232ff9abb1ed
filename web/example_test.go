package web_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/web"
)

// run stands for the collector of a run.
type run struct{}

func (run) Live() report.Live              { return report.Live{Name: "demo", Phase: report.PhaseRunning} }
func (run) Points(from int) []report.Point { return nil }

func Example() {
	// Off loopback, the view needs a token.
	_, err := web.New(run{}, web.Options{Addr: ":8080"})
	fmt.Println(errors.Is(err, web.ErrTokenRequired))

	s, err := web.New(run{}, web.Options{Tick: time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	url, err := s.Start() // hand url to the person watching
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(url, "http://127.0.0.1:"))

	// ... the run goes on; when it is over and its report is written:
	s.Finish([]byte("<!doctype html><title>report</title>"))
	// ... keep serving while people read the report, then:
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(s.Close(ctx))
	// Output:
	// true
	// true
	// <nil>
}
