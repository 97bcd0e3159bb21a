// Package normalize turns one inbound frame of the MIPTech chat platform into
// one canonical [Event].
//
// The platform has sent the same event in many shapes over time: legacy type
// names (message_chunk for response_chunk), camelCase and snake_case ids, ids
// at the top level or inside data, the payload under data or payload, times
// in seconds, milliseconds or RFC 3339, the reply text in several places.
// [Normalize] maps all of them to one struct, so that the rest of the SDK
// handles each event one way.
//
// # Where it fits
//
// The client's reader goroutine reads a text frame from the socket and calls
// [Normalize] with the frame and the client's clock. A [*DecodeError] is
// counted and logged and the frame dropped; the connection stays up.
// Otherwise the client drops the event when its [Event.Key] was seen
// recently (package registry), then routes it by [Event.Type] and
// [Event.ChatID] to the chat it belongs to.
//
// # Rules
//
//   - Pure: bytes and a time in, an Event or an error out; no I/O, no state.
//     Safe for concurrent use.
//   - Types: [Event.Type] is the canonical name from
//     [protocol.CanonicalType]; [Event.RawType] keeps the received one.
//     Unknown types pass through unchanged, as generic events.
//   - Fields: each is read from the payload first, then from the top level
//     (ids also from data.message). A member of the wrong kind is ignored,
//     never an error. Ids may be strings or numbers; numbers are rendered in
//     decimal.
//   - Time: a number below 1e11 is Unix seconds, a larger one Unix
//     milliseconds; strings may hold such a number or an RFC 3339 time. A
//     missing or unusable time is the now passed in.
//   - Errors: only a frame that is not JSON, not an object, or has no string
//     type is rejected ([ErrMalformed], [ErrNotObject], [ErrMissingType]).
//     Normalize never panics; it is fuzz-tested.
//   - Dedup: [Event.Key] is computed by the rules documented on [Normalize].
//   - Memory: strings are copied; [Event.Data] and [ResponseMeta.Sources]
//     alias the frame's bytes.
//
// The frame is validated with encoding/json and then read in one pass that
// records where each known member's value stands; values are interpreted
// only when the event needs them. Normalizing a typical frame costs less than
// a plain json.Unmarshal of it (see the benchmarks).
package normalize
