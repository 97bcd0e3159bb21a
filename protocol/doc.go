// Package protocol is the wire vocabulary of the MIPTech chat platform: frame
// type names and their legacy aliases, the outbound frame shapes, the
// connection states, the close-code policy table, and the REST request,
// response and error types.
//
// It holds data and pure functions only, no I/O. The normalize package turns
// inbound frames into canonical events using the names defined here; the
// client package builds outbound frames from the payload types here and
// decides how to reconnect with [Lookup]; the platformtest package speaks the
// same vocabulary from the server side.
package protocol
