// Package queue is the outbound buffer of a client: the frames a user sends
// while the connection is not ready wait here, in order, until the client
// flushes them to the new socket.
//
// Start with [New] and [Config]. A [Queue] is generic over the caller's
// correlation value: each [Item] carries a Value of the queue's type T (who
// to notify, say), which the queue never reads and hands back typed in every
// [Item] and [Removed] it returns, so the caller needs no type assertion.
//
// A [Queue] holds chat messages and typing
// frames only ([protocol.Queueable]); joins are re-sent from the client's chat
// set and pings are useless on a dead socket, so [Queue.Push] refuses them
// with [ErrNotQueueable].
//
// The rules, all enforced under one mutex (the queue starts no goroutines and
// is safe for concurrent use):
//
//   - Capacity is counted in frames, not bytes ([Config.Capacity], default
//     50).
//   - Typing is coalesced: at most one typing frame per chat waits. A newer
//     typing_start or typing_stop for a chat replaces the pending one, which
//     is reported as removed with [ErrReplaced]; the newer frame joins the end
//     of the queue, so the server still sees the latest typing state after
//     every message sent before it.
//   - A full queue under [RejectNew] (the default) first evicts the oldest
//     typing frame ([ErrEvicted]); with none to evict, the new frame is
//     refused with [ErrQueueFull]. Under [DropOldest] the oldest frame of any
//     type is evicted to make room.
//   - Every frame has a deadline ([Item.Deadline], or now + [Config.TTL]). A
//     frame whose deadline passed is removed with [ErrExpired] at the next
//     [Queue.Push], [Queue.Drain] or [Queue.Expire]; expired frames never
//     cause a rejection.
//   - [Queue.Drain] takes every frame out in FIFO order, so the caller writes
//     them outside the lock; [Queue.PutBack] returns the unsent ones to the
//     front after a write failure.
//
// No frame is lost silently: every frame that leaves the queue other than by
// Drain or Remove is handed back to the caller as a [Removed] with the
// reason, so that its sender can be told.
package queue
