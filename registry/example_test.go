package registry_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/miptechnologies/miptech-go/registry"
)

// The life of one exchange as the client records it: the user message is
// registered, written, acknowledged under the platform's id and answered; a
// replayed acknowledgement cannot move it back.
func Example() {
	clock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	reg := registry.New(registry.Config{Now: func() time.Time { return clock }})

	m, _ := reg.Register(registry.Message{ClientID: "7b0c3c1e-5a8e-4e0b-9d4f-2f6f4c1b8a10", ChatID: "chat-1", Text: "hello"})
	_, _, _ = reg.Transition(m.ClientID, registry.StatusSent, nil)

	// message_received names the platform's id for the message.
	_ = reg.MapServerID(m.ClientID, "msg-42")
	_, _, _ = reg.Transition("msg-42", registry.StatusDelivered, nil)

	// The reply arrives without an id: it answers the oldest delivered one.
	oldest, _ := reg.OldestPending("chat-1", registry.StatusDelivered)
	got, changed, _ := reg.Transition(oldest.ClientID, registry.StatusAnswered, nil)
	fmt.Println(got.ServerID, got.Status, changed)

	_, _, err := reg.Transition("msg-42", registry.StatusDelivered, nil)
	fmt.Println(errors.Is(err, registry.ErrIllegalTransition))
	fmt.Println(err)
	fmt.Println(len(reg.Pending("chat-1")))

	// Output:
	// msg-42 answered true
	// true
	// registry: message msg-42 cannot go from answered to delivered
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
