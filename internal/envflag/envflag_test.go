package envflag

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFill_AGivenFlagEvenEmptyWinsOverItsVariable(t *testing.T) {
	var url, tenant, key string
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&url, "api-url", "", "")
	fs.StringVar(&tenant, "tenant", "", "")
	fs.StringVar(&key, "api-key", "", "")
	require.NoError(t, fs.Parse([]string{"-tenant", "", "-api-url", "http://flag"}))
	env := map[string]string{"URL": "http://env", "TENANT": "acme", "KEY": "  sk-1  "}
	Fill(fs, func(k string) string { return env[k] },
		Var{"api-url", "URL", &url}, Var{"tenant", "TENANT", &tenant}, Var{"api-key", "KEY", &key})
	assert.Equal(t, "http://flag", url)
	assert.Equal(t, "", tenant, "given empty on the command line")
	assert.Equal(t, "sk-1", key, "from the environment, trimmed")
}
