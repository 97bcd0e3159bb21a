package registry

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// NewClientMessageID returns a new client_message_id: a random (version 4)
// UUID in its canonical 36-character form. It is safe for concurrent use.
func NewClientMessageID() string {
	return uuid.NewString()
}

// FallbackID returns an id for a message the platform gave none:
// "temp_<unix-ms>_<8 lowercase hex>", where the milliseconds are those of now
// and the hex digits come from crypto/rand. It is safe for concurrent use.
func FallbackID(now time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never returns an error.
	b := make([]byte, 0, len("temp_")+20+1+8)
	b = append(b, "temp_"...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, '_')
	b = hex.AppendEncode(b, r[:])
	return string(b)
}
