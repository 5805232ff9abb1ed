package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVersionText(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "66e96f6df3852764a8ccd851880c55ba1806769b"
	unknown := "revision unknown: this build records none (go run, -buildvcs=false, a build outside\n" +
		"  a git checkout, or in a git worktree: golang/go#58218)\n"
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "m2msim (devel)\n" + unknown + "unknown Go version linux/amd64\n"},
		{"go run", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"m2msim (devel)\n" + unknown + "go1.26.8 linux/amd64\n"},
		{"go install @version", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}},
			"m2msim v1.2.3\n" + unknown + "go1.26.8 linux/amd64\n"},
		{"clean checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261129172521-66e96f6df385"},
			Settings: vcs("vcs", "git", "vcs.revision", rev, "vcs.time", "2026-11-29T17:25:21Z", "vcs.modified", "false")},
			"m2msim v0.0.0-20261129172521-66e96f6df385\nrevision " + rev + ", committed 2026-11-29T17:25:21Z, no uncommitted changes\ngo1.26.8 linux/amd64\n"},
		{"modified checkout", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261129172521-66e96f6df385+dirty"},
			Settings: vcs("vcs.revision", rev, "vcs.time", "2026-11-29T17:25:21Z", "vcs.modified", "true")},
			"m2msim v0.0.0-20261129172521-66e96f6df385+dirty\nrevision " + rev + ", committed 2026-11-29T17:25:21Z, with uncommitted changes\ngo1.26.8 linux/amd64\n"},
		{"revision alone", &debug.BuildInfo{GoVersion: "go1.26.8", Settings: vcs("vcs.revision", rev)},
			"m2msim (devel)\nrevision " + rev + "\ngo1.26.8 linux/amd64\n"},
	} {
		if got := versionText(tc.bi, "linux/amd64"); got != tc.want {
			t.Errorf("versionText(%s) =\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

// The binary built with go build in this checkout reports the checkout's
// revision and modified state, or says it has none: Go stamps nothing
// in a git worktree (golang/go#58218) or with -buildvcs=false.
func TestVersionOfBinaryBuiltHere(t *testing.T) {
	requireGit(t)
	out := runVersion(t, m2msimBinary(t))
	rev, modified, stamped := parseVersion(out)
	if !stamped {
		if !strings.Contains(out, "revision unknown") {
			t.Errorf("version without a revision does not say so:\n%s", out)
		}
		t.Logf("this build records no revision (a git worktree, or -buildvcs=false in go env GOFLAGS); stamping is checked in TestVersionOfGitCheckout")
		return
	}
	if head := gitOutput(t, ".", "rev-parse", "HEAD"); rev != head {
		t.Errorf("version says revision %s, git rev-parse HEAD says %s", rev, head)
	}
	if dirty := gitOutput(t, ".", "status", "--porcelain") != ""; modified != dirty {
		t.Errorf("version says modified %v, git status says %v", modified, dirty)
	}
}

// In a git checkout of this tree (a copy of it, committed), a binary
// built with VCS stamping reports the commit and its time, and then that
// the tree was modified.
func TestVersionOfGitCheckout(t *testing.T) {
	requireGit(t)
	root := gitOutput(t, ".", "rev-parse", "--show-toplevel")
	dir := t.TempDir()
	for _, f := range strings.Split(gitOutput(t, root, "ls-files", "--cached", "--others", "--exclude-standard"), "\n") {
		b, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		return gitOutput(t, dir, append([]string{"-c", "user.name=test", "-c", "user.email=test@example.com"}, args...)...)
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "copy of the tree under test")
	head := git("rev-parse", "HEAD")
	secs, _ := strconv.ParseInt(git("show", "-s", "--format=%ct"), 10, 64)
	when := time.Unix(secs, 0).UTC().Format(time.RFC3339)

	cmdDir := filepath.Join(dir, "cmd", "m2msim")
	bin := filepath.Join(t.TempDir(), "m2msim")
	build := func() string {
		if out, err := goBuild(cmdDir, bin, "-buildvcs=true"); err != nil {
			t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
		}
		return runVersion(t, bin)
	}
	out := build()
	if want := "revision " + head + ", committed " + when + ", no uncommitted changes\n"; !strings.Contains(out, want) {
		t.Errorf("version in a clean checkout:\n%s\nwant the line %q", out, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = build()
	if want := "revision " + head + ", committed " + when + ", with uncommitted changes\n"; !strings.Contains(out, want) {
		t.Errorf("version in a modified checkout:\n%s\nwant the line %q", out, want)
	}
}

func requireGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git not installed; CI requires it")
		}
		t.Skip("git not installed")
	}
	if err := exec.Command("git", "rev-parse", "--git-dir").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("not in a git checkout; CI runs from a clone")
		}
		t.Skip("not in a git checkout")
	}
}

func runVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, out)
	}
	return string(out)
}

// parseVersion reads the revision line of m2msim version's output.
func parseVersion(out string) (rev string, modified, ok bool) {
	for _, line := range strings.Split(out, "\n") {
		rest, found := strings.CutPrefix(line, "revision ")
		if !found || strings.HasPrefix(rest, "unknown") {
			continue
		}
		rev, _, _ = strings.Cut(rest, ",")
		return rev, strings.Contains(rest, "with uncommitted changes"), true
	}
	return "", false, false
}
