package protocol

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCanonicalType_MapsEveryAlias(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{TypePlatformInitializing, TypeInitializationProgress},
		{TypeAIServicesLoading, TypeInitializationProgress},
		{TypePlatformReady, TypeConnectionReady},
		{TypeAIServicesReady, TypeConnectionReady},
		{TypeAIProcessingStarted, TypeProcessing},
		{TypeMessageChunk, TypeResponseChunk},
		{TypeMessageComplete, TypeResponseComplete},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, CanonicalType(tt.in))
			assert.True(t, IsAlias(tt.in))
			assert.False(t, IsAlias(tt.want), "a canonical name is not an alias")
		})
	}
	assert.Len(t, typeAliases, len(tests), "every alias has a case")
}

func TestCanonicalType_LeavesCanonicalAndUnknownNamesUnchanged(t *testing.T) {
	for _, name := range []string{
		TypeConnectionEstablished, TypeInitializationProgress, TypeConnectionReady,
		TypeChatJoined, TypeChatLeft, TypeChatCreated, TypeMessageReceived, TypeProcessing,
		TypeResponseStart, TypeResponseChunk, TypeResponseComplete, TypeChatResponse,
		TypeTypingStart, TypeTypingStop, TypeTypingIndicator, TypeError, TypeRateLimitExceeded,
		TypePing, TypePong, "some_future_type", "",
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, name, CanonicalType(name))
			assert.False(t, IsAlias(name))
		})
	}
}

func TestQueueable_OnlyChatMessagesAndTyping(t *testing.T) {
	tests := []struct {
		typ  string
		want bool
	}{
		{TypeChatMessage, true},
		{TypeTypingStart, true},
		{TypeTypingStop, true},
		{TypeJoinChat, false},
		{TypeLeaveChat, false},
		{TypePing, false},
		{TypePong, false},
		{TypeResponseChunk, false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			assert.Equal(t, tt.want, Queueable(tt.typ))
		})
	}
}

func TestState_String(t *testing.T) {
	tests := []struct {
		s    State
		want string
	}{
		{StateDisconnected, "disconnected"},
		{StateConnecting, "connecting"},
		{StateConnected, "connected"},
		{StateReady, "ready"},
		{StateReconnecting, "reconnecting"},
		{StateFailed, "failed"},
		{StateFailed + 1, "unknown"},
		{State(-1), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.s.String())
		})
	}
}
