package client

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/miptechnologies/miptech-go/normalize"
)

// MaxChatIDBytes is the longest chat id the SDK accepts, in bytes.
const MaxChatIDBytes = 256

// checkChatID returns a *ValidationError (matching ErrValidation) when id
// cannot be a chat id: empty or blank, "." or ".." (a dot segment would
// change the REST path a chat id is put in), a slash or backslash, a control
// character, invalid UTF-8, or more than MaxChatIDBytes bytes. The id itself
// is not quoted in the error: it may come from the platform.
func checkChatID(id string) error {
	reason := ""
	switch {
	case strings.TrimSpace(id) == "":
		reason = "empty chat id"
	case id == "." || id == "..":
		reason = fmt.Sprintf("chat id %q is a dot segment, which would change the request path", id)
	case len(id) > MaxChatIDBytes:
		reason = fmt.Sprintf("chat id has %d bytes; the limit is %d", len(id), MaxChatIDBytes)
	case !utf8.ValidString(id):
		reason = "chat id is not valid UTF-8"
	case strings.ContainsAny(id, `/\`):
		reason = "chat id contains a slash or a backslash"
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		reason = "chat id contains a control character"
	}
	if reason == "" {
		return nil
	}
	return &ValidationError{Reason: reason}
}

// admit is the boundary of every inbound frame, right after it is decoded:
// it refuses a frame whose chat id is not a valid one (nothing is learned
// from it and nothing is sent in answer; the caller counts and logs it as a
// protocol error) and takes the client's credentials out of the event's
// strings.
func (c *Client) admit(ev normalize.Event) (normalize.Event, error) {
	if ev.ChatID != "" {
		if err := checkChatID(ev.ChatID); err != nil {
			ev.ChatID = ""
			ev = c.cfg.secrets.event(ev)
			return ev, fmt.Errorf("client: %s frame dropped: %w", quoteID(ev.Type), err)
		}
	}
	return c.cfg.secrets.event(ev), nil
}
