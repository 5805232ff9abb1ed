// Package nginxtest runs Debian's nginx for tests: a subprocess on a free
// loopback port, with its own configuration in t.TempDir(), reverse
// proxying HTTP and WebSocket to an upstream the test serves, optionally
// terminating TLS (and verifying client certificates) on the way.
//
// It is the real reverse proxy that many deployments put in front of
// their HTTP APIs, WebSocket endpoints and MQTT-over-WebSocket brokers.
package nginxtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/m2msim/m2msim/internal/tail"
)

// startTimeout bounds how long nginx may take to accept connections.
const startTimeout = 10 * time.Second

// Options configures the proxy. Only Upstream is required.
type Options struct {
	// Upstream is the host:port nginx proxies every request to.
	Upstream string
	// CertFile and KeyFile, both set, make the listener TLS (PEM files).
	CertFile, KeyFile string
	// ClientCAFile, with TLS, makes nginx require a client certificate
	// signed by this CA (ssl_verify_client on).
	ClientCAFile string
	// WorkerConnections bounds each worker's open connections, both
	// sides of the proxy counted (default 4096; at most about 9,000 for
	// the default two workers under a 20,000 open-file limit).
	WorkerConnections int
	// Workers is worker_processes (default 2).
	Workers int
	// Location holds extra directives for the proxied location, such as
	// "proxy_read_timeout 5s;".
	Location []string
}

// Nginx is one nginx master process and its workers.
type Nginx struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	log  *tail.Buffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{}
}

// Binary finds nginx or ends the test: a skip when not in CI, a failure
// in CI (where .ci/servers installs it).
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("CI") == "" {
		t.Skip("nginx not installed: run .ci/servers (or apt-get install nginx)")
	}
	t.Fatal("nginx not installed: run .ci/servers (or apt-get install nginx); CI requires it")
	return ""
}

// Start runs nginx proxying to o.Upstream and returns once it accepts
// connections; t.Cleanup stops it. Its log is shown when the test fails.
func Start(t testing.TB, o Options) *Nginx {
	t.Helper()
	n := &Nginx{t: t, bin: Binary(t), dir: t.TempDir(), log: &tail.Buffer{Max: 256 << 10}}
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			t.Logf("nginx log:\n%s", n.log.String())
		}
	})
	var err error
	for range 5 { // a free port can be taken between probing and binding
		if n.port, err = freePort(); err != nil {
			break
		}
		if err = os.WriteFile(n.conf(), []byte(config(n.dir, n.port, o)), 0o600); err != nil {
			break
		}
		if err = n.start(); err == nil || !strings.Contains(n.log.String(), "in use") {
			break
		}
	}
	if err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	return n
}

// Addr is the proxy's host:port.
func (n *Nginx) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port)) }

// PID is the master process's id, or 0 once stopped.
func (n *Nginx) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Log is what nginx has written to its error log so far.
func (n *Nginx) Log() string { return n.log.String() }

func (n *Nginx) conf() string { return filepath.Join(n.dir, "nginx.conf") }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// config is nginx.conf: in the foreground, every file in dir, no access
// log, HTTP/1.1 with keepalive to the upstream, and WebSocket upgrades
// passed through.
func config(dir string, port int, o Options) string {
	workers, conns := o.Workers, o.WorkerConnections
	if workers <= 0 {
		workers = 2
	}
	if conns <= 0 {
		conns = 4096
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		// As root the workers would switch to nobody, who cannot read
		// t.TempDir(): stay the user who runs the test.
		w("user root;")
	}
	w("daemon off;\nmaster_process on;\nworker_processes %d;", workers)
	w("worker_rlimit_nofile %d;", 2*conns+64)
	w("pid %s;", filepath.Join(dir, "nginx.pid"))
	w("error_log stderr warn;")
	w("events { worker_connections %d; }", conns)
	w("http {")
	w("  access_log off;")
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		w("  %s_temp_path %s;", t, filepath.Join(dir, t))
	}
	w("  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }")
	w("  upstream backend { server %s; keepalive 256; }", o.Upstream)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	w("  server {")
	if o.CertFile != "" && o.KeyFile != "" {
		w("    listen %s ssl;", listen)
		w("    ssl_certificate %s;\n    ssl_certificate_key %s;", o.CertFile, o.KeyFile)
		w("    ssl_session_cache shared:tls:10m;")
		if o.ClientCAFile != "" {
			w("    ssl_client_certificate %s;\n    ssl_verify_client on;", o.ClientCAFile)
		}
	} else {
		w("    listen %s;", listen)
	}
	w("    keepalive_requests 1000000;")
	w("    location / {")
	w("      proxy_pass http://backend;")
	w("      proxy_http_version 1.1;")
	w("      proxy_set_header Upgrade $http_upgrade;")
	w("      proxy_set_header Connection $connection_upgrade;")
	w("      proxy_set_header X-Forwarded-For $remote_addr;")
	w("      proxy_buffering off;")
	w("      proxy_read_timeout 1h;\n      proxy_send_timeout 1h;")
	for _, l := range o.Location {
		w("      %s", l)
	}
	w("    }\n  }\n}")
	return b.String()
}

// start launches the master and waits until the port accepts.
func (n *Nginx) start() error {
	cmd := exec.Command(n.bin, "-p", n.dir, "-c", n.conf(), "-e", "stderr")
	cmd.Stdout, cmd.Stderr = n.log, n.log
	// Its own process group: Stop signals the master, which takes its
	// workers with it; nothing else is ever signalled.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", n.bin, err)
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	n.mu.Lock()
	n.cmd, n.exit = cmd, exit
	n.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exit:
			return fmt.Errorf("nginx exited at start (%v); its log follows the test", cmd.ProcessState)
		default:
		}
		if c, err := net.DialTimeout("tcp", n.Addr(), time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.Stop()
	return fmt.Errorf("nginx did not accept on %s within %v", n.Addr(), startTimeout)
}

// Stop ends nginx by its master's pid (SIGTERM, a fast shutdown; SIGKILL
// to its process group after 5 s) and waits for it. Safe to call twice.
func (n *Nginx) Stop() {
	n.mu.Lock()
	cmd, exit := n.cmd, n.exit
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exit:
	case <-time.After(5 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exit
	}
}
