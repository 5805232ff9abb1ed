package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// workflow holds the GitHub Actions keys m2msim-shards.yml uses; decoding
// with KnownFields rejects any other, so a misspelt key fails here.
type workflow struct {
	Name string            `yaml:"name"`
	On   map[string]any    `yaml:"on"`
	Env  map[string]string `yaml:"env"`
	Jobs map[string]ghJob  `yaml:"jobs"`
}

type ghJob struct {
	Needs    string            `yaml:"needs"`
	RunsOn   string            `yaml:"runs-on"`
	Outputs  map[string]string `yaml:"outputs"`
	Strategy *struct {
		FailFast bool `yaml:"fail-fast"`
		Matrix   struct {
			Shard []int `yaml:"shard"`
		} `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []ghStep `yaml:"steps"`
}

type ghStep struct {
	ID   string            `yaml:"id"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
	Run  string            `yaml:"run"`
}

func loadWorkflow(t *testing.T) workflow {
	t.Helper()
	data, err := os.ReadFile("github-actions/m2msim-shards.yml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var w workflow
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("m2msim-shards.yml: %v", err)
	}
	return w
}

func TestWorkflowShape(t *testing.T) {
	w := loadWorkflow(t)
	shard, merge, start := w.Jobs["shard"], w.Jobs["merge"], w.Jobs["start"]
	n, err := strconv.Atoi(w.Env["SHARDS"])
	switch {
	case err != nil:
		t.Fatalf("env SHARDS %q: %v", w.Env["SHARDS"], err)
	case shard.Strategy == nil || len(shard.Strategy.Matrix.Shard) != n:
		t.Fatalf("the shard matrix does not have SHARDS=%d entries", n)
	case shard.Strategy.FailFast:
		t.Error("fail-fast: one shard's failure would cancel the others")
	case merge.Needs != "shard" || shard.Needs != "start":
		t.Errorf("needs: merge %q, shard %q; want merge after shard after start", merge.Needs, shard.Needs)
	case start.Outputs["start-at"] == "":
		t.Error("the start job gives no start-at")
	}
	for i, s := range shard.Strategy.Matrix.Shard {
		if s != i {
			t.Errorf("matrix shard %d is %d: want 0..%d", i, s, n-1)
		}
	}
	uploads := func(j ghJob) []string {
		var names []string
		for _, s := range j.Steps {
			if strings.HasPrefix(s.Uses, "actions/upload-artifact@") {
				names = append(names, s.With["name"])
			}
		}
		return names
	}
	if u := uploads(shard); len(u) != 1 || !strings.HasPrefix(u[0], "shard-") {
		t.Errorf("shard uploads %v, want one artefact shard-N", u)
	}
	if u := uploads(merge); len(u) != 1 {
		t.Errorf("merge uploads %v, want the merged report", u)
	}
	if !slices.ContainsFunc(merge.Steps, func(s ghStep) bool {
		return strings.HasPrefix(s.Uses, "actions/download-artifact@") && s.With["pattern"] == "shard-*" && s.With["path"] == "out"
	}) {
		t.Error("merge does not download the shard-* artefacts into out/")
	}
}

// TestWorkflowRunLinesRun runs the workflow's run: lines locally in one
// working directory, as the runners would with the artefacts moved
// between them: the start job's (its 3 minutes made 3 seconds), each
// matrix entry's, then the merge job's. Steps that use actions and the
// go build lines are replaced by the binary the test built; SCENARIO
// names the test's scenario.
func TestWorkflowRunLinesRun(t *testing.T) {
	w := loadWorkflow(t)
	bin := m2msim(t)
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "m2msim")); err != nil {
		t.Fatal(err)
	}
	scenario := filepath.Join(dir, "scenario.yaml")
	if err := os.WriteFile(scenario, []byte(testScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	outputs := filepath.Join(dir, "github-output")
	env := []string{"SCENARIO=" + scenario, "SHARDS=" + w.Env["SHARDS"], "GITHUB_OUTPUT=" + outputs}
	shell := func(run string) proc {
		return proc{args: []string{"bash", "-eo", "pipefail", "-c", run}, env: env, dir: dir}
	}

	start := w.Jobs["start"].Steps[0].Run
	start = strings.Replace(start, "+3 minutes", "+3 seconds", 1)
	if codes, outs := runAll(t, 10*time.Second, []proc{shell(start)}); codes[0] != 0 {
		t.Fatalf("start job: exit %d\n%s", codes[0], outs[0])
	}
	out, _ := os.ReadFile(outputs)
	startAt, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "start-at=")
	if _, err := time.Parse(time.RFC3339, startAt); !ok || err != nil {
		t.Fatalf("start job's output %q is no start-at=TIME", out)
	}

	var ps []proc
	for _, s := range w.Jobs["shard"].Strategy.Matrix.Shard {
		for _, run := range runLines(w.Jobs["shard"]) {
			run = strings.ReplaceAll(run, "${{ matrix.shard }}", strconv.Itoa(s))
			run = strings.ReplaceAll(run, "${{ needs.start.outputs.start-at }}", startAt)
			ps = append(ps, shell(run))
		}
	}
	codes, outs := runAll(t, 60*time.Second, ps)
	for i, c := range codes {
		if c != 0 {
			t.Fatalf("shard step %d: exit %d\n%s", i, c, outs[i])
		}
	}
	for _, run := range runLines(w.Jobs["merge"]) {
		if codes, outs := runAll(t, 30*time.Second, []proc{shell(run)}); codes[0] != 0 {
			t.Fatalf("merge step %q: exit %d\n%s", run, codes[0], outs[0])
		}
	}
	readMerged(t, filepath.Join(dir, "out", "merged", "result.json"), len(ps))
}

// runLines are a job's run: lines but its go build.
func runLines(j ghJob) []string {
	var lines []string
	for _, s := range j.Steps {
		if s.Run != "" && !strings.HasPrefix(s.Run, "go build") {
			lines = append(lines, s.Run)
		}
	}
	return lines
}
