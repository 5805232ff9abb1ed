package main

import (
	"os"
	"strings"
	"testing"
)

// readmeTestCommand is the test command of the README's set-up block: the
// line of the first sh block that runs go test, without its comment.
func readmeTestCommand(t *testing.T, readme string) string {
	t.Helper()
	_, block, ok := strings.Cut(readme, "```sh\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok {
		t.Fatal("README.md has no sh block")
	}
	for _, line := range strings.Split(block, "\n") {
		if strings.Contains(line, "go test") {
			cmd, _, _ := strings.Cut(line, "#")
			return strings.TrimSpace(cmd)
		}
	}
	t.Fatalf("README.md's first sh block has no go test line:\n%s", block)
	return ""
}

// CI runs exactly what the README tells a newcomer to run, so that a
// green CI means the README's command passes.
func TestCIRunsREADMETestCommand(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	cmd := readmeTestCommand(t, string(readme))
	for _, line := range strings.Split(string(ci), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, cmd) {
			return
		}
	}
	t.Errorf("the README's test command %q does not appear in .ci/run:\n%s", cmd, ci)
}

func TestCIStopsNoProcessByName(t *testing.T) {
	for _, f := range []string{"../../.ci/run", "../../.ci/servers"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"pkill", "killall", "pidof", "kill -"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %q: stop processes by pid (or through the init system), never by name", f, bad)
			}
		}
	}
}
