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
// # Protocol forms
//
// The above is the REST form (ProtocolREST, the default). Config.Protocol
// (or SetProtocol, or the fault set_protocol) switches to one of the two
// variants of the realtime form, in which the WebSocket does everything:
//
//   - ProtocolWebsite (the platform's website, October 2025): REST serves
//     GET /healthz only, every other path answers 404. The handshake needs
//     tenant_id and no credential (Config.APIKey is not checked), and the
//     greeting is as above, but frames are handled from the moment the
//     socket opens. join_chat {"channel":"website","create":true} creates a
//     chat with an id the server chooses and answers chat_created with the
//     id at the top level ("chat_id" next to "type", not in data), and no
//     chat_joined; with a chat_id that exists it joins it (chat_joined).
//     join_chat {chat_id} answers chat_joined. chat_message {message,
//     stream, chat_id} (without chat_id: the chat joined last) is answered
//     as in the REST form.
//   - ProtocolTenantApp (the tenant apps, December 2025): POST
//     /api/auth/session (PathSession) with "Authorization: ApiKey <key>"
//     and {"tenant_id"} answers 200 {websocket_token, session_id,
//     expires_at (RFC 3339, Config.TokenTTL ahead)}, or 401 {detail, code
//     "INVALID_API_KEY"} for a missing or refused key (Config.APIKeys and
//     Config.APIKey; any non-empty key when both are empty). GET /healthz
//     answers 200, every other REST path 404. The handshake must offer the
//     subprotocols "bearer", <websocket_token>; the server selects
//     "bearer". No token, an unknown or expired token, or a token of
//     another tenant than the query's tenant_id is refused with 401 {detail,
//     code} (tenant_id may be left out: the token's tenant is taken). The
//     server sends nothing on open. join_chat {tenant_id, chat_id,
//     create:true} with a UUID v4 chat_id creates that chat, or joins it
//     when it exists, and answers chat_joined {"data":{"chat_id"}}; any
//     other chat_id is answered with error. chat_message {message, stream,
//     chat_id} (chat_id required) is answered with response_chunk
//     {content, message_id, chat_id} frames and response_complete
//     {message_id, chat_id} without text: no message_received, processing
//     or response_start. Error frames are {"data":{"message","details"}},
//     details being the error code, without ids. Server pings are
//     {"type":"ping"} alone; a client ping is answered {"type":"pong"}.
//
// Neither realtime variant serves history. Sessions lists the tokens
// issued and HandshakeTokens the token each handshake offered;
// ExpireTokens makes every token expire at once (and may close the
// connections opened with them), so that a client's refresh can be tested.
// A live connection keeps the form it was opened in, and a reply comes in
// the form of the connection its question came on. A tenant-app
// connection, which reads no greeting, is listed by Connections a moment
// after its handshake completes: wait for it with WaitFor before a fault
// aimed at live connections (DropAll, Ping, Inject).
//
// Faults in the realtime forms: drops, refused handshakes (before any
// token check), Stall, RateLimit (an error frame with details
// "rate_limit_exceeded" in the tenant-app form, which has no
// rate_limit_exceeded frame), DropAfterChatMessage, DropAfterReceived (in
// the tenant-app form: right after the message is accepted, as there is no
// message_received), SetDuplicate, SetVariant, Inject, SendRaw, Ping and
// Responder failures, delays and withheld replies work in both.
// FailChatCreations fails join_chat creations with an error frame.
// RateLimitREST and DisableHealthz apply to the REST paths that remain.
// SetShape does not apply to the tenant-app form (its response_complete
// never carries text), nor do WithholdReady and SetReadyDelay (it sends no
// connection_ready); SetStrictJoin applies to both.
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
// SetStrictJoin, SetProtocol, SetTokenTTL, ExpireTokens, and Reset to undo
// them all. A Responder can delay,
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
// reason texts of close codes. In the realtime forms, also inferred: that
// the website form chooses the id of a chat created with a chat_id it does
// not know, and joins (creating it when unknown) a chat named without
// create; that the tenant-app form joins an unknown UUID v4 chat named
// without create, accepts a join_chat without tenant_id, and checks a
// token at the handshake only (a live connection outlives it); the error
// codes of refused tokens; the details of error frames; the answer to a
// client ping.
package platformtest
