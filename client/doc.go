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
// message with ErrQueueFull. Messages written but not acknowledged when the
// connection was lost are re-sent with the same client_message_id; replies
// lost with the connection are recovered from the chat history. A chat's
// replies are delivered in send order: a reply that arrives while the reply
// to an earlier message is still being looked for in the history waits for
// it, at most until that recovery ends (three looks, a second apart). Inbound
// events are normalized (every field spelling the platform has used is
// understood) and deduplicated, and reach only the chat they belong to.
//
// # Callbacks
//
// All callbacks of a Client (OnStateChange, OnError, Chat.OnChunk,
// Chat.OnComplete, …) run on one goroutine, in the order the events
// arrived, never while the SDK holds a lock. A callback may call any method,
// Close included. A callback that panics is reported through OnError. Slow
// callbacks make the socket reader wait (Stats.DispatcherStalls) rather than
// drop events; so a callback may send but must not wait for a reply (Ask,
// Message.Wait), which the waiting reader would never read. No callback
// starts after Close returns.
//
// Users who prefer a loop to a callback range over StateChanges, Errors or
// Events, or over a message's reply with Message.Chunks; the loop body runs
// on the caller's goroutine and may wait for replies.
//
// # Errors
//
// Sentinels for errors.Is: ErrClosed, ErrQueueFull, ErrExpired, ErrFailed,
// ErrResponseTimeout, ErrValidation, ErrRateLimited, ErrReplyTooLarge,
// ErrChatLeft. Typed
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
