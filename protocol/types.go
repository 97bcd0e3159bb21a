package protocol

// Outbound frame types (client → server).
const (
	TypeJoinChat    = "join_chat"
	TypeLeaveChat   = "leave_chat"
	TypeChatMessage = "chat_message"
	TypeTypingStart = "typing_start"
	TypeTypingStop  = "typing_stop"
	TypePing        = "ping"
	TypePong        = "pong"
)

// Inbound frame types (server → client), canonical names.
const (
	TypeConnectionEstablished  = "connection_established"
	TypeInitializationProgress = "initialization_progress"
	TypeConnectionReady        = "connection_ready"
	TypeChatJoined             = "chat_joined"
	TypeChatLeft               = "chat_left"
	TypeChatCreated            = "chat_created"
	TypeMessageReceived        = "message_received"
	TypeProcessing             = "processing"
	TypeResponseStart          = "response_start"
	TypeResponseChunk          = "response_chunk"
	TypeResponseComplete       = "response_complete"
	TypeChatResponse           = "chat_response"
	TypeTypingIndicator        = "typing_indicator"
	TypeError                  = "error"
	TypeRateLimitExceeded      = "rate_limit_exceeded"
)

// Legacy or alternative inbound type names the platform has been seen to send.
// Each maps to a canonical type through [CanonicalType].
const (
	TypePlatformInitializing = "platform_initializing"
	TypeAIServicesLoading    = "ai_services_loading"
	TypePlatformReady        = "platform_ready"
	TypeAIServicesReady      = "ai_services_ready"
	TypeAIProcessingStarted  = "ai_processing_started"
	TypeMessageChunk         = "message_chunk"
	TypeMessageComplete      = "message_complete"
)

// Initialization phases carried by initialization_progress frames.
const (
	PhaseStarting = "starting"
	PhaseServices = "services"
	PhaseComplete = "complete"
)

// Message roles.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleSystem    = "system"
)

// typeAliases maps every alias to its canonical type.
var typeAliases = map[string]string{
	TypePlatformInitializing: TypeInitializationProgress,
	TypeAIServicesLoading:    TypeInitializationProgress,
	TypePlatformReady:        TypeConnectionReady,
	TypeAIServicesReady:      TypeConnectionReady,
	TypeAIProcessingStarted:  TypeProcessing,
	TypeMessageChunk:         TypeResponseChunk,
	TypeMessageComplete:      TypeResponseComplete,
}

// CanonicalType returns the canonical name for a frame type, mapping the
// legacy aliases of the platform (for example "message_chunk" to
// "response_chunk"). Unknown and canonical names are returned unchanged.
func CanonicalType(t string) string {
	if c, ok := typeAliases[t]; ok {
		return c
	}
	return t
}

// IsAlias reports whether t is a legacy alias of a canonical type.
func IsAlias(t string) bool {
	_, ok := typeAliases[t]
	return ok
}

// Queueable reports whether an outbound frame of type t may wait in the
// outbound queue while the connection is down. Only chat messages and typing
// frames are queued; joins are re-sent from the chat set and pings are not
// needed on a dead socket.
func Queueable(t string) bool {
	switch t {
	case TypeChatMessage, TypeTypingStart, TypeTypingStop:
		return true
	}
	return false
}
