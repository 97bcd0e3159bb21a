package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestRun_RawLoadAnswersEveryMessageAndReportsCPUPerMessage(t *testing.T) {
	res, rep := runJSON(t, testCtx(t), nil, "-client", "raw", "-clients", "3", "-chats", "2", "-messages", "4", "-quiet")
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Equal(t, clientRaw, rep.Client)
	assert.Equal(t, 3, rep.Connect.Ready)
	require.NotNil(t, rep.Load)
	assert.Equal(t, 6, rep.Load.Conversations)
	assert.EqualValues(t, 24, rep.Load.Sent)
	assert.EqualValues(t, 24, rep.Load.Answered)
	assert.Zero(t, rep.Load.Failed)
	assert.Positive(t, rep.Load.Throughput)
	assert.Positive(t, rep.Load.CPUSeconds)
	// cpu_seconds is rounded to the millisecond: 0.5 ms over 24 messages
	// is the most the two may differ by.
	assert.InDelta(t, 1e6*rep.Load.CPUSeconds/24, rep.Load.CPUPerMessageUS, 1e6*0.0005/24+0.001)
	assert.Zero(t, rep.Load.Stalls)
	assert.Equal(t, 24, rep.Load.Complete.Count)
	assert.LessOrEqual(t, rep.Load.FirstChunk.P50, rep.Load.Complete.P50)
	assert.Zero(t, rep.Reconnects, "raw clients have no SDK stats")
}

func TestRun_RawIdleReportsHeapRSSAndGoroutinesPerClient(t *testing.T) {
	res, rep := runJSON(t, testCtx(t), nil, "-client", "raw", "-idle", "-clients", "10", "-idle-hold", "100ms", "-quiet")
	require.Equal(t, exitOK, res.code, res.stderr)
	i := rep.Idle
	require.NotNil(t, i)
	assert.Nil(t, rep.Load)
	assert.Equal(t, 10, i.Clients)
	assert.Positive(t, i.HeapPerClient)
	// The raw client's reader, and the embedded platform's side.
	assert.GreaterOrEqual(t, i.GoroutinesPerClient, 1.0)
	if _, ok := residentBytes(); ok {
		assert.NotEqual(t, -1.0, i.RSSPerClient)
	}
	assert.GreaterOrEqual(t, i.CPUPercent, 0.0)
	assert.InDelta(t, 0.1, i.HoldSeconds, 0.1)
}

func TestRun_RawClientSendsWhatTheSDKSendsOnTheWire(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{StrictJoin: true})
	defer srv.Close()
	res, rep := runJSON(t, testCtx(t), nil, "-api-url", srv.URL(), "-client", "raw", "-clients", "1", "-chats", "3",
		"-messages", "2", "-tenant", "acme", "-api-key", "k1", "-quiet")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.NotNil(t, rep.Load)
	assert.EqualValues(t, 6, rep.Load.Answered, "with StrictJoin every chat was joined before its messages")

	hs := srv.HandshakeRequests()
	require.Len(t, hs, 1)
	assert.Equal(t, "acme", hs[0].Query.Get(protocol.QueryTenantID))
	assert.NotEmpty(t, hs[0].Query.Get(protocol.QueryChatID))
	for _, h := range []string{protocol.HeaderTenantID, protocol.HeaderTenant, protocol.HeaderTenantPlain} {
		assert.Equal(t, "acme", hs[0].Header.Get(h), h)
	}
	assert.Equal(t, "k1", hs[0].Header.Get(protocol.HeaderAPIKey))
	assert.Len(t, srv.FramesOfType(protocol.TypeJoinChat), 3)
	msgs := srv.FramesOfType(protocol.TypeChatMessage)
	require.Len(t, msgs, 6)
	ids := map[any]bool{}
	for _, f := range msgs {
		assert.Equal(t, "acme", f.Data["tenant_id"])
		assert.Equal(t, true, f.Data["stream"])
		assert.NotEmpty(t, f.Data["chat_id"])
		ids[f.Data["client_message_id"]] = true
	}
	assert.Len(t, ids, 6, "every message has its own client_message_id")
}

