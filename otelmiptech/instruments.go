package otelmiptech

import (
	"errors"

	"go.opentelemetry.io/otel/metric"
)

// Names of the instruments (see the README for their attributes).
const (
	nameConnectionsState = "miptech.client.connections.state"
	nameReconnects       = "miptech.client.reconnects"
	nameConnectDuration  = "miptech.client.connect.duration"
	nameMessages         = "miptech.client.messages"
	nameMessageDuration  = "miptech.client.message.duration"
	nameQueueRejected    = "miptech.client.queue.rejected"
	nameQueueLength      = "miptech.client.queue.length"
	nameDuplicates       = "miptech.client.duplicates"
	nameRecoveryMessages = "miptech.client.recovery.messages"
	nameRecoveryLookups  = "miptech.client.recovery.lookups"
	nameProtocolErrors   = "miptech.client.protocol.errors"
)

// durationBuckets are the bucket bounds, in seconds, of the duration
// histograms: from a loopback acknowledgement (milliseconds) to a long
// model reply (minutes).
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120}

// instruments are the synchronous instruments the hooks record to.
type instruments struct {
	connectionsState metric.Int64UpDownCounter
	reconnects       metric.Int64Counter
	connectDuration  metric.Float64Histogram
	messages         metric.Int64Counter
	messageDuration  metric.Float64Histogram
	queueRejected    metric.Int64Counter
	duplicates       metric.Int64Counter
	recoveryMessages metric.Int64Counter
	recoveryLookups  metric.Int64Counter
	protocolErrors   metric.Int64Counter
}

// newInstruments creates the instruments on m. An error names the
// instruments that could not be created; they are then no-ops, as the
// OpenTelemetry API returns them.
func newInstruments(m metric.Meter) (instruments, error) {
	var in instruments
	var errs, err error
	join := func(e error) { errs = errors.Join(errs, e) }

	in.connectionsState, err = m.Int64UpDownCounter(nameConnectionsState,
		metric.WithUnit("{connection}"),
		metric.WithDescription("Clients in each connection state (disconnected clients are not counted)."))
	join(err)
	in.reconnects, err = m.Int64Counter(nameReconnects,
		metric.WithUnit("{reconnect}"),
		metric.WithDescription("Connections that became ready again after a loss."))
	join(err)
	in.connectDuration, err = m.Float64Histogram(nameConnectDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of connection attempts, from the start of the attempt to ready or failure."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	join(err)
	in.messages, err = m.Int64Counter(nameMessages,
		metric.WithUnit("{message}"),
		metric.WithDescription("User messages finished, by outcome."))
	join(err)
	in.messageDuration, err = m.Float64Histogram(nameMessageDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Time from Send accepting a message to its acknowledgement, its first reply chunk, and its outcome (miptech.message.phase)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	join(err)
	in.queueRejected, err = m.Int64Counter(nameQueueRejected,
		metric.WithUnit("{message}"),
		metric.WithDescription("Outbound messages refused or dropped before they were written, by reason."))
	join(err)
	in.duplicates, err = m.Int64Counter(nameDuplicates,
		metric.WithUnit("{event}"),
		metric.WithDescription("Inbound events dropped as duplicates."))
	join(err)
	in.recoveryMessages, err = m.Int64Counter(nameRecoveryMessages,
		metric.WithUnit("{message}"),
		metric.WithDescription("Messages whose reply was looked for in a chat's history after a lost connection: recovered, or lost."))
	join(err)
	in.recoveryLookups, err = m.Int64Counter(nameRecoveryLookups,
		metric.WithUnit("{lookup}"),
		metric.WithDescription("Looks into a chat's history for replies lost with a connection."))
	join(err)
	in.protocolErrors, err = m.Int64Counter(nameProtocolErrors,
		metric.WithUnit("{frame}"),
		metric.WithDescription("Inbound frames dropped because they could not be decoded or break the protocol."))
	join(err)
	return in, errs
}
