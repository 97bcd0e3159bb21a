package normalize_test

import (
	"fmt"
	"time"

	"github.com/miptechnologies/miptech-go/normalize"
)

// A legacy frame: an alias type, the payload under "payload", camelCase ids
// and a time in seconds.
func ExampleNormalize() {
	frame := []byte(`{"type":"message_chunk","payload":{"messageId":"msg-7","chatId":"chat-1","chunk":"Hel","sequence_number":2},"timestamp":1718000000}`)
	ev, err := normalize.Normalize(frame, time.Now())
	if err != nil {
		fmt.Println("dropped:", err)
		return
	}
	fmt.Println(ev.Type, "from", ev.RawType)
	fmt.Println("chat", ev.ChatID, "message", ev.MessageID)
	fmt.Printf("text %q, sequence %d\n", ev.Text, ev.Sequence)
	fmt.Println("time", ev.Time.Format(time.RFC3339))
	fmt.Println("payload", string(ev.Data))
	fmt.Println("key", ev.Key)

	_, err = normalize.Normalize([]byte(`{"data":{}}`), time.Now())
	fmt.Println(err)
	// Output:
	// response_chunk from message_chunk
	// chat chat-1 message msg-7
	// text "Hel", sequence 2
	// time 2024-06-10T06:13:20Z
	// payload {"messageId":"msg-7","chatId":"chat-1","chunk":"Hel","sequence_number":2}
	// key response_chunk|msg-7|2
	// normalize: frame has no string "type"; dropped (frame begins "{\"data\":{}}")
}
