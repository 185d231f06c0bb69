package serve

import (
	"embed"
	"io/fs"
	"net/http"
)

// static holds the web page: plain HTML, CSS and JavaScript that talk to
// the API on the same server and load nothing from elsewhere.
//
//go:embed static
var static embed.FS

func staticHandler() http.Handler {
	sub, _ := fs.Sub(static, "static")
	return http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	b, err := static.ReadFile("static/index.html")
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, "page missing: %v", err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'")
	w.Write(b)
}
