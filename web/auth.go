package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// token is the secret a Server with a token requires. Only its hash is
// kept: comparing hashes in constant time hides the token's length too.
type token struct{ sum [sha256.Size]byte }

func newToken(s string) *token { return &token{sum: sha256.Sum256([]byte(s))} }

func (t *token) match(s string) bool {
	got := sha256.Sum256([]byte(s))
	return subtle.ConstantTimeCompare(got[:], t.sum[:]) == 1
}

// requestToken is the token a request carries: an "Authorization: Bearer"
// header, or else the token query parameter.
func requestToken(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if scheme, tok, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	return r.URL.Query().Get("token")
}

// private requires the token, when the Server has one.
func (s *Server) private(next http.Handler) http.Handler {
	if s.token == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.token.match(requestToken(r)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="m2msim live view"`)
			http.Error(w, "unauthorized: open the URL m2msim printed, with its ?token=", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Content-Security-Policy of the page: nothing from anywhere but the
// server itself (its own ws:// and wss:// included under 'self'), no
// inline script or style, no framing.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Content-Security-Policy of the finished report: a self-contained
// document with inline styles, scripts and data: images, and still
// nothing remote and no connection anywhere.
const reportCSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
	"img-src 'self' data:; font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// secure sets the security headers of every response and, without a
// token, refuses a Host that is not loopback (DNS rebinding).
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		if s.token == nil && !loopbackHost(r.Host) {
			http.Error(w, "forbidden: the live view answers to a loopback host name only", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names loopback: localhost or
// a loopback IP, with or without a port.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkOrigin accepts a WebSocket whose Origin names the Host it asked
// for, or that has no Origin (not a browser: it reaches here only once the
// token, if any, has matched).
func checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}
