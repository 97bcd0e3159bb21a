// Package platformtest is a fake MIPTech chat platform for tests, in the
// manner of net/http/httptest: NewServer starts it on a loopback port, URL
// and WSURL say where it is, Close stops it and waits for everything it
// started.
//
//	srv := platformtest.NewServer(platformtest.Config{})
//	defer srv.Close()
//	// point the client at srv.URL() (REST) and srv.WSURL() (WebSocket)
//
// It speaks the platform's wire protocol (REST and WebSocket) from an
// in-memory store, answers every user message with a Responder, can be told
// at run time to misbehave the ways the real platform has been seen to, and
// records what clients sent so that tests can assert on it and wait for it
// with WaitFor (no sleeps). The program examples/fakeplatform serves it on a
// fixed address for clients in other languages.
//
// # What it fakes
//
// REST, under the URL: GET /healthz and GET /api/v1/health ({"status":
// "healthy", "version"}); POST /api/v1/chat/ (201 {"chat_id", "title", "created_at"});
// POST /api/v1/chat/{id}/messages (201 with the stored message, then the
// reply streams over the sockets joined to the chat); GET
// /api/v1/chat/{id}/messages ({"items": [{id, content, role, timestamp}]});
// GET /api/v1/chat/config ({"max_message_length"}). Every endpoint but the
// health checks needs a tenant header (X-Tenant-ID, X-Tenant or Tenant-ID):
// missing → 400, not in Config.Tenants → 403; with Config.APIKey set, a
// wrong X-API-Key → 401. Errors have the platform's shape {"detail",
// "error_code"} (422 validation errors a list-shaped detail).
//
// WebSocket, at WSURL() + "/api/v1/ws/chat?tenant_id=…[&chat_id=…][&client_id=…]":
// the handshake is refused with 400 without tenant_id, 403 for a tenant not
// accepted, 401 for a wrong API key, in the error shape of REST (as is a
// request that is not a WebSocket upgrade). An accepted connection receives
// connection_established {client_id, tenant_id, connected_at}, three
// initialization_progress frames (phase starting, services, complete), then,
// after Config.ReadyDelay, connection_ready {client_id, ready_duration}. A
// chat_id in the URL does not join the chat: the client sends join_chat.
//
//   - join_chat {chat_id} → chat_joined {chat_id, success}; an unknown chat
//     id is created. join_chat {create: true} → chat_created {chat_id,
//     success}, joined.
//   - leave_chat {chat_id} → chat_left {chat_id, success}.
//   - ping {ts} → pong {ts}. typing_start/typing_stop are forwarded to the
//     other sockets joined to the chat.
//   - chat_message {message, chat_id, tenant_id, client_message_id} →
//     message_received to the sender, then to every socket joined to the
//     chat: processing, response_start, one response_chunk per chunk,
//     response_complete.
//
// Events of a chat go only to the sockets of its tenant that joined it. A
// chat_message for a chat the socket has not joined joins it first, as the
// platform does; with Config.StrictJoin (or SetStrictJoin) it is answered
// with an error frame (code "not_joined") instead. Every frame carries "timestamp" (Unix milliseconds) next to "data".
//
// # Ids in a reply
//
// The user message gets a server id U (a UUID), stored in history. The
// reply is a separate assistant message with its own id A. An id the
// server does not know (a client_message_id the client did not send) is
// absent from frames, never an empty string. Frames carry:
//
//	message_received   message_id U, client_message_id, chat_id
//	processing         message_id U, client_message_id, chat_id
//	response_start     message_id A, client_message_id, user_message_id U, reply_to U, chat_id
//	response_chunk     the same, and content, chunk_index (0, 1, …)
//	response_complete  the same, and content (the full text), llm_model
//	                   "fake-llm-1", prompt_tokens, completion_tokens,
//	                   total_tokens, response_time_ms, cost_estimate, sources []
//
// so a client can correlate a reply with its message by client_message_id,
// or by user_message_id/reply_to. SetShape moves the text of
// response_complete (nested, full_text, absent) or answers with a single
// chat_response frame; SetVariant renames fields and types. The messages of
// one chat are answered one at a time, in arrival order; chats are answered
// concurrently.
//
// # Faults
//
// DropAll (close code), DropAllAbrupt (TCP reset), RefuseHandshakes (HTTP
// status), RefuseHandshakesWithClose (close code right after the upgrade),
// FailChatCreations, WithholdReady and SetReadyDelay, SetDuplicate,
// SetVariant and SetShape, Inject (frames of another chat), RateLimit and
// RateLimitREST with SetRetryAfter, Ping, Stall, DropAfterChatMessage,
// DropAfterReceived, DisableHealthz, SendRaw (malformed or binary frames),
// SetStrictJoin, and Reset to undo them all. A Responder can delay,
// withhold or fail a reply; ResponderSpec builds one from values (fixed or
// echoed text, chunk count and delay, latency, a share of questions failed
// with an error frame carrying "retryable").
//
// Every fault is a row of one table (Faults), reached from Go by its method
// or by ApplyFault, and, with Config.ControlAPI, over HTTP by
// POST /_platform/faults/{name} with a JSON body of parameters: clients in
// any language can drive the faults and read what the server saw (see
// ControlPrefix). The control API answers loopback clients only unless
// Config.ControlRemote is set, and needs a bearer token when
// Config.ControlToken is set.
//
// # Browsers
//
// With Config.AllowedOrigins, REST and control answers carry
// Access-Control-Allow-Origin for the listed origins ("*": any) and
// preflights are answered 204 with the methods and the headers the SDK and
// the platform's web client send (Content-Type, X-Tenant-ID, X-Tenant,
// Tenant-ID, X-API-Key, Authorization, …); a preflight from another origin
// is answered 403. The WebSocket accepts any origin.
//
// # What it does not fake
//
// No language model: replies come from the Responder (by default
// "Echo: <text>" in three chunks, see DefaultResponder and ReplyText). No
// persistence: the store lives as long as the Server. Bearer tokens
// (Authorization header, "bearer" subprotocol) are accepted and not
// checked; the API key is compared for equality only. No TLS. No rate limits
// but the injected ones. Nothing is replayed to a socket that reconnects.
// The token counts are word counts and the cost is a fixed price per word.
//
// # Faithfulness
//
// The endpoints, frame types, field names, handshake sequence, join gating
// and the variants follow the platform's documentation and the frames its
// clients were seen to handle. The following are inferred, not documented,
// and may differ from the real platform: the error codes and messages of
// error frames and error bodies; that a join_chat naming an unknown chat
// creates it; that processing carries the user message's id and the
// response frames the assistant message's id (user_message_id and reply_to
// are additions of this fake, for correlation); that a message posted over
// REST gets no message_received frame (the HTTP answer acknowledges it) and
// takes its client_message_id from metadata.client_message_id; that the
// messages of a chat are answered in order; the answer body of POST
// /api/v1/chat/{id}/messages; the forwarding of typing frames; the
// handling of a chat_message without chat_id (it goes to the last joined
// chat, else the URL's chat_id, else, unless joining is strict, a new chat); the
// reason texts of close codes.
package platformtest
