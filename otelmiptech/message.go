package otelmiptech

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/miptechnologies/miptech-go/client"
)

// messageStart starts the message's span, a child of the span in ctx (the
// context given to Send, Ask or Stream).
func (t *telemetry) messageStart(ctx context.Context, info client.MessageInfo) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	attrs := make([]attribute.KeyValue, 0, len(t.attrs)+4)
	attrs = append(attrs, t.attrs...)
	if info.ChatID != "" {
		attrs = append(attrs, keyChatID.String(info.ChatID))
	}
	attrs = append(attrs,
		keyClientMsgID.String(info.ClientMessageID),
		keyAttempt.Int(info.Attempt),
		keyMessageSize.Int(info.Bytes))
	ctx, span := t.tracer.Start(ctx, SpanMessage,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(info.Time),
		trace.WithAttributes(attrs...))
	return context.WithValue(ctx, messageSpanKey{}, span)
}

// messageSpan returns the span messageStart put in ctx, or nil.
func messageSpan(ctx context.Context) trace.Span {
	if ctx == nil {
		return nil
	}
	span, _ := ctx.Value(messageSpanKey{}).(trace.Span)
	return span
}

func (t *telemetry) messageWritten(ctx context.Context, info client.MessageInfo) {
	if span := messageSpan(ctx); span != nil {
		span.AddEvent(eventWritten, trace.WithTimestamp(info.Time))
	}
}

func (t *telemetry) messageAcknowledged(ctx context.Context, info client.MessageInfo) {
	t.in.messageDuration.Record(orBackground(ctx), info.Time.Sub(info.Start).Seconds(), t.ackPhase)
	if span := messageSpan(ctx); span != nil {
		if info.ServerID != "" {
			span.SetAttributes(keyServerMsgID.String(info.ServerID))
			span.AddEvent(eventAcknowledged, trace.WithTimestamp(info.Time),
				trace.WithAttributes(keyServerMsgID.String(info.ServerID)))
		} else {
			span.AddEvent(eventAcknowledged, trace.WithTimestamp(info.Time))
		}
	}
}

func (t *telemetry) messageFirstChunk(ctx context.Context, info client.MessageInfo) {
	t.in.messageDuration.Record(orBackground(ctx), info.Time.Sub(info.Start).Seconds(), t.firstPhase)
	if span := messageSpan(ctx); span != nil {
		span.AddEvent(eventFirstChunk, trace.WithTimestamp(info.Time))
	}
}

// messageDone counts the message's outcome, records its duration and ends
// its span.
func (t *telemetry) messageDone(ctx context.Context, info client.MessageDoneInfo) {
	ctx = orBackground(ctx)
	took := info.Time.Sub(info.Start).Seconds()
	var errType string
	if info.Err == nil {
		t.in.messages.Add(ctx, 1, t.answered)
		t.in.messageDuration.Record(ctx, took, t.answeredPhase)
	} else {
		errType = errorType(info.Err)
		t.in.messages.Add(ctx, 1, t.opt(keyMessageOutcome.String(outcomeFailed), keyErrorType.String(errType)))
		t.in.messageDuration.Record(ctx, took, t.opt(keyMessagePhase.String(phaseComplete),
			keyMessageOutcome.String(outcomeFailed), keyErrorType.String(errType)))
	}

	span := messageSpan(ctx)
	if span == nil {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 5)
	if info.ChatID != "" {
		attrs = append(attrs, keyChatID.String(info.ChatID))
	}
	if info.ServerID != "" {
		attrs = append(attrs, keyServerMsgID.String(info.ServerID))
	}
	if info.Err == nil {
		attrs = append(attrs, keyReplySize.Int(info.ReplyBytes))
	}
	if info.Recovered {
		attrs = append(attrs, keyRecovered.Bool(true))
		span.AddEvent(eventRecovered, trace.WithTimestamp(info.Time))
	}
	if info.Late {
		attrs = append(attrs, keyLate.Bool(true))
	}
	if info.Err != nil {
		attrs = append(attrs, keyErrorType.String(errType))
		span.RecordError(info.Err, trace.WithTimestamp(info.Time))
		span.SetStatus(codes.Error, info.Err.Error())
	}
	span.SetAttributes(attrs...)
	span.End(endAt(info.Time, info.Time.IsZero()))
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
