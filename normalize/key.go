package normalize

import (
	"strconv"

	"github.com/miptechnologies/miptech-go/protocol"
)

// keySep separates the parts of a dedup key.
const keySep = '|'

// key computes the dedup key of ev by the rules documented on [Normalize].
// explicit reports whether the frame carried its own time; hashed is the
// content hashed into a time-based key.
func key(ev *Event, explicit bool, hashed []byte) string {
	switch ev.Type {
	case protocol.TypePing, protocol.TypePong, protocol.TypeConnectionEstablished,
		protocol.TypeInitializationProgress, protocol.TypeConnectionReady:
		return ""
	case protocol.TypeResponseChunk:
		if !ev.HasSequence {
			return ""
		}
		id := ev.MessageID
		if id == "" {
			id = ev.ChatID
		}
		if id == "" {
			return ""
		}
		var buf [96]byte
		b := append(buf[:0], ev.Type...)
		b = append(b, keySep)
		b = append(b, id...)
		b = append(b, keySep)
		b = strconv.AppendInt(b, ev.Sequence, 10)
		return string(b)
	}
	if ev.MessageID != "" {
		return ev.Type + string(keySep) + ev.MessageID
	}
	if !explicit {
		return ""
	}
	var buf [128]byte
	b := append(buf[:0], ev.Type...)
	b = append(b, keySep)
	b = append(b, ev.ChatID...)
	b = append(b, keySep)
	b = strconv.AppendInt(b, ev.Time.Unix(), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(ev.Time.Nanosecond()), 10)
	b = append(b, keySep)
	b = strconv.AppendUint(b, fnv1a(hashed), 16)
	return string(b)
}

// fnv1a returns the 64-bit FNV-1a hash of b.
func fnv1a(b []byte) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for _, c := range b {
		h ^= uint64(c)
		h *= prime
	}
	return h
}
