// compose-config loads compose files with compose-go, the library `docker compose`
// itself loads them with (schema, interpolation, merging of override files, !reset and
// !override), and prints the resulting project as YAML: what `docker compose config`
// prints, without Docker. The deployment tests (test_compose.py) build and run it.
//
//	compose-config -project-directory DIR -env-file FILE [-profile NAME]... FILE...
//
// Exit status 1 with the loader's message when the files do not load.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type names []string

func (n *names) String() string     { return strings.Join(*n, ",") }
func (n *names) Set(v string) error { *n = append(*n, v); return nil }

func main() {
	directory := flag.String("project-directory", ".", "where relative paths start")
	envFile := flag.String("env-file", "", "the .env file to interpolate with")
	var profiles names
	flag.Var(&profiles, "profile", "a compose profile to enable (repeatable)")
	flag.Parse()
	if flag.NArg() == 0 || *envFile == "" {
		fmt.Fprintln(os.Stderr, "usage: compose-config -project-directory DIR -env-file FILE [-profile NAME]... FILE...")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(
		flag.Args(),
		cli.WithWorkingDirectory(*directory),
		cli.WithEnvFiles(*envFile),
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
		cli.WithName("diko"),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalYAML()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Stdout.Write(out)
}
