package client_test

// The code of README.md, compiled and run. Keep the two in step.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// readmeUsage is the README's usage section, with apiURL in place of the
// production URL.
func readmeUsage(ctx context.Context, apiURL string) error {
	c, err := client.New(client.Config{
		APIURL:   apiURL,
		TenantID: "acme",
		APIKey:   os.Getenv("MIPTECH_API_KEY"),
	})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())

	chat, err := c.NewChat(ctx, client.ChatOptions{Title: "support"})
	if err != nil {
		return err
	}
	reply, err := chat.Ask(ctx, "What are your opening hours?")
	if err != nil {
		return err
	}
	fmt.Println(reply.Text, reply.Model, reply.TotalTokens)

	for chunk, err := range chat.Stream(ctx, "Tell me more") {
		if err != nil {
			return err
		}
		fmt.Print(chunk.Text) // the last value has chunk.Done and chunk.Reply
	}
	fmt.Println()
	return nil
}

// readmeErrors is the README's error section.
func readmeErrors(ctx context.Context, chat *client.Chat, text string) string {
	_, err := chat.Ask(ctx, text)
	switch {
	case errors.Is(err, client.ErrValidation):
		return "validation"
	case errors.Is(err, client.ErrQueueFull):
		return "queue full"
	case errors.Is(err, client.ErrResponseTimeout):
		return "timeout"
	case errors.Is(err, client.ErrRateLimited):
		return "rate limited"
	case errors.Is(err, client.ErrFailed):
		return "failed"
	case errors.Is(err, client.ErrChatLeft):
		return "left"
	case errors.Is(err, client.ErrClosed):
		return "closed"
	}
	var ce *client.ConnectError
	var pe *client.PlatformError
	var re *client.RateLimitError
	var ae *protocol.APIError
	var rd *client.RedirectError
	switch {
	case errors.As(err, &ce), errors.As(err, &pe), errors.As(err, &re), errors.As(err, &ae), errors.As(err, &rd):
		return "typed"
	}
	return "ok"
}

// readmeTokenSource is the README's credentials section: a token source
// that caches the token and renews it a minute before it expires.
func readmeTokenSource(apiURL string, fetchToken func(context.Context) (string, time.Time, error)) (*client.Client, error) {
	var (
		mu      sync.Mutex
		token   string
		expires time.Time
	)
	c, err := client.New(client.Config{
		APIURL:   apiURL,
		TenantID: "acme",
		APIKey:   os.Getenv("MIPTECH_API_KEY"),
		Token: func(ctx context.Context) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if time.Until(expires) < time.Minute {
				t, exp, err := fetchToken(ctx) // your identity provider
				if err != nil {
					return "", err
				}
				token, expires = t, exp
			}
			return token, nil
		},
	})
	return c, err
}

func TestREADME_TokenSource(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	var fetched int
	c, err := readmeTokenSource(srv.URL(), func(context.Context) (string, time.Time, error) {
		fetched++
		return fmt.Sprint("token-", fetched), time.Now().Add(time.Hour), nil
	})
	require.NoError(t, err)
	defer c.Close(context.Background())
	chat, err := c.NewChat(t.Context(), client.ChatOptions{})
	require.NoError(t, err)
	_, err = chat.Ask(t.Context(), "hello")
	require.NoError(t, err)
	require.Equal(t, 1, fetched, "the token is cached")
	for _, r := range srv.RESTRequests() {
		require.Equal(t, "Bearer token-1", r.Header.Get("Authorization"))
	}
}

// readmeStateLoop is the README's iterator example; it returns when ctx
// ends or the client is closed.
func readmeStateLoop(ctx context.Context, c *client.Client) {
	for sc := range c.StateChanges(ctx) {
		log.Printf("connection %s → %s", sc.Previous, sc.Current)
	}
}

func Example_readme() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := readmeUsage(ctx, srv.URL()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Echo: What are your opening hours? fake-llm-1 11
	// Echo: Tell me more
}

func TestREADME_ErrorSwitch(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	c, err := client.New(client.Config{APIURL: srv.URL(), TenantID: "acme"})
	require.NoError(t, err)
	defer c.Close(context.Background())
	chat, err := c.NewChat(t.Context(), client.ChatOptions{})
	require.NoError(t, err)
	require.Equal(t, "validation", readmeErrors(t.Context(), chat, " "))
	require.Equal(t, "ok", readmeErrors(t.Context(), chat, "fine"))
}

func TestREADME_StateLoopEndsWithItsContext(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	c, err := client.New(client.Config{APIURL: srv.URL(), TenantID: "acme"})
	require.NoError(t, err)
	defer c.Close(context.Background())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		readmeStateLoop(ctx, c)
	}()
	require.NoError(t, c.Connect(t.Context()))
	cancel()
	<-done
}

// TestSupportBot is the README's platformtest section.
func TestSupportBot(t *testing.T) {
	ctx := t.Context()
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Chunks: []string{"We open ", "at 9."}}
	})

	c, err := client.New(client.Config{APIURL: srv.URL(), TenantID: "acme", InitialBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close(context.Background())
	chat, err := c.NewChat(ctx, client.ChatOptions{})
	require.NoError(t, err)

	srv.DropAll(1001) // a platform restart in the middle of the conversation
	reply, err := chat.Ask(ctx, "When do you open?")
	require.NoError(t, err)
	require.Equal(t, "We open at 9.", reply.Text)
}
