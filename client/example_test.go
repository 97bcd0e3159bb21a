package client_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
)

// Connect to a platform, watch the state changes, and close.
func Example() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()

	c, err := client.New(client.Config{APIURL: srv.URL(), TenantID: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	c.OnStateChange(func(sc client.StateChange) {
		fmt.Println(sc.Previous, "→", sc.Current)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// disconnected → connecting
	// connecting → connected
	// connected → ready
	// ready → disconnected
}

// Ask a question and wait for the complete reply.
func ExampleChat_Ask() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	c, err := client.New(client.Config{APIURL: srv.URL(), TenantID: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	chat, err := c.NewChat(ctx, client.ChatOptions{Title: "support"})
	if err != nil {
		log.Fatal(err)
	}
	reply, err := chat.Ask(ctx, "What are your opening hours?")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply.Text)
	fmt.Println(reply.Model)
	// Output:
	// Echo: What are your opening hours?
	// fake-llm-1
}

// Stream a reply as it arrives.
func ExampleChat_Stream() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	c, err := client.New(client.Config{APIURL: srv.URL(), TenantID: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	chat, err := c.NewChat(ctx, client.ChatOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for chunk, err := range chat.Stream(ctx, "tell me a story") {
		if err != nil {
			log.Fatal(err)
		}
		if chunk.Done {
			fmt.Printf("\n(%d chunks)\n", chunk.Reply.Chunks)
			break
		}
		fmt.Printf("[%s]", chunk.Text)
	}
	// Output:
	// [Echo: tell ][me a ][story]
	// (3 chunks)
}

// Callbacks run on one goroutine, in order; use them to drive a UI.
func ExampleChat_OnChunk() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	c, err := client.New(client.Config{APIURL: srv.URL(), TenantID: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	chat, err := c.NewChat(ctx, client.ChatOptions{})
	if err != nil {
		log.Fatal(err)
	}
	var text strings.Builder
	done := make(chan struct{})
	chat.OnChunk(func(e client.ChunkEvent) { text.WriteString(e.Text) })
	chat.OnComplete(func(e client.CompleteEvent) {
		fmt.Println("streamed: ", text.String())
		fmt.Println("complete: ", e.Reply.Text)
		close(done)
	})
	if _, err := chat.Send(ctx, "hello there"); err != nil {
		log.Fatal(err)
	}
	<-done
	// Output:
	// streamed:  Echo: hello there
	// complete:  Echo: hello there
}

// One client holds many conversations; each reply reaches its own chat.
func ExampleClient_NewChat() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	c, err := client.New(client.Config{APIURL: srv.URL(), TenantID: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice, err := c.NewChat(ctx, client.ChatOptions{VisitorID: "alice"})
	if err != nil {
		log.Fatal(err)
	}
	bob, err := c.NewChat(ctx, client.ChatOptions{VisitorID: "bob"})
	if err != nil {
		log.Fatal(err)
	}
	// Both messages are in flight at once; each reply reaches its own chat.
	ma, err := alice.Send(ctx, "I am Alice")
	if err != nil {
		log.Fatal(err)
	}
	mb, err := bob.Send(ctx, "I am Bob")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range []*client.Message{ma, mb} {
		r, err := m.Wait(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(r.Text)
	}
	// Output:
	// Echo: I am Alice
	// Echo: I am Bob
}

// Test your own code against the fake platform, with a fault injected: the
// platform drops every connection after the first reply, and the next
// question is answered after the client reconnects.
func Example_testingWithPlatformtest() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Chunks: []string{"We open at ", "9 am."}}
	})
	c, err := client.New(client.Config{APIURL: srv.URL(), TenantID: "acme", InitialBackoff: 10 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	chat, err := c.NewChat(ctx, client.ChatOptions{})
	if err != nil {
		log.Fatal(err)
	}
	r1, err := chat.Ask(ctx, "When do you open?")
	if err != nil {
		log.Fatal(err)
	}
	srv.DropAll(1001) // the platform restarts
	r2, err := chat.Ask(ctx, "And on Sunday?")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r1.Text)
	fmt.Println(r2.Text)
	fmt.Println("handshakes:", srv.Handshakes())
	// Output:
	// We open at 9 am.
	// We open at 9 am.
	// handshakes: 2
}
