package registry_test

import (
	"fmt"
	"time"

	"github.com/miptechnologies/miptech-go/registry"
)

// The life of one exchange as the client records it: the ledger is told
// what happened and answers with what to do. A replayed reply is known for
// a duplicate.
func Example() {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	l := registry.NewLedger(registry.LedgerConfig{})
	const chat registry.ChatKey = 1
	l.Add(chat, "7b0c3c1e-5a8e-4e0b-9d4f-2f6f4c1b8a10", "hello", nil, now)

	var out []registry.Decision
	out = l.Written("7b0c3c1e-5a8e-4e0b-9d4f-2f6f4c1b8a10", 1, now, out)
	// message_received names the platform's id for the message.
	out = l.Step(registry.Input{Kind: registry.InAck, Chat: chat, ClientID: "7b0c3c1e-5a8e-4e0b-9d4f-2f6f4c1b8a10", MessageID: "msg-42", Conn: 1}, now, out)
	// The reply names only the platform's id.
	out = l.Step(registry.Input{Kind: registry.InChunk, Chat: chat, MessageID: "msg-42", Text: "Hi", Conn: 1}, now, out)
	out = l.Step(registry.Input{Kind: registry.InComplete, Chat: chat, MessageID: "msg-42", Conn: 1}, now, out)
	out = l.Step(registry.Input{Kind: registry.InComplete, Chat: chat, MessageID: "msg-42", Conn: 1}, now, out)
	for _, d := range out {
		switch d.Kind {
		case registry.DecideStatus:
			fmt.Println(d.Kind, d.From, "→", d.To)
		case registry.DecideChunk:
			fmt.Println(d.Kind, d.Piece.Index, d.Piece.Text)
		case registry.DecideComplete:
			fmt.Println(d.Kind, d.Text)
		default:
			fmt.Println(d.Kind)
		}
	}
	fmt.Println(l.Len())

	// Output:
	// status sending → sent
	// status sent → delivered
	// chunk 0 Hi
	// status delivered → answered
	// complete Hi
	// duplicate
	// 0
}

// The client records each inbound event's key before dispatching it and
// drops the event when the key was already seen.
func ExampleDedup_Seen() {
	seen := registry.NewDedup(0, 0, nil) // 4096 keys, 5 min
	for _, key := range []string{"response_complete:msg-43", "response_complete:msg-43", ""} {
		if seen.Seen(key) {
			fmt.Println("drop", key)
			continue
		}
		fmt.Printf("dispatch %q\n", key)
	}
	fmt.Println(seen.Len(), seen.Dropped())

	// Output:
	// dispatch "response_complete:msg-43"
	// drop response_complete:msg-43
	// dispatch ""
	// 1 1
}

func ExampleFallbackID() {
	id := registry.FallbackID(time.UnixMilli(1_740_830_400_000))
	fmt.Println(id[:len("temp_1740830400000_")], len(id))

	// Output:
	// temp_1740830400000_ 27
}
