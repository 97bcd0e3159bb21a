// Command loadtest drives many concurrent conversations against a MIPTech
// platform and reports latency percentiles, throughput, errors by kind and
// reconnects. It also measures two things the SDK promises (SPEC §10): the
// memory of idle ready clients, and how a fleet of clients comes back after a
// platform restart (a reconnect storm).
//
// With no -api-url (and no MIPTECH_API_URL) it starts the fake platform of
// package platformtest in-process, so it runs on a fresh clone with no other
// step:
//
//	go run ./examples/loadtest -clients 10 -chats 2 -messages 5
//	go run ./examples/loadtest -clients 100 -duration 30s -json
//	go run ./examples/loadtest -clients 1000 -storm -storm-kind abrupt
//	go run ./examples/loadtest -clients 2000 -idle
//	go run ./examples/loadtest -client both -clients 200 -chats 5 -messages 20 -rounds 5
//
// # Load
//
// -clients N clients each open -chats M conversations (each client is one
// WebSocket connection; its chats share it). Every conversation sends a
// message, waits for the complete streamed reply, pauses -think, and sends
// the next, until it has sent -messages messages or -duration has passed
// (whichever comes first; with neither, 10 messages). When the duration ends
// no new message is sent and the replies under way are awaited. A live
// progress line goes to stderr (rewritten in place on a terminal, one line
// every 5 s otherwise). At the end a table goes to stdout: latency
// percentiles p50/p90/p95/p99/max from send to first chunk and from send to
// complete reply, throughput (answered messages per second), errors by kind
// (timeout, queue full, platform error, closed, other), reconnects, and
// duplicate events dropped by the SDK. -json prints the same as one JSON
// object instead.
//
// # Reconnect storm
//
// -storm waits until every client is ready, waits -storm-after, then restarts
// the embedded platform: -storm-kind close1001 closes every connection with
// close code 1001 (platformtest.Server.DropAll), as a platform does on a
// graceful restart; -storm-kind abrupt resets every TCP connection
// (platformtest.Server.DropAllAbrupt), as a crash or a network fault does.
// The fake platform keeps accepting connections. The report gives, per
// client, the time from the restart to the lost connection, to the first
// attempt to reconnect and to ready again, the time until every client was
// ready again, and how the reconnect attempts spread over time: a histogram
// in 100 ms buckets of the clients' attempt starts (the connecting state
// changes, timed as each attempt begins), with the largest share of attempts
// in any (sliding) 100 ms window and in any fixed bucket. After a 1001
// close the goals are all back within 4 s and no window above 10 % (the
// first attempt is drawn over the whole window below the 2 s ceiling of
// 1001); after an abrupt drop, and on an external platform, they are SPEC
// §10's 10 s and 30 %. The spread is judged on the attempt starts because
// they are what the SDK's backoff and jitter decide. The delays the clients
// drew before their first attempt (the RetryIn of their change to
// reconnecting) are reported too, with their span and largest 100 ms
// window share: they are the backoff's decision alone, before the process
// adds the time it takes to start each attempt.
// The handshakes the embedded platform saw are reported too: they come after
// each attempt's health check and dial, and with every client and the
// platform in one process they also carry that process's scheduling delays,
// which bunch them. Message load, if any, goes on during the storm: with the
// defaults the restart comes 1 s into the messages; -messages 0 restarts
// under idle clients; -duration with -storm-after restarts under a steady
// load.
//
// Against an external platform (-api-url) the program cannot restart it: it
// only observes. It prints when every client is ready; restart the platform
// then (for examples/fakeplatform, stop it with Ctrl-C and start it again).
// The storm begins at the first lost connection; the spread is measured
// from the clients' attempt starts.
//
// # Idle memory
//
// -idle connects the clients, each with -chats chats (default 1) joined and
// ready, and reports heap bytes and goroutines per client: runtime.GC twice,
// then the runtime.MemStats HeapAlloc difference from before the first
// client divided by the number of clients. The REST keep-alive connections
// the clients share are closed before the measurement. With the embedded
// platform the server's side of every connection is included; run the
// platform in another process (-api-url) for the client-only figure. It then
// holds the idle clients for -idle-hold and reports the CPU time they used.
//
// # Side by side with a raw client
//
// -client picks the clients: sdk (the default), raw, or both. A raw client
// is a minimal hand-written gorilla/websocket client of the REST form of the
// protocol, the baseline the SDK is measured against. It does what the SDK
// does in the load and idle modes and nothing more: it creates its chats
// over REST, dials /api/v1/ws/chat with the same query (tenant_id, the first
// chat_id) and tenant headers, reads until connection_ready, sends join_chat
// for every chat and waits for every chat_joined, then sends each message
// as a chat_message with its own client_message_id and reads frames
// (encoding/json into a small struct, on one reader goroutine per
// connection) until the response_complete carrying that id. It pings every
// 30 s as the SDK does (a timer, no goroutine), so that an idle hold longer
// than that costs both sides the same wire work, and uses the SDK's gorilla
// settings (4 KiB buffers, a shared write-buffer pool). It does not
// reconnect, deduplicate or queue: -storm needs the SDK, and the raw client
// speaks the REST form only.
//
// -client both runs the SDK and then the raw clients with the same flags in
// the same process, -rounds times (the order alternates each round, so that
// whatever drifts during the run hits both alike), and prints one line per
// run, the SDK ÷ raw ratios (median and spread over the rounds: throughput
// and CPU per message under load; idle CPU, heap, RSS and goroutines per
// client with -idle) and the resource goals judged on the medians:
// throughput ≥ 0.95 × raw, CPU per message ≤ 1.3 × raw, no reply waited for
// over 1 s; idle CPU and RSS per client ≤ 1.5 × raw, at most 3 goroutines
// and 10 KiB of heap per SDK client. CPU time is the process's (getrusage,
// user and system) over the load or the hold; with the embedded platform it
// includes the platform, so run the platform in another process for the
// client-only figures. The RSS per client is the resident set's growth
// (/proc/self/statm) with free memory returned to the system before both
// readings. Many chats on one client is -clients 1 -chats 1000.
//
// # Many clients
//
// Every client holds one TCP connection, and the embedded platform holds the
// other end in the same process. The program raises its open-file limit to
// the hard limit and refuses a run that cannot fit. For 10,000 clients and
// more run the platform in another process:
//
//	go run ./examples/fakeplatform -addr 127.0.0.1:18001 &
//	go run ./examples/loadtest -api-url http://127.0.0.1:18001 -clients 10000 -idle
//
// Clients connect -connect-concurrency at a time; they share one HTTP
// transport for their REST calls (health check, chat creation), as an
// application holding many clients should.
//
// Exit status: 0 when every message was answered and every client connected
// (and came back after a storm), 1 otherwise, 2 for bad flags, 130 when
// interrupted (the report covers what was done).
package main
