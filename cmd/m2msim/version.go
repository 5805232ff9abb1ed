package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

func versionCmd(args []string, stdout io.Writer) error {
	pos, err := parseFlags(flag.NewFlagSet("version", flag.ContinueOnError), args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, versionHelp)
		return nil
	case err != nil:
		return usageErr("version: %v", err)
	case len(pos) > 0:
		return usageErr("version takes no arguments")
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprint(stdout, versionText(bi, runtime.GOOS+"/"+runtime.GOARCH))
	return nil
}

// versionText describes the build: the main module's version, the VCS
// revision, its commit time and whether the tree had uncommitted changes,
// and the Go version. What the build does not record it calls "(devel)"
// or "unknown" rather than guess.
func versionText(bi *debug.BuildInfo, platform string) string {
	v, goV := "(devel)", "unknown Go version"
	vcs := map[string]string{}
	if bi != nil {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		goV = bi.GoVersion
		for _, s := range bi.Settings {
			if k, ok := strings.CutPrefix(s.Key, "vcs."); ok {
				vcs[k] = s.Value
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "m2msim %s\n", v)
	rev, ok := vcs["revision"]
	if !ok {
		b.WriteString("revision unknown: this build records none (go run, -buildvcs=false, a build outside\n" +
			"  a git checkout, or in a git worktree: golang/go#58218)\n")
	} else {
		b.WriteString("revision " + rev)
		if t := vcs["time"]; t != "" {
			b.WriteString(", committed " + t)
		}
		switch vcs["modified"] {
		case "true":
			b.WriteString(", with uncommitted changes")
		case "false":
			b.WriteString(", no uncommitted changes")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s %s\n", goV, platform)
	return b.String()
}
