// Package otelmiptech turns the hooks of a miptech-go client
// (client.Hooks) into OpenTelemetry metrics and spans, in the style of the
// otelhttp instrumentation: the core module never depends on OpenTelemetry,
// and this module is what a service that exports telemetry adds.
//
// Start with NewHooks, and set its result in client.Config.Hooks:
//
//	hooks, err := otelmiptech.NewHooks() // the global providers
//	if err != nil { ... }
//	c, err := client.New(client.Config{TenantID: "acme", Hooks: hooks})
//
// Every message becomes a "miptech.message" span, child of the span in the
// context given to Ask, Send or Stream, and every connection attempt a
// "miptech.connect" span. The instruments (connection states, reconnects,
// connect and message durations, message outcomes, queue drops, duplicates,
// recovery, protocol errors) are listed in the module's README. The queue
// length is read from a Client, not from a hook: ObserveClient registers it.
//
// To observe a client with hooks of your own as well, combine them with
// Chain.
package otelmiptech
