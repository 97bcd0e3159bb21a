package platformtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
)

// Shape is the form in which a reply's text is delivered. Switch it with
// Server.SetShape.
type Shape int

// Reply shapes.
const (
	// ShapeFlat puts the full text in data.content of response_complete (the
	// default).
	ShapeFlat Shape = iota
	// ShapeNested puts it in data.message.content, with the assistant
	// message's id in data.message.id and no data.message_id.
	ShapeNested
	// ShapeFullText puts it in data.full_text.
	ShapeFullText
	// ShapeChunksOnly sends no text in response_complete: the text is the
	// concatenation of the chunks.
	ShapeChunksOnly
	// ShapeChatResponse answers with one non-streaming chat_response frame
	// (text in data.content, with the metadata of response_complete) instead
	// of response_start, the chunks and response_complete.
	ShapeChatResponse
)

var shapeNames = [...]string{
	ShapeFlat:         "flat",
	ShapeNested:       "nested",
	ShapeFullText:     "full_text",
	ShapeChunksOnly:   "chunks_only",
	ShapeChatResponse: "chat_response",
}

// String names the shape.
func (sh Shape) String() string {
	if sh >= 0 && int(sh) < len(shapeNames) {
		return shapeNames[sh]
	}
	return "unknown"
}

// Variant is a set of deviations from the canonical wire form, as the
// platform has been seen to send. Combine them with |; switch them with
// Server.SetVariant.
type Variant uint

// Wire variants.
const (
	// VariantCanonical is the canonical form: snake_case ids in "data",
	// canonical type names, "timestamp" at the top level.
	VariantCanonical Variant = 0
	// VariantLegacyTypes uses the legacy type names: platform_initializing
	// (phase starting) and ai_services_loading (phases services and
	// complete) for initialization_progress, platform_ready for
	// connection_ready, ai_processing_started for processing, message_chunk
	// for response_chunk, message_complete for response_complete.
	VariantLegacyTypes Variant = 1 << (iota - 1)
	// VariantCamelCase renames the id fields, wherever they stand:
	// message_id → messageId, chat_id → chatId, client_message_id →
	// clientMessageId, user_message_id → userMessageId, reply_to → replyTo,
	// client_id → clientId, tenant_id → tenantId; and the top-level
	// timestamp → eventTs. Other fields keep their names.
	VariantCamelCase
	// VariantTopLevelIDs moves the id fields (those listed under
	// VariantCamelCase) from data to the top level of the frame.
	VariantTopLevelIDs
	// VariantProcessingNoID sends processing without message_id,
	// client_message_id, user_message_id and reply_to (chat_id stays).
	VariantProcessingNoID
	// VariantChunkNoID sends response_chunk without message_id,
	// client_message_id, user_message_id and reply_to (chat_id stays).
	VariantChunkNoID
	// VariantPayloadKey puts the payload under the legacy "payload" key
	// instead of "data".
	VariantPayloadKey
)

var variantNames = []struct {
	v    Variant
	name string
}{
	{VariantLegacyTypes, "legacy_types"},
	{VariantCamelCase, "camel_case"},
	{VariantTopLevelIDs, "top_level_ids"},
	{VariantProcessingNoID, "processing_no_id"},
	{VariantChunkNoID, "chunk_no_id"},
	{VariantPayloadKey, "payload_key"},
}

// String lists the variants in the set, joined by "|"; "canonical" for none.
func (v Variant) String() string {
	if v == VariantCanonical {
		return "canonical"
	}
	var names []string
	for _, n := range variantNames {
		if v&n.v != 0 {
			names = append(names, n.name)
			v &^= n.v
		}
	}
	if v != 0 {
		names = append(names, "unknown")
	}
	return strings.Join(names, "|")
}

// idKeys are the id fields moved and renamed by the variants.
var idKeys = []string{"message_id", "chat_id", "client_message_id", "user_message_id", "reply_to", "client_id", "tenant_id"}

// camelNames maps the snake_case ids to their camelCase variants.
var camelNames = map[string]string{
	"message_id":        "messageId",
	"chat_id":           "chatId",
	"client_message_id": "clientMessageId",
	"user_message_id":   "userMessageId",
	"reply_to":          "replyTo",
	"client_id":         "clientId",
	"tenant_id":         "tenantId",
}

// messageIDKeys are removed by VariantProcessingNoID and VariantChunkNoID.
var messageIDKeys = []string{"message_id", "client_message_id", "user_message_id", "reply_to"}

