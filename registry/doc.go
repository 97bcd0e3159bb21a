// Package registry keeps track of a client's messages and of the inbound
// events it has already seen.
//
// A [Ledger] holds every outbound user message of one client, once, and
// decides its fate. The client tells it what happened — a message added
// ([Ledger.Add]), written to a connection ([Ledger.Written]), an inbound
// event about messages ([Ledger.Step]: message_received, processing,
// response_start, response_chunk, response_complete, error), a connection
// lost ([Ledger.ConnectionLost]), a chat's history fetched
// ([Ledger.Recover]), the time passing ([Ledger.Tick]) — and gets back
// [Decision]s to carry out: report a status change, deliver a chunk,
// complete a reply, fail a message, retry it, count a duplicate. The rules
// live here and nowhere else:
//
//   - which message a frame is about: the one it names (client_message_id,
//     or a platform id learned from an acknowledgement or a reply), else the
//     reply streaming now, else the oldest message waiting; a frame about a
//     message that already has its outcome is a duplicate and answers no
//     other;
//   - the order of replies: a chat's replies are delivered in send order, a
//     reply held ([DecideHeld]) while an earlier message of its chat has no
//     outcome yet;
//   - what a lost connection means: written and not acknowledged, send
//     again ([Ledger.Resends]); acknowledged and not answered, look in the
//     history; a reply streaming, start its text again (a Replace piece)
//     or, when its chunks cannot be placed, trust only a complete text;
//   - a platform whose replies name no message ([Ledger.SetUnnamedReplies],
//     or seen so): one message of a chat on the wire at a time
//     ([Ledger.Writable]), and a message on a lost connection never sent
//     again but failed ([Ledger.FailLost]), its reply, if it comes, dropped;
//   - how the history answers messages: by the link a reply carries to its
//     question, else by place when no unanswered question stands before it;
//     an ambiguous pairing is left to the timeout;
//   - timeouts, the late-reply window, orphans and retries.
//
// A user message moves StatusSending → StatusSent → StatusDelivered →
// StatusAnswered, or to StatusFailed; a retry starts a new attempt in
// StatusSending under a new client_message_id. The transitions are the
// ledger's table (ledger_test.go tests every event in every state).
//
// A [Dedup] is the window of inbound event keys: the client calls
// [Dedup.Seen] with each event's key before dispatching the event and drops
// the event when Seen reports a duplicate.
//
// Neither type starts a goroutine, and both are bounded in memory; the
// Ledger reads no clock (the time is an argument) and is not safe for
// concurrent use (its owner serializes the calls); Dedup is safe for
// concurrent use and reads an injected clock.
package registry
