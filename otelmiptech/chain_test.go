package otelmiptech

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/miptechnologies/miptech-go/client"
)

type ctxKey string

func TestChain_CallsInOrderAndPassesTheStartContext(t *testing.T) {
	var calls []string
	a := client.Hooks{
		MessageStart: func(ctx context.Context, _ client.MessageInfo) context.Context {
			calls = append(calls, "a.start")
			return context.WithValue(ctx, ctxKey("a"), 1)
		},
		MessageDone: func(ctx context.Context, _ client.MessageDoneInfo) {
			calls = append(calls, "a.done")
			assert.NotNil(t, ctx.Value(ctxKey("b")), "a sees b's context value too")
		},
		QueueDrop: func(client.QueueDropInfo) { calls = append(calls, "a.drop") },
	}
	b := client.Hooks{
		MessageStart: func(ctx context.Context, _ client.MessageInfo) context.Context {
			calls = append(calls, "b.start")
			assert.Equal(t, 1, ctx.Value(ctxKey("a")), "b gets a's context")
			return context.WithValue(ctx, ctxKey("b"), 2)
		},
		MessageDone: func(context.Context, client.MessageDoneInfo) { calls = append(calls, "b.done") },
		QueueDrop:   func(client.QueueDropInfo) { calls = append(calls, "b.drop") },
	}
	h := Chain(a, b)
	ctx := h.MessageStart(context.Background(), client.MessageInfo{})
	h.MessageDone(ctx, client.MessageDoneInfo{})
	h.QueueDrop(client.QueueDropInfo{})
	assert.Equal(t, []string{"a.start", "b.start", "a.done", "b.done", "a.drop", "b.drop"}, calls)
	assert.Equal(t, 2, ctx.Value(ctxKey("b")))
}

func TestChain_NilStartResultKeepsTheContext(t *testing.T) {
	base := context.WithValue(context.Background(), ctxKey("base"), true)
	var seen context.Context
	h := Chain(
		client.Hooks{ConnectStart: func(context.Context, client.ConnectStartInfo) context.Context { return nil }},
		client.Hooks{ConnectStart: func(ctx context.Context, _ client.ConnectStartInfo) context.Context {
			seen = ctx
			return nil
		}},
	)
	got := h.ConnectStart(base, client.ConnectStartInfo{})
	assert.Equal(t, base, seen)
	assert.Equal(t, base, got)
}

func TestChain_UnsetFieldsStayNilAndASingleHookIsItself(t *testing.T) {
	empty := Chain(client.Hooks{}, client.Hooks{})
	assert.Equal(t, client.Hooks{}, empty, "nothing set: every field nil, so the client skips them")
	assert.Equal(t, client.Hooks{}, Chain())

	n := 0
	h := Chain(client.Hooks{}, client.Hooks{ProtocolError: func(error) { n++ }}, client.Hooks{})
	assert.Nil(t, h.MessageStart)
	assert.Nil(t, h.StateChange)
	h.ProtocolError(nil)
	assert.Equal(t, 1, n)
}
