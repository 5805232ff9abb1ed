package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// manifests holds every object of deploy/kubernetes, decoded strictly.
type manifests struct {
	configMaps map[string]*corev1.ConfigMap
	jobs       map[string]*batchv1.Job
	pvcs       map[string]*corev1.PersistentVolumeClaim
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := manifests{configMaps: map[string]*corev1.ConfigMap{}, jobs: map[string]*batchv1.Job{},
		pvcs: map[string]*corev1.PersistentVolumeClaim{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			if err := m.add(doc); err != nil {
				t.Errorf("%s document %d: %v", f, i+1, err)
			}
		}
	}
	return m
}

// add decodes one document into its API type, rejecting unknown fields.
func (m *manifests) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 ConfigMap":
		var o corev1.ConfigMap
		if err := yaml.UnmarshalStrict(doc, &o); err != nil {
			return err
		}
		m.configMaps[o.Name] = &o
	case "batch/v1 Job":
		var o batchv1.Job
		if err := yaml.UnmarshalStrict(doc, &o); err != nil {
			return err
		}
		m.jobs[o.Name] = &o
	case "v1 PersistentVolumeClaim":
		var o corev1.PersistentVolumeClaim
		if err := yaml.UnmarshalStrict(doc, &o); err != nil {
			return err
		}
		m.pvcs[o.Name] = &o
	default:
		return &unknownKind{tm.APIVersion, tm.Kind}
	}
	return nil
}

type unknownKind struct{ apiVersion, kind string }

func (u *unknownKind) Error() string {
	return "unexpected object " + u.apiVersion + " " + u.kind
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	shards := m.jobs["m2msim-shards"]
	merge := m.jobs["m2msim-merge"]
	if shards == nil || merge == nil || m.configMaps["m2msim-scenario"] == nil || m.pvcs["m2msim-results"] == nil {
		t.Fatalf("want the shards and merge Jobs, the scenario ConfigMap and the results PVC; have jobs %v", keys(m.jobs))
	}
	s := shards.Spec
	n := shardsFlag(t, s.Template.Spec.Containers[0].Command)
	switch {
	case s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion:
		t.Errorf("m2msim-shards is not an Indexed Job")
	case s.Completions == nil || s.Parallelism == nil || int(*s.Completions) != n || int(*s.Parallelism) != n:
		t.Errorf("completions %v, parallelism %v, want both --shards %d", s.Completions, s.Parallelism, n)
	case s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever:
		t.Errorf("restartPolicy %q: a restarted shard would run its part twice", s.Template.Spec.RestartPolicy)
	}
	if got := len(mergeInputs(merge)); got != n {
		t.Errorf("the merge Job merges %d results, want %d", got, n)
	}
	if _, ok := m.configMaps["m2msim-start"].Data["start-at"]; !ok {
		t.Error("no m2msim-start ConfigMap with start-at")
	}
	checkScenarioParses(t, "m2msim-scenario", m.configMaps["m2msim-scenario"].Data["scenario.yaml"])
	docker, err := os.ReadFile("kubernetes/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []string
	for _, l := range strings.Split(string(docker), "\n") {
		if strings.HasPrefix(l, "FROM ") {
			froms = append(froms, l)
		}
	}
	d := string(docker)
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "FROM golang:") || !strings.Contains(froms[1], "distroless") ||
		!strings.Contains(d, "./cmd/m2msim") || !strings.Contains(d, "/usr/local/bin/m2msim") {
		t.Errorf("Dockerfile: want a golang build stage building ./cmd/m2msim and a distroless stage with /usr/local/bin/m2msim:\n%s", d)
	}
}

func mergeInputs(j *batchv1.Job) []string {
	var in []string
	for _, a := range j.Spec.Template.Spec.Containers[0].Command {
		if strings.HasSuffix(a, "result.json") {
			in = append(in, a)
		}
	}
	return in
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

// TestKubernetesCommandLinesRun runs the Jobs' exact container commands
// as local processes: /scenario and /results mapped to temporary
// directories, the live view on a free loopback port instead of
// 0.0.0.0:9090, JOB_COMPLETION_INDEX set per process as the Job
// controller does, env taken from the ConfigMap (the start time moved to
// a few seconds from now) and a test Secret.
func TestKubernetesCommandLinesRun(t *testing.T) {
	m := loadManifests(t)
	bin := m2msim(t)
	tmp := t.TempDir()
	scenarioDir, results := filepath.Join(tmp, "scenario"), filepath.Join(tmp, "results")
	for _, d := range []string{scenarioDir, results} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(scenarioDir, "scenario.yaml"), []byte(testScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	mapArg := func(a string) string {
		switch {
		case a == "m2msim":
			return bin
		case a == "0.0.0.0:9090":
			return "127.0.0.1:0"
		}
		a = strings.Replace(a, "/scenario", scenarioDir, 1)
		return strings.Replace(a, "/results", results, 1)
	}
	job := m.jobs["m2msim-shards"]
	c := job.Spec.Template.Spec.Containers[0]
	startAt := time.Now().Add(4 * time.Second).UTC().Format(time.RFC3339)
	var ps []proc
	for i := range int(*job.Spec.Completions) {
		env := map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(i)}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
				if e.Name != "JOB_COMPLETION_INDEX" || !strings.Contains(e.ValueFrom.FieldRef.FieldPath, "job-completion-index") {
					t.Errorf("env %s from %s: only the completion index is expected from the pod", e.Name, e.ValueFrom.FieldRef.FieldPath)
				}
			case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && e.Name == "M2MSIM_START_AT":
				env[e.Name] = startAt
			case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
				env[e.Name] = m.configMaps[e.ValueFrom.ConfigMapKeyRef.Name].Data[e.ValueFrom.ConfigMapKeyRef.Key]
			case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
				env[e.Name] = "test-token"
			default:
				env[e.Name] = e.Value
			}
		}
		p := proc{dir: tmp}
		for k, v := range env {
			p.env = append(p.env, k+"="+v)
		}
		for _, a := range c.Command {
			p.args = append(p.args, mapArg(expand(a, env)))
		}
		ps = append(ps, p)
	}
	codes, outs := runAll(t, 60*time.Second, ps)
	for i, code := range codes {
		if code != 0 {
			t.Fatalf("shard %d: exit %d\n%s", i, code, outs[i])
		}
	}
	var merge proc
	merge.dir = tmp
	for _, a := range m.jobs["m2msim-merge"].Spec.Template.Spec.Containers[0].Command {
		merge.args = append(merge.args, mapArg(a))
	}
	codes, outs = runAll(t, 30*time.Second, []proc{merge})
	if codes[0] != 0 {
		t.Fatalf("merge: exit %d\n%s", codes[0], outs[0])
	}
	readMerged(t, filepath.Join(results, "merged", "result.json"), len(ps))
}
