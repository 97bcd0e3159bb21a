package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/client"
)

// The raw client is the baseline the SDK is measured against (-client raw
// and both): a minimal hand-written gorilla/websocket client of the REST
// form of the protocol (SPEC §2.1–2.2) doing what the SDK does in the load
// and idle modes, and nothing more. Each one is one connection and one
// reader goroutine; the chats' goroutines write under a mutex and wait on a
// channel for the response_complete carrying their client_message_id. It
// creates its chats over REST as the SDK does, dials with the same query
// and headers, waits for connection_ready, joins every chat and waits for
// every chat_joined. It pings every client.DefaultPingInterval (a timer,
// no goroutine), as the SDK does, so that idle holds longer than the
// interval cost both the same wire work, and answers a server ping. It
// uses the gorilla settings the SDK uses (4 KiB read and write buffers,
// write buffers from a shared pool), so that the comparison measures the
// SDK's own structure rather than buffer choices. It does not reconnect,
// deduplicate, queue or recover: it is not a client to ship.

// rawReadyTimeout and rawJoinTimeout bound the handshake as the SDK's
// defaults do.
const (
	rawReadyTimeout = client.DefaultReadyTimeout
	rawJoinTimeout  = client.DefaultJoinTimeout
)

// errRawLost is the failure of a message whose connection ended.
var errRawLost = errors.New("raw client: connection lost before the reply completed")

// rawWriteBuffers is the write-buffer pool every raw connection shares.
var rawWriteBuffers = &sync.Pool{}

// rawClient is one raw connection and the replies it waits for.
type rawClient struct {
	ws       *websocket.Conn
	tenant   string
	clientID string // from connection_established; read-only once ready

	wmu  sync.Mutex // gorilla allows one writer at a time; guards ping too
	ping *time.Timer

	mu    sync.Mutex
	waits map[string]*rawWait // by client_message_id

	closing atomic.Bool
	lost    atomic.Bool   // the reader ended; set before the waits fail
	done    chan struct{} // closed when the reader ends
}

// rawWait is one message waiting for its reply.
type rawWait struct {
	first time.Time // the first chunk; written by the reader before done
	text  []byte    // the reply so far
	done  chan error
}

// rawFrame is what the raw client decodes of an inbound frame.
type rawFrame struct {
	Type string `json:"type"`
	Data struct {
		ChatID          string `json:"chat_id"`
		ClientID        string `json:"client_id"`
		ClientMessageID string `json:"client_message_id"`
		Content         string `json:"content"`
		Code            string `json:"code"`
	} `json:"data"`
}

// rawOut is an outbound frame.
type rawOut struct {
	Type      string `json:"type"`
	Data      any    `json:"data"`
	Timestamp int64  `json:"timestamp"`
	ClientID  string `json:"client_id,omitempty"`
}

// rawChatMessage is the payload of chat_message.
type rawChatMessage struct {
	Message         string `json:"message"`
	ChatID          string `json:"chat_id"`
	TenantID        string `json:"tenant_id"`
	ClientMessageID string `json:"client_message_id"`
	Stream          bool   `json:"stream"`
}

// rawEndpoint is where and as whom raw clients connect.
type rawEndpoint struct {
	apiURL, wsURL, tenant, apiKey string
	http                          *http.Client
}

// newRawEndpoint derives the endpoint from the SDK's config: the WebSocket
// base defaults to the API URL with http → ws, as in SPEC §2.1.
func newRawEndpoint(cfg client.Config) rawEndpoint {
	ws := strings.TrimRight(cfg.WSURL, "/")
	api := strings.TrimRight(cfg.APIURL, "/")
	if ws == "" {
		ws = "ws" + strings.TrimPrefix(api, "http")
	}
	return rawEndpoint{apiURL: api, wsURL: ws, tenant: cfg.TenantID, apiKey: cfg.APIKey, http: cfg.HTTPClient}
}

// header returns the tenant headers, sent on REST and on the handshake.
func (e rawEndpoint) header() http.Header {
	h := http.Header{}
	h.Set("X-Tenant-ID", e.tenant)
	h.Set("X-Tenant", e.tenant)
	h.Set("Tenant-ID", e.tenant)
	h.Set("User-Agent", "miptech-loadtest-raw")
	if e.apiKey != "" {
		h.Set("X-API-Key", e.apiKey)
	}
	return h
}

