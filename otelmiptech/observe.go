package otelmiptech

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/metric"

	"github.com/miptechnologies/miptech-go/client"
)

// ObserveClient registers the instruments read from a client's Stats at
// each collection rather than from its hooks: miptech.client.queue.length,
// the frames waiting in the outbound queue. Call the returned func to stop
// observing c (before or after closing it). Several clients observed on
// one meter provider need WithAttributes to tell their series apart: two
// observations with the same attributes are one series.
//
// Connection states come from the hooks (miptech.client.connections.state),
// which see every change: a value read at collection would miss the short
// states between two collections.
func ObserveClient(c *client.Client, opts ...Option) (unregister func() error, err error) {
	if c == nil {
		return nil, errors.New("otelmiptech: ObserveClient needs a client, got nil")
	}
	cfg := newConfig(opts)
	m := cfg.meter()
	queueLength, err := m.Int64ObservableGauge(nameQueueLength,
		metric.WithUnit("{message}"),
		metric.WithDescription("Frames waiting in the outbound queue."))
	if err != nil {
		return nil, err
	}
	set := metric.WithAttributes(cfg.attrs...)
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(queueLength, int64(c.Stats().QueueLength), set)
		return nil
	}, queueLength)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}
