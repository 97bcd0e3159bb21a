package otelmiptech

import (
	"context"

	"github.com/miptechnologies/miptech-go/client"
)

// recovery counts a look into a chat's history and the messages it settled.
func (t *telemetry) recovery(info client.RecoveryInfo) {
	ctx := context.Background()
	if info.Err != nil {
		t.in.recoveryLookups.Add(ctx, 1, t.opt(keyErrorType.String(errorType(info.Err))))
	} else {
		t.in.recoveryLookups.Add(ctx, 1, t.plain)
	}
	if info.Recovered > 0 {
		t.in.recoveryMessages.Add(ctx, int64(info.Recovered), t.opt(keyRecoveryOutcome.String(recoveryRecovered)))
	}
	if info.Failed > 0 {
		t.in.recoveryMessages.Add(ctx, int64(info.Failed), t.opt(keyRecoveryOutcome.String(recoveryLost)))
	}
}

// queueDrop counts an outbound message refused or dropped before it was
// written, by reason.
func (t *telemetry) queueDrop(info client.QueueDropInfo) {
	t.in.queueRejected.Add(context.Background(), 1, t.opt(keyQueueReason.String(queueReason(info.Err))))
}

// duplicateDropped counts an inbound event dropped as a duplicate, by its
// type.
func (t *telemetry) duplicateDropped(info client.DuplicateInfo) {
	t.in.duplicates.Add(context.Background(), 1, t.opt(keyEventType.String(info.Type)))
}

// protocolError counts an inbound frame dropped as a protocol error.
func (t *telemetry) protocolError(err error) {
	t.in.protocolErrors.Add(context.Background(), 1, t.opt(keyErrorType.String(errorType(err))))
}
