package platformtest

import "net/http"

// HandlerOf returns the server's HTTP handler, to serve requests from
// addresses a loopback test cannot have.
func HandlerOf(s *Server) http.Handler { return s.handler() }
