// Package registry keeps track of a client's messages and of the inbound
// events it has already seen.
//
// A [Registry] holds each message with its status. A user message gets a
// client_message_id from [NewClientMessageID] when it is sent and moves
// StatusSending → StatusSent → StatusDelivered → StatusAnswered, or to
// StatusFailed; an assistant message moves StatusStreaming → StatusComplete.
// Statuses only move forward ([Registry.Transition] refuses anything else with
// ErrIllegalTransition), so a late or replayed frame cannot undo progress.
// The platform's own ids are mapped onto client ids with
// [Registry.MapServerID]; every lookup then accepts either.
//
// The client package uses it this way:
//   - Chat.Send registers the message (StatusSending), and moves it to
//     StatusSent once the frame is written.
//   - message_received maps the server id and moves the message to
//     StatusDelivered. When the frame names no message, [Registry.OldestPending]
//     finds the oldest unacknowledged message of the chat, which is the one the
//     platform answers next.
//   - response_start registers the assistant message (its server id, or a
//     [FallbackID]); response_complete completes it and moves the user message
//     to StatusAnswered. A second reply to an answered message is refused as
//     an illegal transition, which is how a re-sent message stays answered
//     once.
//   - After a reconnect, [Registry.Pending] lists what must be re-sent or
//     recovered; a periodic [Registry.Orphans] reports messages never
//     acknowledged.
//
// A [Dedup] is the window of inbound event keys: the client calls
// [Dedup.Seen] with each event's key before dispatching the event and drops
// the event when Seen reports a duplicate, so an event is delivered at most
// once even if a handler rejoins or reconnects.
//
// Both types are safe for concurrent use, bounded in memory, and start no
// goroutines; time is read from an injected clock.
package registry
