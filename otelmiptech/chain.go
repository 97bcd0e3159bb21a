package otelmiptech

import (
	"context"

	"github.com/miptechnologies/miptech-go/client"
)

// Chain returns hooks that call each of hooks in turn, in the order given,
// so that the hooks of NewHooks and a service's own can observe one
// client:
//
//	otel, err := otelmiptech.NewHooks()
//	...
//	cfg.Hooks = otelmiptech.Chain(otel, client.Hooks{MessageDone: myMessageDone})
//
// A field set in none of hooks stays nil (and so costs nothing); a field
// set in one is that func itself. The context returned by a ConnectStart
// or MessageStart is given to the next one, so a hook after NewHooks's
// sees its span as the current one (trace.SpanFromContext); nil keeps the
// context. The later hooks of the attempt or message all get the last
// context.
func Chain(hooks ...client.Hooks) client.Hooks {
	return client.Hooks{
		ConnectStart: chainStart(hooks, func(h client.Hooks) func(context.Context, client.ConnectStartInfo) context.Context {
			return h.ConnectStart
		}),
		ConnectDone:         chainCtx(hooks, func(h client.Hooks) func(context.Context, client.ConnectDoneInfo) { return h.ConnectDone }),
		StateChange:         chain(hooks, func(h client.Hooks) func(client.StateChange) { return h.StateChange }),
		MessageStart:        chainStart(hooks, func(h client.Hooks) func(context.Context, client.MessageInfo) context.Context { return h.MessageStart }),
		MessageWritten:      chainCtx(hooks, func(h client.Hooks) func(context.Context, client.MessageInfo) { return h.MessageWritten }),
		MessageAcknowledged: chainCtx(hooks, func(h client.Hooks) func(context.Context, client.MessageInfo) { return h.MessageAcknowledged }),
		MessageFirstChunk:   chainCtx(hooks, func(h client.Hooks) func(context.Context, client.MessageInfo) { return h.MessageFirstChunk }),
		MessageDone:         chainCtx(hooks, func(h client.Hooks) func(context.Context, client.MessageDoneInfo) { return h.MessageDone }),
		Recovery:            chain(hooks, func(h client.Hooks) func(client.RecoveryInfo) { return h.Recovery }),
		QueueDrop:           chain(hooks, func(h client.Hooks) func(client.QueueDropInfo) { return h.QueueDrop }),
		DuplicateDropped:    chain(hooks, func(h client.Hooks) func(client.DuplicateInfo) { return h.DuplicateDropped }),
		ProtocolError:       chain(hooks, func(h client.Hooks) func(error) { return h.ProtocolError }),
	}
}

// chainStart chains the non-nil start hooks that get reads from hooks,
// passing each the context the one before returned.
func chainStart[I any](hooks []client.Hooks, get func(client.Hooks) func(context.Context, I) context.Context) func(context.Context, I) context.Context {
	var fs []func(context.Context, I) context.Context
	for _, h := range hooks {
		if f := get(h); f != nil {
			fs = append(fs, f)
		}
	}
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return func(ctx context.Context, info I) context.Context {
		for _, f := range fs {
			if next := f(ctx, info); next != nil {
				ctx = next
			}
		}
		return ctx
	}
}

// chainCtx chains the non-nil hooks with a context that get reads from
// hooks.
func chainCtx[I any](hooks []client.Hooks, get func(client.Hooks) func(context.Context, I)) func(context.Context, I) {
	var fs []func(context.Context, I)
	for _, h := range hooks {
		if f := get(h); f != nil {
			fs = append(fs, f)
		}
	}
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return func(ctx context.Context, info I) {
		for _, f := range fs {
			f(ctx, info)
		}
	}
}

// chain chains the non-nil hooks without a context that get reads from
// hooks.
func chain[I any](hooks []client.Hooks, get func(client.Hooks) func(I)) func(I) {
	var fs []func(I)
	for _, h := range hooks {
		if f := get(h); f != nil {
			fs = append(fs, f)
		}
	}
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return func(info I) {
		for _, f := range fs {
			f(info)
		}
	}
}
