package client

import (
	"context"
	"time"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
)

// joinOn sends join_chat for the chat on conn, unless it was sent there
// already: a chat opened while the connection joins every chat is joined
// once.
func (ch *Chat) joinOn(conn *wsConn) (sent bool) {
	if !conn.claimJoin(ch.key) {
		return false
	}
	ch.host.sendControl(protocol.TypeJoinChat, ch.joinFrame())
	return true
}

// joinedOnConn reports whether the platform confirmed the chat's join on
// conn.
func (ch *Chat) joinedOnConn(conn *wsConn) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.joinedOn == conn
}

// Join joins the chat on the connection again after Leave. It is idempotent.
func (ch *Chat) Join(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch.mu.Lock()
	if ch.closed {
		defer ch.mu.Unlock()
		return ch.closedErrLocked()
	}
	ch.left = false
	ch.mu.Unlock()
	return ch.host.addChat(ch)
}

// Leave sends leave_chat and stops the chat's deliveries until Join. It is
// idempotent. The platform no longer sends the chat's replies to this
// client, so the chat's messages still without an outcome fail at once with
// ErrChatLeft (those not yet written to the socket are never written); send
// them again after Join. Replies to them that arrive
// later are dropped. It returns ctx's error, without leaving, when ctx has
// ended.
func (ch *Chat) Leave(ctx context.Context) error {
	return ch.leave(ctx, ErrChatLeft)
}

// leave leaves the chat and fails its waiting messages with cause.
func (ch *Chat) leave(ctx context.Context, cause error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch.mu.Lock()
	if ch.left || ch.closed {
		ch.mu.Unlock()
		return nil
	}
	ch.left = true
	ch.setJoinedLocked(nil)
	id := ch.id
	ch.mu.Unlock()
	ch.host.removeChat(ch)
	ofChat := func(it queue.Item[*outMsg]) bool {
		if om := it.Value; om != nil {
			return om.chat == ch
		}
		return id != "" && it.ChatID == id
	}
	// The queue and what waits for the writer: it frees the backlog.
	if conn := ch.host.removeFrames(ofChat); conn != nil {
		conn.unclaimJoin(ch.key)
	}
	if id != "" {
		ch.host.sendControl(protocol.TypeLeaveChat, protocol.LeaveChat{ChatID: id})
	}
	ch.failWaiting(cause)
	return nil
}

// markJoined records that the platform confirmed the chat's join on conn.
func (ch *Chat) markJoined(conn *wsConn) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if !ch.left && !ch.closed {
		ch.setJoinedLocked(conn)
	}
}

// setJoinedLocked sets joinedOn and wakes the waiters for it. Called with
// ch.mu held.
func (ch *Chat) setJoinedLocked(conn *wsConn) {
	if ch.joinedOn == conn {
		return
	}
	ch.joinedOn = conn
	close(ch.joinSig)
	ch.joinSig = make(chan struct{})
}

// waitJoined blocks until the client is ready and the platform has
// confirmed the chat's join on the current connection, so that the replies
// to a message posted over REST reach this client. It starts the connection
// if none runs. When the confirmation does not come within
// Config.JoinTimeout of the first wait, it logs and returns nil (the
// platform may register the chat on its first message), and the chat counts
// as joined on that connection. It returns the error of a connection that
// failed, ErrClosed, ErrChatLeft, or ctx's error.
func (ch *Chat) waitJoined(ctx context.Context) error {
	var timer clock.Timer
	var expired <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if err := ch.host.connectLazy(ctx); err != nil {
			return err
		}
		conn := ch.host.currentConn()
		ch.mu.Lock()
		joined, sig, left, closed, closedErr := conn != nil && ch.joinedOn == conn, ch.joinSig, ch.left, ch.closed, ch.closedErrLocked()
		ch.mu.Unlock()
		switch {
		case closed:
			return closedErr
		case left:
			return ErrChatLeft
		case joined:
			return nil
		}
		if timer == nil {
			timer = ch.clock.NewTimer(ch.cfg.JoinTimeout)
			expired = timer.C()
		}
		select {
		case <-sig:
		case <-expired:
			// The platform registers the chat on its first message: later
			// sends on this connection do not wait again.
			ch.log.Warn("miptech: no chat_joined in time; posting anyway", "chat_id", ch.ID())
			ch.markJoined(conn)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-ch.host.closing():
			return ErrClosed
		}
	}
}