// event is a frame the server generates, in canonical form.
type event struct {
	typ  string
	data map[string]any
	top  map[string]any // fields at the top level, next to type and data
}

// legacyType returns the legacy name of a canonical type, or the type itself.
func legacyType(typ string, data map[string]any) string {
	switch typ {
	case protocol.TypeInitializationProgress:
		if data["phase"] == protocol.PhaseStarting {
			return protocol.TypePlatformInitializing
		}
		return protocol.TypeAIServicesLoading
	case protocol.TypeConnectionReady:
		return protocol.TypePlatformReady
	case protocol.TypeProcessing:
		return protocol.TypeAIProcessingStarted
	case protocol.TypeResponseChunk:
		return protocol.TypeMessageChunk
	case protocol.TypeResponseComplete:
		return protocol.TypeMessageComplete
	}
	return typ
}

// encode renders an event as a JSON text frame in variant v, stamped with now.
func encode(ev event, v Variant, now time.Time) []byte {
	data := maps.Clone(ev.data)
	if data == nil {
		data = map[string]any{}
	}
	// An id the platform does not know is absent, not an empty string.
	for _, k := range idKeys {
		if data[k] == "" {
			delete(data, k)
		}
	}
	if (v&VariantProcessingNoID != 0 && ev.typ == protocol.TypeProcessing) ||
		(v&VariantChunkNoID != 0 && ev.typ == protocol.TypeResponseChunk) {
		for _, k := range messageIDKeys {
			delete(data, k)
		}
	}
	typ := ev.typ
	if v&VariantLegacyTypes != 0 {
		typ = legacyType(typ, data)
	}
	top := map[string]any{"type": typ}
	maps.Copy(top, ev.top)
	if v&VariantTopLevelIDs != 0 {
		for _, k := range idKeys {
			if val, ok := data[k]; ok {
				top[k] = val
				delete(data, k)
			}
		}
	}
	timeKey, payloadKey := "timestamp", "data"
	if v&VariantCamelCase != 0 {
		camelize(top)
		camelize(data)
		timeKey = "eventTs"
	}
	if v&VariantPayloadKey != 0 {
		payloadKey = "payload"
	}
	top[timeKey] = now.UnixMilli()
	top[payloadKey] = data
	b, err := json.Marshal(top)
	if err != nil {
		// Events are built from strings, numbers, bools, slices and maps
		// of those; they always encode.
		panic("platformtest: encode " + ev.typ + ": " + err.Error())
	}
	return b
}

// camelize renames the id keys of m in place.
func camelize(m map[string]any) {
	for snake, camel := range camelNames {
		if val, ok := m[snake]; ok {
			m[camel] = val
			delete(m, snake)
		}
	}
}

// seconds renders a duration as JSON seconds.
func seconds(d time.Duration) float64 { return d.Seconds() }

// epochSeconds renders a time as fractional Unix seconds.
func epochSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// ErrUnknownName is matched by the errors of ParseShape and ParseVariant
// for a name they do not know.
var ErrUnknownName = errors.New("platformtest: unknown name")

// ParseShape returns the Shape named name, as Shape.String names it
// ("flat", "nested", "full_text", "chunks_only", "chat_response"). An empty
// name is ShapeFlat.
func ParseShape(name string) (Shape, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return ShapeFlat, nil
	}
	for sh, n := range shapeNames {
		if n == name {
			return Shape(sh), nil
		}
	}
	return 0, fmt.Errorf("%w: shape %q; want one of %s", ErrUnknownName, name, strings.Join(shapeNames[:], ", "))
}

// ParseVariant returns the set of variants named in s, separated by "|" or
// ",", as Variant.String names them ("legacy_types|camel_case"). An empty
// s, or "canonical", is VariantCanonical.
func ParseVariant(s string) (Variant, error) {
	var v Variant
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == '|' || r == ',' }) {
		part = strings.TrimSpace(part)
		if part == "" || part == "canonical" {
			continue
		}
		found := false
		for _, n := range variantNames {
			if n.name == part {
				v |= n.v
				found = true
			}
		}
		if !found {
			names := []string{"canonical"}
			for _, n := range variantNames {
				names = append(names, n.name)
			}
			return 0, fmt.Errorf("%w: variant %q; want names among %s, joined by |", ErrUnknownName, part, strings.Join(names, ", "))
		}
	}
	return v, nil
}
