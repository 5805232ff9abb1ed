package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// assets are the page, its script and style, and the vendored uPlot.
//
//go:embed assets/index.html assets/app.js assets/app.css assets/vendor/uplot
var assets embed.FS

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", s.private(http.HandlerFunc(servePage)))
	mux.Handle("GET /ws", s.private(http.HandlerFunc(s.handleWS)))
	mux.Handle("GET /report", s.private(http.HandlerFunc(s.handleReport)))
	mux.Handle("GET /metrics", s.private(s.metricsHandler()))
	mux.Handle("GET /assets/", serveAssets())
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	return s.secure(mux)
}

func servePage(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(assets, "assets/index.html")
	if err != nil {
		http.Error(w, "page missing from the binary", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

// serveAssets serves the embedded files, without directory listings.
func serveAssets() http.Handler {
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// handleReport serves the report Finish was given, or 404 before.
func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	b := s.hub.report.Load()
	if b == nil {
		http.Error(w, "the run is not finished: its report is not written yet", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Security-Policy", reportCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(*b)
}
