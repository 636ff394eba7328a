// CORS for long-polling: browsers read polling responses only with these headers.

package server

import (
	"net/http"
	"net/url"
	"strings"
)

// setCORS allows the request's Origin to read the response when --allowed-origins
// allows it. Credentials (the token cookie) are allowed only for a listed origin (or the
// node's own, with no list); "*" lets any page read without credentials. Foreign origins
// were refused before (checkOrigin).
func (s *Server) setCORS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if s.listedOrigin(r, origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	} else if s.anyOrig {
		h.Set("Access-Control-Allow-Origin", "*")
	}
}

// listedOrigin: origin is named in --allowed-origins, or, with no list, is the node's own.
func (s *Server) listedOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if len(s.origins) == 0 && !s.anyOrig {
		return strings.EqualFold(u.Host, r.Host)
	}
	return s.origins[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// servePreflight answers a CORS preflight (the origin was checked and setCORS ran).
func (s *Server) servePreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		h.Set("Access-Control-Allow-Headers", rh)
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}