// createChat creates a chat over REST and returns its id.
func (e rawEndpoint) createChat(ctx context.Context, title string) (string, error) {
	body, _ := json.Marshal(map[string]string{"title": title})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.apiURL+"/api/v1/chat/", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header = e.header()
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create chat: HTTP %d", resp.StatusCode)
	}
	var out struct {
		ChatID string `json:"chat_id"`
		ID     string `json:"id"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return "", fmt.Errorf("create chat: %w", err)
	}
	if out.ChatID == "" {
		out.ChatID = out.ID
	}
	if out.ChatID == "" {
		return "", errors.New("create chat: no chat id in the answer")
	}
	return out.ChatID, nil
}

// dialRaw connects a raw client, waits for connection_ready, joins chats
// and waits for each chat_joined, then starts its reader.
func dialRaw(ctx context.Context, e rawEndpoint, chats []string) (*rawClient, error) {
	q := url.Values{}
	q.Set("tenant_id", e.tenant)
	if len(chats) > 0 {
		q.Set("chat_id", chats[0])
	}
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: client.DefaultHandshakeTimeout,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		WriteBufferPool:  rawWriteBuffers,
	}
	ws, resp, err := d.DialContext(ctx, e.wsURL+"/api/v1/ws/chat?"+q.Encode(), e.header())
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &rawClient{ws: ws, tenant: e.tenant, waits: map[string]*rawWait{}, done: make(chan struct{})}
	if err := c.handshake(ctx, chats); err != nil {
		_ = ws.Close()
		return nil, err
	}
	go c.read()
	c.wmu.Lock()
	c.ping = time.AfterFunc(client.DefaultPingInterval, c.sendPing)
	c.wmu.Unlock()
	return c, nil
}

// handshake reads until connection_ready, then joins chats and reads until
// every one is acknowledged. It runs before the reader starts.
func (c *rawClient) handshake(ctx context.Context, chats []string) error {
	deadline := time.Now().Add(rawReadyTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.ws.SetReadDeadline(deadline)
	for ready := false; !ready; {
		f, err := c.readFrame()
		if err != nil {
			return fmt.Errorf("waiting for connection_ready: %w", err)
		}
		switch f.Type {
		case "connection_established":
			c.clientID = f.Data.ClientID
		case "connection_ready":
			ready = true
		}
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(rawJoinTimeout))
	pending := make(map[string]bool, len(chats))
	for _, id := range chats {
		pending[id] = true
		if err := c.write("join_chat", map[string]string{"chat_id": id}); err != nil {
			return fmt.Errorf("join_chat: %w", err)
		}
	}
	for len(pending) > 0 {
		f, err := c.readFrame()
		if err != nil {
			return fmt.Errorf("waiting for chat_joined (%d of %d left): %w", len(pending), len(chats), err)
		}
		if f.Type == "chat_joined" {
			delete(pending, f.Data.ChatID)
		}
	}
	return c.ws.SetReadDeadline(time.Time{})
}

// readFrame reads and decodes one frame.
func (c *rawClient) readFrame() (rawFrame, error) {
	var f rawFrame
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return f, err
	}
	err = json.Unmarshal(b, &f)
	return f, err
}

// write encodes and writes one frame.
func (c *rawClient) write(typ string, data any) error {
	b, err := json.Marshal(rawOut{Type: typ, Data: data, Timestamp: time.Now().UnixMilli(), ClientID: c.clientID})
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// sendPing is the keepalive timer's function: it writes a ping and arms
// the next one.
func (c *rawClient) sendPing() {
	if c.closing.Load() {
		return
	}
	if err := c.write("ping", map[string]int64{"ts": time.Now().UnixMilli()}); err != nil {
		return
	}
	c.wmu.Lock()
	if !c.closing.Load() {
		c.ping.Reset(client.DefaultPingInterval)
	}
	c.wmu.Unlock()
}

// read is the reader goroutine: it routes chunks, completions and errors
// to the waiting message by client_message_id, answers pings, and fails
// every waiting message when the connection ends.
func (c *rawClient) read() {
	defer close(c.done)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.lost.Store(true)
			c.failAll(errRawLost)
			return
		}
		var f rawFrame
		if json.Unmarshal(b, &f) != nil {
			continue // not a frame this client understands
		}
		switch f.Type {
		case "response_chunk", "message_chunk":
			c.mu.Lock()
			if w := c.waits[f.Data.ClientMessageID]; w != nil {
				if w.first.IsZero() {
					w.first = time.Now()
				}
				w.text = append(w.text, f.Data.Content...)
			}
			c.mu.Unlock()
		case "response_complete", "message_complete":
			c.finish(f.Data.ClientMessageID, nil)
		case "error":
			c.finish(f.Data.ClientMessageID, fmt.Errorf("platform error %q", f.Data.Code))
		case "ping":
			_ = c.write("pong", map[string]int64{"ts": time.Now().UnixMilli()})
		}
	}
}

// finish ends the wait of message id, if any.
func (c *rawClient) finish(id string, err error) {
	c.mu.Lock()
	w := c.waits[id]
	delete(c.waits, id)
	c.mu.Unlock()
	if w != nil {
		w.done <- err
	}
}

// failAll ends every wait with err.
func (c *rawClient) failAll(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, w := range c.waits {
		w.done <- err
		delete(c.waits, id)
	}
}

// ask sends text to chatID and waits for the complete reply (or ctx's
// end). It returns when the first chunk came (zero for a reply without
// chunks) and whether the message was written.
func (c *rawClient) ask(ctx context.Context, chatID, text string) (first time.Time, sent bool, err error) {
	id := uuid.NewString()
	w := &rawWait{done: make(chan error, 1)}
	c.mu.Lock()
	c.waits[id] = w
	c.mu.Unlock()
	if c.lost.Load() {
		c.finish(id, nil)
		return first, false, errRawLost
	}
	err = c.write("chat_message", rawChatMessage{Message: text, ChatID: chatID, TenantID: c.tenant, ClientMessageID: id, Stream: true})
	if err != nil {
		c.finish(id, nil)
		return first, false, fmt.Errorf("%w: %w", errRawLost, err)
	}
	select {
	case err := <-w.done:
		return w.first, true, err
	case <-c.done:
		select {
		case err := <-w.done: // answered just before the end
			return w.first, true, err
		default:
		}
		c.finish(id, nil)
		return first, true, errRawLost
	case <-ctx.Done():
		c.finish(id, nil)
		return first, true, ctx.Err()
	}
}

// close sends a close frame, closes the socket and waits for the reader.
func (c *rawClient) close() {
	c.closing.Store(true)
	c.wmu.Lock()
	if c.ping != nil {
		c.ping.Stop()
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
	<-c.done
}
