package queue_test

import (
	"errors"
	"fmt"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
)

func Example() {
	q := queue.New[string](queue.Config{Capacity: 2})

	// While the connection is down, frames wait. The newer typing frame of
	// chat c1 replaces the older one.
	push := func(typ, text string) {
		removed, err := q.Push(queue.Item[string]{Type: typ, ChatID: "c1", Value: text})
		for _, r := range removed {
			fmt.Printf("removed %q: %v\n", r.Item.Value, r.Err)
		}
		if err != nil {
			fmt.Printf("refused %q, full: %v\n", text, errors.Is(err, queue.ErrQueueFull))
		}
	}
	push(protocol.TypeTypingStart, "typing")
	push(protocol.TypeChatMessage, "hello")
	push(protocol.TypeTypingStop, "stopped typing")
	push(protocol.TypeChatMessage, "are you there?")
	push(protocol.TypeChatMessage, "one too many")

	// Once ready, the client drains the queue and writes the frames in order.
	live, _ := q.Drain()
	for _, it := range live {
		fmt.Println(it.Seq, it.Type, it.Value)
	}
	// Output:
	// removed "typing": queue: typing frame replaced by a newer typing frame of the same chat
	// removed "stopped typing": queue: evicted to make room for newer frames; send again, or raise the queue capacity
	// refused "one too many", full: true
	// 2 chat_message hello
	// 4 chat_message are you there?
}

func ExampleQueue_PutBack() {
	q := queue.New[string](queue.Config{})
	for _, text := range []string{"one", "two", "three"} {
		if _, err := q.Push(queue.Item[string]{Type: protocol.TypeChatMessage, ChatID: "c1", Value: text}); err != nil {
			fmt.Println(err)
		}
	}

	live, _ := q.Drain()
	// Suppose the socket broke after the first write: the rest go back to the
	// front, ahead of anything pushed meanwhile, for the next flush.
	_, _ = q.Push(queue.Item[string]{Type: protocol.TypeChatMessage, ChatID: "c1", Value: "four"})
	q.PutBack(live[1:])

	live, _ = q.Drain()
	for _, it := range live {
		fmt.Println(it.Value)
	}
	// Output:
	// two
	// three
	// four
}