func TestRawClient_AMessageInFlightFailsWhenTheConnectionDrops(t *testing.T) {
	answer := make(chan struct{})
	srv := platformtest.NewServer(platformtest.Config{Responder: func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		select {
		case <-answer:
		case <-ctx.Done():
		}
		return platformtest.Reply{Withhold: true}
	}})
	defer srv.Close()
	defer close(answer)
	e := newRawEndpoint(client.Config{APIURL: srv.URL(), TenantID: "t", HTTPClient: http.DefaultClient})
	ctx := testCtx(t)
	id, err := e.createChat(ctx, "one")
	require.NoError(t, err)
	rc, err := dialRaw(ctx, e, []string{id})
	require.NoError(t, err)
	defer rc.close()

	wctx, cancel := context.WithCancel(ctx)
	dropped := make(chan struct{})
	go func() {
		defer close(dropped)
		if srv.WaitFor(wctx, func(s *platformtest.Server) bool { return len(s.FramesOfType(protocol.TypeChatMessage)) == 1 }) == nil {
			srv.DropAllAbrupt()
		}
	}()
	defer func() { cancel(); <-dropped }()
	_, sent, err := rc.ask(ctx, id, "hello")
	assert.True(t, sent)
	require.ErrorIs(t, err, errRawLost)
	assert.Equal(t, kindOther, classify(err))

	_, sent, err = rc.ask(ctx, id, "again")
	assert.False(t, sent, "nothing is written on a lost connection")
	assert.ErrorIs(t, err, errRawLost)
}

func TestRawClient_AReplyTimeoutIsATimeout(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{Responder: func(context.Context, platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Withhold: true}
	}})
	defer srv.Close()
	res, rep := runJSON(t, testCtx(t), nil, "-api-url", srv.URL(), "-client", "raw", "-clients", "1", "-messages", "1",
		"-reply-timeout", "100ms", "-quiet")
	assert.Equal(t, exitFailures, res.code)
	require.NotNil(t, rep.Load)
	assert.EqualValues(t, 1, rep.Load.Sent)
	assert.EqualValues(t, 1, rep.Load.Errors["timeout"])
}

func TestRun_BothLoadRunsSDKAndRawInAlternateOrderAndReportsTheirRatios(t *testing.T) {
	res, cmp := runBothJSON(t, "-client", "both", "-rounds", "2", "-clients", "2", "-chats", "2", "-messages", "3", "-quiet")
	require.Equal(t, exitOK, res.code, res.stderr)
	assert.Equal(t, clientBoth, cmp.Client)
	require.Len(t, cmp.Rounds, 2)
	assert.Equal(t, clientSDK, cmp.Rounds[0].First)
	assert.Equal(t, clientRaw, cmp.Rounds[1].First)
	var tput, cpu []float64
	for _, r := range cmp.Rounds {
		require.NotNil(t, r.SDK.Load)
		require.NotNil(t, r.Raw.Load)
		assert.Equal(t, clientSDK, r.SDK.Client)
		assert.Equal(t, clientRaw, r.Raw.Client)
		assert.EqualValues(t, 12, r.SDK.Load.Answered)
		assert.EqualValues(t, 12, r.Raw.Load.Answered)
		tput = append(tput, round3(r.SDK.Load.Throughput/r.Raw.Load.Throughput))
		cpu = append(cpu, round3(r.SDK.Load.CPUPerMessageUS/r.Raw.Load.CPUPerMessageUS))
	}
	require.NotNil(t, cmp.Throughput)
	assert.InDelta(t, (tput[0]+tput[1])/2, cmp.Throughput.Median, 0.001)
	assert.Equal(t, min(tput[0], tput[1]), cmp.Throughput.Min)
	assert.Equal(t, max(tput[0], tput[1]), cmp.Throughput.Max)
	require.NotNil(t, cmp.CPUPerMessage)
	assert.InDelta(t, (cpu[0]+cpu[1])/2, cmp.CPUPerMessage.Median, 0.001)
	assert.Nil(t, cmp.IdleCPU, "no idle figures in a load run")
	names := goalNames(cmp.Goals)
	assert.Equal(t, []string{"throughput, SDK ÷ raw", "CPU per message, SDK ÷ raw", "longest SDK wait for a reply over the rounds, ms"}, names)
	assert.Equal(t, cmp.Throughput.Median >= goalThroughputRatio, cmp.Goals[0].Met)
}

