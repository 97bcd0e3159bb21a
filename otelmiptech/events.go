package otelmiptech

import (
	"context"

	"github.com/miptechnologies/miptech-go/client"
)

// recovery counts a look into a chat's history and the messages it settled.
func (t *telemetry) recovery(info client.RecoveryInfo) {
	ctx := context.Background()
	if info.Err != nil {
		t.in.recoveryLookups.Add(ctx, 1, t.lookupErr.get(errorType(info.Err), t.errorTypeOpts).add...)
	} else {
		t.in.recoveryLookups.Add(ctx, 1, t.plain.add...)
	}
	if info.Recovered > 0 {
		t.in.recoveryMessages.Add(ctx, int64(info.Recovered), t.recoveredMsgs.add...)
	}
	if info.Failed > 0 {
		t.in.recoveryMessages.Add(ctx, int64(info.Failed), t.lostMsgs.add...)
	}
}

// errorTypeOpts returns the options of the error type errType alone.
func (t *telemetry) errorTypeOpts(errType string) opts {
	return t.opt(keyErrorType.String(errType))
}

// queueDrop counts an outbound message refused or dropped before it was
// written, by reason.
func (t *telemetry) queueDrop(info client.QueueDropInfo) {
	t.in.queueRejected.Add(context.Background(), 1, t.queueReasons[queueReason(info.Err)].add...)
}

// duplicateDropped counts an inbound event dropped as a duplicate, by its
// type.
func (t *telemetry) duplicateDropped(info client.DuplicateInfo) {
	t.in.duplicates.Add(context.Background(), 1, t.dupTypes.get(info.Type, func(typ string) opts {
		return t.opt(keyEventType.String(typ))
	}).add...)
}

// protocolError counts an inbound frame dropped as a protocol error.
func (t *telemetry) protocolError(err error) {
	t.in.protocolErrors.Add(context.Background(), 1, t.protoErr.get(errorType(err), t.errorTypeOpts).add...)
}
