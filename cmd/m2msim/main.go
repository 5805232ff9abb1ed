// Command m2msim simulates fleets of M2M devices against real servers and
// reports how the servers held up. Run "m2msim help" for usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Exit codes are part of the CLI contract: CI scripts branch on them.
const (
	exitOK          = 0
	exitThreshold   = 1
	exitUsage       = 2
	exitAborted     = 3
	exitInterrupted = 130
)

// exitError carries an exit code with the error that caused it.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// errSilent marks an exit whose reasons were already printed.
var errSilent = errors.New("")

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	if len(os.Args) > 1 && os.Args[1] == "run" {
		// Only a run has something to save; other commands keep Go's
		// default and end at the first signal.
		sigs := make(chan os.Signal, 3)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		go watchSignals(sigs, cancel, func(in *interrupt) {
			fmt.Fprintln(os.Stderr, in.exitLine())
			os.Exit(exitAborted)
		})
	}
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	code := exitUsage
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "m2msim: %s\n", msg)
	}
	return code
}

// commands are the command names, in the order help lists them.
var commands = []string{"run", "report", "validate", "radios", "version", "help"}

// run is the whole program but for process-level concerns (signals,
// exit). A run's context ends at the first interrupt; its cause is then
// an *interrupt, which a second one escalates to an abort.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainHelp)
		return &exitError{code: exitUsage, err: errSilent}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return runCmd(ctx, rest, stdout, stderr)
	case "validate":
		return validateCmd(rest, stdout, stderr)
	case "report":
		return reportCmd(rest, stdout, stderr)
	case "radios":
		return radiosCmd(rest, stdout)
	case "version", "--version":
		return versionCmd(rest, stdout)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" && !strings.HasPrefix(rest[0], "-") {
			if !slices.Contains(commands, rest[0]) {
				return unknownCommand(rest[0])
			}
			return run(ctx, []string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, mainHelp)
		return nil
	default:
		return unknownCommand(cmd)
	}
}

// unknownCommand names the nearest command, or lists them all.
func unknownCommand(name string) error {
	if near, ok := nearest(name, commands); ok {
		return usageErr("unknown command %q (did you mean %q?)", name, near)
	}
	return usageErr("unknown command %q (commands: run, report, validate, radios, version, help; see: m2msim help)", name)
}
