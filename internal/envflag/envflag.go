// Package envflag fills the string flags a command line did not give from
// their environment variables, for the example programs: a flag given on
// the command line, even empty, wins over its variable.
package envflag

import (
	"flag"
	"strings"
)

// Var is a string flag and the environment variable that stands for it.
type Var struct {
	// Flag is the flag's name, Env the variable's.
	Flag, Env string
	// P is where the flag's value is stored.
	P *string
}

// Fill sets *v.P to getenv(v.Env), trimmed of spaces, for every v whose
// flag fs did not get on its command line. Call it after fs.Parse.
func Fill(fs *flag.FlagSet, getenv func(string) string, vars ...Var) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, v := range vars {
		if !given[v.Flag] {
			*v.P = strings.TrimSpace(getenv(v.Env))
		}
	}
}
