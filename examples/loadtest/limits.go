package main

import (
	"fmt"
	"io"
)

// fdSlack is the open files the process needs besides its connections.
const fdSlack = 64

// fdNeed estimates the open files a run needs: one socket per client, two
// when the embedded platform holds the other end, the REST connections of
// a connect wave, and, in a storm, a health check per client at once.
func fdNeed(o options) int {
	perClient := 1
	if o.embedded {
		perClient = 2
	}
	need := perClient*(o.clients+o.connectConcurrency) + fdSlack
	if o.storm {
		need += perClient * o.clients
	}
	return need
}

// checkFileLimit raises the open-file limit and refuses a run with the
// embedded platform that cannot fit in it; for an external platform it
// warns.
func checkFileLimit(o options, stderr io.Writer) (uint64, error) {
	limit, err := raiseFileLimit()
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: could not raise the open-file limit: %v (limit %d)\n", err, limit)
	}
	if limit == 0 {
		return 0, nil
	}
	need := fdNeed(o)
	if uint64(need) <= limit {
		return limit, nil
	}
	if o.embedded && uint64(2*o.clients+fdSlack) > limit {
		return limit, fmt.Errorf("%d clients with the embedded platform need about %d open files (a socket at each end of every connection); "+
			"the limit is %d. Run the platform in another process (go run ./examples/fakeplatform -addr 127.0.0.1:18001 &) "+
			"and pass -api-url http://127.0.0.1:18001", o.clients, need, limit)
	}
	fmt.Fprintf(stderr, "loadtest: warning: this run may need about %d open files and the limit is %d; lower -connect-concurrency or -clients if connections fail\n", need, limit)
	return limit, nil
}
