package registry

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStatus_StringNamesEachStatus(t *testing.T) {
	tests := []struct {
		s    Status
		want string
	}{
		{StatusSending, "sending"},
		{StatusSent, "sent"},
		{StatusDelivered, "delivered"},
		{StatusAnswered, "answered"},
		{StatusFailed, "failed"},
		{StatusStreaming, "streaming"},
		{StatusComplete, "complete"},
		{0, "unknown"},
		{-1, "unknown"},
		{StatusComplete + 1, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.s.String())
		})
	}
}

func TestStatus_TerminalOnlyAnsweredCompleteFailed(t *testing.T) {
	terminal := map[Status]bool{StatusAnswered: true, StatusComplete: true, StatusFailed: true}
	for s := Status(0); s <= StatusComplete+1; s++ {
		t.Run(s.String(), func(t *testing.T) {
			assert.Equal(t, terminal[s], s.Terminal())
		})
	}
}

func TestRole_StringNamesEachRole(t *testing.T) {
	tests := []struct {
		r    Role
		want string
	}{
		{RoleUser, "user"},
		{RoleAssistant, "assistant"},
		{Role(7), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.r.String())
		})
	}
}
