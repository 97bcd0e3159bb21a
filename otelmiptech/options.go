package otelmiptech

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/miptechnologies/miptech-go/client"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/miptechnologies/miptech-go/otelmiptech"

// Option configures NewHooks and ObserveClient.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is what the options set.
type config struct {
	mp    metric.MeterProvider
	tp    trace.TracerProvider
	attrs []attribute.KeyValue
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	return c
}

func (c config) meter() metric.Meter {
	return c.mp.Meter(ScopeName, metric.WithInstrumentationVersion(client.Version))
}

func (c config) tracer() trace.Tracer {
	return c.tp.Tracer(ScopeName, trace.WithInstrumentationVersion(client.Version))
}

// WithMeterProvider sets the provider of the meter. Nil, or no option,
// means the global provider (otel.GetMeterProvider) at the time of the
// call.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// WithTracerProvider sets the provider of the tracer. Nil, or no option,
// means the global provider (otel.GetTracerProvider) at the time of the
// call.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithAttributes adds attributes to every measurement and every span, for
// example the name of the service's own tenant or of one of several
// clients. Keep their values few: each distinct set is a metric series.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(func(c *config) { c.attrs = append(c.attrs, attrs...) })
}
