// Package deploy_test checks the files in deploy/: the Kubernetes
// manifests decode strictly into the API types, the GitHub Actions
// workflow into the keys it uses, and the command lines of both run, as
// local processes against m2msim's embedded broker, to a merged result.
// It is a package of its own so the Kubernetes modules stay test-only.
package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/m2msim/m2msim/report"
	"github.com/m2msim/m2msim/scenarios"
)

// testScenario is what the shards run here instead of the ConfigMap's
// (which targets a broker in the cluster): a small fleet on the embedded
// broker, with a seed the shards share.
const testScenario = `version: 1
name: deploy-test
seed: 7
duration: 6s
drain: 3s
target:
  broker: embedded
groups:
  - name: sensors
    count: 200
    connect: {rate: 1000/s}
    telemetry: {every: 500ms, qos: 1, size: 64B}
thresholds:
  - "latency.ack.p99 < 5s"
`

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "m2msim-deploy-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "m2msim")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/m2msim")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := buildOnce(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func m2msim(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// proc is one process started from a deploy file's command line.
type proc struct {
	args []string
	env  []string
	dir  string
}

// runAll runs the processes at once, each bounded by limit, and returns
// their exit codes and output.
func runAll(t *testing.T, limit time.Duration, ps []proc) ([]int, []string) {
	t.Helper()
	codes, outs := make([]int, len(ps)), make([]string, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), limit)
			defer cancel()
			cmd := exec.CommandContext(ctx, p.args[0], p.args[1:]...)
			cmd.Env, cmd.Dir = append(os.Environ(), p.env...), p.dir
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			codes[i], outs[i] = cmd.ProcessState.ExitCode(), out.String()
			if ctx.Err() != nil {
				codes[i], outs[i] = -1, fmt.Sprintf("did not finish within %s: %v\n%s", limit, err, outs[i])
			}
		})
	}
	wg.Wait()
	return codes, outs
}

func readMerged(t *testing.T, path string, shards int) *report.Result {
	t.Helper()
	r, err := report.ReadJSON(path)
	if err != nil {
		t.Fatalf("merged result: %v", err)
	}
	if len(r.Shards) != shards || r.Devices.Planned != 200 || r.Messages.Sent == 0 {
		t.Errorf("merged result: %d shards, %d devices planned, %d sent; want %d shards of 200 devices that sent",
			len(r.Shards), r.Devices.Planned, r.Messages.Sent, shards)
	}
	if r.Status != report.StatusPassed {
		t.Errorf("merged status %s, want passed", r.Status)
	}
	return r
}

var varRef = regexp.MustCompile(`\$\(([A-Z0-9_]+)\)`)

// expand replaces Kubernetes' $(VAR) references from env.
func expand(s string, env map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// checkScenarioParses: a scenario shipped in a deploy file is valid.
func checkScenarioParses(t *testing.T, name, body string) {
	t.Helper()
	if _, err := scenarios.Parse(name, []byte(body)); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func shardsFlag(t *testing.T, args []string) int {
	t.Helper()
	for i, a := range args {
		if (a == "--shards" || a == "--shard") && i+1 < len(args) {
			var n int
			v := args[i+1]
			if a == "--shard" {
				_, v, _ = strings.Cut(v, "/")
			}
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n
			}
		}
	}
	t.Fatalf("no --shards in %q", args)
	return 0
}
