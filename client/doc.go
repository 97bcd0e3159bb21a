// Package client is the Go client of the MIPTech AI chat platform: one
// Client per tenant holds one WebSocket connection, and any number of Chats
// (conversations) run on it.
//
// Start with New and a Config (only TenantID is required; APIURL defaults to
// http://localhost:8001), then open a conversation with Client.NewChat or
// Client.OpenChat and use Chat.Ask (send and wait for the reply),
// Chat.Stream (send and iterate over the reply as it arrives) or Chat.Send
// (send and get a Message handle). Close the Client when done.
//
//	c, err := client.New(client.Config{APIURL: url, TenantID: "acme"})
//	if err != nil { ... }
//	defer c.Close(context.Background())
//	chat, err := c.NewChat(ctx, client.ChatOptions{Title: "support"})
//	reply, err := chat.Ask(ctx, "What are your opening hours?")
//
// # Connection
//
// The Client connects lazily (on the first chat or send) or with
// Client.Connect, in four steps: a health check, chat creation (a chat that
// cannot be created over REST opens degraded and learns its id from the
// platform), the WebSocket dial with the platform's readiness handshake, and
// a join of every open chat. Only then is the outbound queue flushed and the
// state ready. The states are disconnected → connecting → connected → ready;
// a lost connection goes to reconnecting and is retried with jittered
// exponential backoff, clamped by a close-code policy (protocol.Lookup): for
// example 1001 reconnects within 2 s, 1011 waits at least 2 s, 4401 does not
// retry. After Config.MaxRetries failed attempts the state is failed until
// Connect is called again. Watch states with Client.OnStateChange or
// Client.WaitForState.
//
// While the connection is down, chat messages and typing frames wait in a
// bounded queue (Config.QueueSize, 50 by default); a full queue refuses a new
// message with ErrQueueFull. Inbound events are normalized (every field
// spelling the platform has used is understood) and deduplicated, and reach
// only the chat they belong to.
//
// # Messages and their replies
//
// Every message sent gets exactly one outcome, returned to its sender
// (Message.Wait, Chat.Ask, the last value of Message.Chunks): its own reply,
// or an error. One ledger (registry.Ledger) decides which message each frame
// is about and when a reply may be delivered; the client only carries out
// its decisions. What that promises:
//
//   - Its own reply. A frame that names a message (client_message_id, or a
//     platform id learned from it) is about that message only; a frame about
//     a message that already has its outcome is counted as a duplicate and
//     answers no other. A frame that names nothing goes to the reply
//     streaming now, else to the oldest message waiting.
//   - In order. A chat's replies are delivered in send order: a reply waits
//     while an earlier message of its chat has no outcome yet (its reply
//     being recovered, or still to come).
//   - Across lost connections. A message written and never acknowledged is
//     re-sent with the same client_message_id (a second reply to it is a
//     duplicate). A message acknowledged and not answered has its reply
//     looked for in the chat history (Reply.Recovered), until it is found,
//     the message times out (ErrResponseTimeout), or the platform has no
//     history (ErrReplyLost). A reply is taken from the history only when the
//     pairing is certain: a reply that names its question, or the reply right
//     after it with no unanswered question before it; otherwise the message
//     times out rather than receive a reply that may not be its own. Where
//     the platform's replies name no message (the realtime form's tenant-app
//     variant), a chat has one message on the wire at a time, and a message
//     on a lost connection is never re-sent: it fails with ErrReplyLost once
//     the next connection is up, and its reply, if it still comes, is
//     dropped before the chat's next message is written.
//   - Promptly. When the connection fails for good (state failed), every
//     message still waiting fails at once with an error matching ErrFailed.
//     A caller's context ending returns ctx.Err(); ErrExpired is only for a
//     message that outlived Config.QueueTTL in the queue.
//   - Streams that add up. The texts of a message's chunks (Message.Chunks,
//     Chat.Stream, Chat.OnChunk), concatenated, equal the reply's text;
//     where the text had to be rewritten (a reply restarted after a lost
//     connection, recovered from the history, or whose final text differs
//     from its chunks) a chunk with Replace set carries the whole text so
//     far, which replaces what was shown. Chunk.Index and Chunk.Offset place
//     each chunk in the reply.
//   - Retries that stay apart. A message the platform failed (a
//     *PlatformError, Retryable when the platform says so) can be sent again
//     with Message.Retry, or automatically with Config.MessageRetries; each
//     attempt goes out under a new client_message_id, so a late reply to a
//     failed attempt is never taken for the retry's.
//
// # Callbacks
//
// All callbacks of a Client (OnStateChange, OnError, Chat.OnChunk,
// Chat.OnComplete, …) run on one goroutine, in the order the events
// arrived, never while the SDK holds a lock. A callback may call any method
// that does not wait for a reply (Send, Typing, Join, Leave, Close, State,
// Message.Retry, …). Slow callbacks make the socket reader wait
// (Stats.DispatcherStalls) rather than drop events, so no reply can arrive
// while a callback waits: Ask, Stream, Message.Wait and Message.Chunks
// called in a callback return ErrInCallback at once (Ask and Stream before
// sending), unless the message already has its outcome. A callback that
// panics is reported through OnError. No callback starts after Close
// returns.
//
// Users who prefer a loop to a callback range over StateChanges, Errors or
// Events, or over a message's reply with Message.Chunks; the loop body runs
// on the caller's goroutine and may wait for replies.
//
// # Errors
//
// Sentinels for errors.Is: ErrClosed, ErrQueueFull, ErrExpired, ErrFailed,
// ErrResponseTimeout, ErrValidation, ErrRateLimited, ErrReplyTooLarge,
// ErrChatLeft, ErrReplyLost, ErrInCallback, ErrNotFailed. Typed
// errors for errors.As: *ConnectError (close code or handshake status),
// *FailedError, *ValidationError, *PlatformError (an error frame),
// *RateLimitError, *NetworkError, *ConfigError, *RedirectError (a REST
// redirect to another origin, refused), and protocol.APIError for REST
// answers.
//
// # Credentials
//
// The API key, the tenant headers and the bearer token go only to the
// origin of Config.APIURL and Config.WSURL: a REST redirect to another
// scheme, host or port is refused (*RedirectError), with the SDK's HTTP
// client or the user's. The key and the tokens the TokenSource returned are
// replaced by [REDACTED] in what the platform sends back (error bodies,
// error frames, close reasons) and in every log line. Chat ids that would
// change a request path ("..", "a/b") are refused, from the caller and from
// the platform. Without Config.HTTPClient the SDK owns its transport and
// Close closes its idle connections. See the README's Credentials section.
//
// # Testing
//
// The platformtest package is an in-process fake platform with fault
// injection; point Config.APIURL at its URL.
package client