func TestRun_BothIdleReportsMemoryRatiosAndTheIdleGoals(t *testing.T) {
	res, cmp := runBothJSON(t, "-client", "both", "-idle", "-clients", "5", "-idle-hold", "100ms", "-quiet")
	require.Equal(t, exitOK, res.code, res.stderr)
	require.Len(t, cmp.Rounds, 1)
	r := cmp.Rounds[0]
	require.NotNil(t, r.SDK.Idle)
	require.NotNil(t, r.Raw.Idle)
	require.NotNil(t, cmp.HeapPerClient)
	assert.InDelta(t, r.SDK.Idle.HeapPerClient/r.Raw.Idle.HeapPerClient, cmp.HeapPerClient.Median, 0.001)
	require.NotNil(t, cmp.GoroutinesPerClient)
	assert.InDelta(t, r.SDK.Idle.GoroutinesPerClient/r.Raw.Idle.GoroutinesPerClient, cmp.GoroutinesPerClient.Median, 0.001)
	assert.Nil(t, cmp.Throughput)
	names := goalNames(cmp.Goals)
	assert.Contains(t, names, "SDK goroutines per idle client")
	assert.Contains(t, names, "SDK heap per idle client, bytes")
	for _, g := range cmp.Goals {
		if g.Name == "SDK heap per idle client, bytes" {
			assert.Equal(t, r.SDK.Idle.HeapPerClient, g.Got)
			assert.Equal(t, g.Got <= 10<<10, g.Met)
		}
	}
}

func TestRun_BothPrintsOneLinePerRunTheRatiosAndTheGoals(t *testing.T) {
	res := runProgram(t, testCtx(t), nil, "-client", "both", "-clients", "2", "-messages", "2", "-quiet")
	require.Equal(t, exitOK, res.code, res.stderr)
	out := res.stdout
	assert.Contains(t, out, "SDK and raw gorilla clients side by side, 2 clients × 1 chat on the embedded fake platform, 1 round")
	assert.Regexp(t, `round 1   sdk\s+[\d.]+ msg/s\s+[\d.]+ µs CPU/msg .* answered 4/4\n`, out)
	assert.Regexp(t, `round 1   raw\s+[\d.]+ msg/s\s+[\d.]+ µs CPU/msg .* answered 4/4\n`, out)
	assert.Regexp(t, `throughput\s+[\d.]+  \[[\d.]+ – [\d.]+\]`, out)
	assert.Regexp(t, `throughput, SDK ÷ raw\s+>= 0.95\s+got [\d.]+\s+(met|missed)`, out)
}

func TestRun_RawRejectsWhatItCannotDo(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown client", []string{"-client", "python"}, `-client "python": want sdk, raw or both`},
		{"raw storm", []string{"-client", "raw", "-storm"}, "the raw client does not reconnect"},
		{"raw realtime", []string{"-client", "both", "-protocol", "realtime"}, "speaks the rest form only"},
		{"rounds without both", []string{"-rounds", "3"}, "-rounds needs -client both"},
		{"no rounds", []string{"-client", "both", "-rounds", "0"}, "-rounds 0: want at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runProgram(t, testCtx(t), nil, tt.args...)
			assert.Equal(t, exitUsage, res.code)
			assert.Contains(t, res.stderr, tt.want)
		})
	}
}

func TestComparison_JudgesTheGoalsOnTheMedians(t *testing.T) {
	load := func(tput, cpu, maxMS float64) *report {
		return &report{Load: &loadReport{Throughput: tput, CPUPerMessageUS: cpu, Complete: percentiles{Max: maxMS}}}
	}
	c := &comparison{Rounds: []round{
		{SDK: load(90, 130, 20), Raw: load(100, 100, 10)},
		{SDK: load(99, 120, 1500), Raw: load(100, 100, 10)},
		{SDK: load(60, 200, 30), Raw: load(100, 100, 10)},
	}}
	c.summarize()
	assert.Equal(t, &spread{Median: 0.9, Min: 0.6, Max: 0.99}, c.Throughput)
	assert.Equal(t, &spread{Median: 1.3, Min: 1.2, Max: 2}, c.CPUPerMessage)
	require.Len(t, c.Goals, 3)
	assert.False(t, c.Goals[0].Met, "0.9 < 0.95")
	assert.True(t, c.Goals[1].Met, "1.3 ≤ 1.3")
	assert.Equal(t, goal{Name: "longest SDK wait for a reply over the rounds, ms", Op: "<=", Want: 1000, Got: 1500, Met: false, Raw: 10}, c.Goals[2])
}

func TestSpreadOf_MedianOfEvenAndOddCounts(t *testing.T) {
	assert.Nil(t, spreadOf(nil))
	assert.Equal(t, &spread{Median: 2, Min: 1, Max: 3}, spreadOf([]float64{3, 1, 2}))
	assert.Equal(t, &spread{Median: 2.5, Min: 1, Max: 4}, spreadOf([]float64{4, 1, 3, 2}))
}

// runBothJSON runs the program with -json and decodes its comparison.
func runBothJSON(t *testing.T, args ...string) (result, comparison) {
	t.Helper()
	res := runProgram(t, testCtx(t), nil, append(args, "-json")...)
	var cmp comparison
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &cmp), "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	return res, cmp
}

func goalNames(gs []goal) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}
