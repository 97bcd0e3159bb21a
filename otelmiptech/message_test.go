package otelmiptech

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/miptechnologies/miptech-go/client"
)

// dropRetries samples the first attempt of a message and drops the others.
type dropRetries struct{}

func (dropRetries) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	for _, kv := range p.Attributes {
		if kv.Key == keyAttempt && kv.Value.AsInt64() > 1 {
			return sdktrace.SamplingResult{Decision: sdktrace.Drop}
		}
	}
	return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
}

func (dropRetries) Description() string { return "dropRetries" }

// A message sent from within the hooks of another (its context carries
// that message's span) whose own span is not sampled must leave the other
// message's span alone: its hooks neither add to it nor end it.
func TestHooks_UnsampledMessageLeavesOuterMessageSpan(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(dropRetries{}), sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	hooks, err := NewHooks(WithTracerProvider(tp))
	require.NoError(t, err)

	now := time.Now()
	outer := hooks.MessageStart(context.Background(), client.MessageInfo{ClientMessageID: "m1", Attempt: 1, Start: now, Time: now})
	inner := hooks.MessageStart(outer, client.MessageInfo{ClientMessageID: "m2", Attempt: 2, Start: now, Time: now})
	hooks.MessageWritten(inner, client.MessageInfo{ClientMessageID: "m2", Attempt: 2, Start: now, Time: now})
	hooks.MessageDone(inner, client.MessageDoneInfo{MessageInfo: client.MessageInfo{ClientMessageID: "m2", Attempt: 2, Start: now, Time: now}})
	assert.Empty(t, spans.Ended(), "the outer message's span is still open")

	hooks.MessageDone(outer, client.MessageDoneInfo{MessageInfo: client.MessageInfo{ClientMessageID: "m1", Attempt: 1, Start: now, Time: now}})
	ended := spans.Ended()
	require.Len(t, ended, 1)
	assert.Equal(t, SpanMessage, ended[0].Name())
	assert.Empty(t, ended[0].Events(), "no event of the inner message")
}
