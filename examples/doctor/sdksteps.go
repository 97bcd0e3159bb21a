package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
)

// join connects a client of the SDK (package client) as an application
// would, opens a new chat, and waits for the platform to confirm it.
func (d *doctor) join(ctx context.Context) outcome {
	cfg := client.Config{
		APIURL:           d.set.apiURL,
		TenantID:         d.set.tenant,
		APIKey:           d.set.apiKey,
		Protocol:         d.set.protocol,
		AllowInsecure:    d.set.allowInsecure,
		RESTTimeout:      d.set.timeout,
		HandshakeTimeout: d.set.timeout,
		ReadyTimeout:     d.set.timeout,
		JoinTimeout:      d.set.timeout,
		ResponseTimeout:  d.set.replyTimeout,
		MaxRetries:       -1, // one attempt: the doctor reports, it does not retry
		RESTRetries:      -1,
	}
	if d.set.wsURL != "" {
		cfg.WSURL = d.set.ws.String()
	}
	c, err := client.New(cfg)
	if err != nil {
		return fail(err.Error(), "the SDK refused the settings", "correct the setting named above")
	}
	d.c = c
	confirmed := make(chan string, 16) // chat ids of chat_joined and chat_created
	c.OnEvent(func(ev normalize.Event) {
		if ev.Type == protocol.TypeChatJoined || ev.Type == protocol.TypeChatCreated {
			select {
			case confirmed <- ev.ChatID:
			default:
			}
		}
	})
	start := time.Now()
	if err := c.Connect(ctx); err != nil {
		return sdkFailure("connect", err, d.set.timeout)
	}
	connected := time.Since(start)
	chat, err := c.NewChat(ctx, client.ChatOptions{Title: "doctor"})
	if err != nil {
		return sdkFailure("create a chat", err, d.set.timeout)
	}
	d.chat = chat
	for {
		select {
		case id := <-confirmed:
			if id == "" || id != chat.ID() {
				continue
			}
			o := ok("chat %s created and joined (client ready after %s, %s form)",
				id, connected.Round(10*time.Microsecond), c.Stats().Protocol)
			o.timings = map[string]float64{"connect": ms(connected)}
			return o
		case <-ctx.Done():
			return fail(fmt.Sprintf("chat %s: no chat_joined or chat_created within %s", chat.ID(), 2*d.set.timeout),
				"the platform did not confirm the join", "retry; if it persists, check the platform's chat service")
		}
	}
}

// roundTrip sends one message and waits for its complete reply, timing
// the acknowledgement, the first chunk and the completion.
func (d *doctor) roundTrip(ctx context.Context) outcome {
	var (
		mu         sync.Mutex
		ack, first time.Duration
		complete   time.Duration
		chunks     int
		completed  = make(chan struct{})
		once       sync.Once
		start      time.Time
	)
	since := func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return time.Since(start)
	}
	// The chat holds only this message: every event is about it.
	defer d.c.OnEvent(func(ev normalize.Event) {
		if ev.Type == protocol.TypeMessageReceived {
			t := since()
			mu.Lock()
			if ack == 0 {
				ack = t
			}
			mu.Unlock()
		}
	})()
	defer d.chat.OnChunk(func(client.ChunkEvent) {
		t := since()
		mu.Lock()
		if chunks++; chunks == 1 {
			first = t
		}
		mu.Unlock()
	})()
	// Callbacks run in order: once this one has run, the ones before it
	// have. The times are taken in the callbacks, all on one goroutine, so
	// that they keep the order of the events.
	defer d.chat.OnComplete(func(client.CompleteEvent) {
		t := since()
		once.Do(func() {
			mu.Lock()
			complete = t
			mu.Unlock()
			close(completed)
		})
	})()

	mu.Lock()
	start = time.Now()
	mu.Unlock()
	m, err := d.chat.Send(ctx, d.set.message)
	if err != nil {
		return sdkFailure("send", err, d.set.replyTimeout)
	}
	reply, err := m.Wait(ctx)
	if err != nil {
		return sdkFailure("wait for the reply", err, d.set.replyTimeout)
	}
	select {
	case <-completed:
	case <-ctx.Done():
		return fail("the reply came but its complete event did not", "the SDK's callbacks are stalled", "report it")
	}
	mu.Lock()
	defer mu.Unlock()
	o := ok("")
	o.timings = map[string]float64{"complete": ms(complete)}
	ackText := "none (no message_received)"
	switch {
	case ack > 0:
		ackText = ack.Round(10 * time.Microsecond).String()
		o.timings["ack"] = ms(ack)
	case d.tenantApp:
		ackText = "none (the tenant-app form sends no message_received)"
	}
	firstText := "none"
	if chunks > 0 {
		firstText = first.Round(10 * time.Microsecond).String()
		o.timings["first_chunk"] = ms(first)
	}
	text := reply.Text
	if r := []rune(text); len(r) > 60 {
		text = string(r[:60]) + "…"
	}
	o.detail = fmt.Sprintf("ack %s, first chunk %s, complete %s; %d chunks, reply %q",
		ackText, firstText, complete.Round(10*time.Microsecond), reply.Chunks, text)
	return o
}

// sdkFailure names the cause and fix of an SDK call that failed after the
// raw steps passed.
func sdkFailure(what string, err error, limit time.Duration) outcome {
	detail := what + ": " + err.Error()
	var (
		pe *client.PlatformError
		ce *client.ConnectError
	)
	switch {
	case errors.Is(err, client.ErrResponseTimeout), errors.Is(err, context.DeadlineExceeded):
		return fail(detail, fmt.Sprintf("no answer within %s", limit),
			"the platform or its AI service is slow or down; retry, or raise -timeout / -reply-timeout")
	case errors.As(err, &pe):
		return fail(detail, "the platform answered with an error", "read the error above; retry later if the platform says so")
	case errors.As(err, &ce):
		return fail(detail, "the SDK's connection failed where the doctor's own steps passed",
			"run again; if it persists, compare the settings of your application with these")
	}
	return fail(detail, "the SDK call failed", "read the error above")
}
