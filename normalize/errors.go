package normalize

import (
	"errors"
	"strconv"
)

// Sentinel errors of [Normalize]. Each is returned wrapped in a
// [*DecodeError]; match them with errors.Is.
var (
	// ErrMalformed: the frame is not valid JSON.
	ErrMalformed = errors.New("normalize: frame is not valid JSON; dropped")
	// ErrNotObject: the frame is JSON but not an object.
	ErrNotObject = errors.New("normalize: frame is not a JSON object; dropped")
	// ErrMissingType: the frame has no "type", or it is empty or not a string.
	ErrMissingType = errors.New(`normalize: frame has no string "type"; dropped`)
)

// snippetLen is the most bytes of a frame a DecodeError keeps.
const snippetLen = 64

// DecodeError is the error of a frame that could not be normalized.
type DecodeError struct {
	// Err is the reason: ErrMalformed, ErrNotObject or ErrMissingType.
	Err error
	// Snippet is the start of the frame (at most 64 bytes), for logs.
	Snippet string
}

// Error names the reason and quotes the start of the frame.
func (e *DecodeError) Error() string {
	return e.Err.Error() + " (frame begins " + strconv.Quote(e.Snippet) + ")"
}

// Unwrap returns Err, so that errors.Is matches the sentinel.
func (e *DecodeError) Unwrap() error { return e.Err }

func decodeError(reason error, raw []byte) *DecodeError {
	if len(raw) > snippetLen {
		raw = raw[:snippetLen]
	}
	return &DecodeError{Err: reason, Snippet: string(raw)}
}
