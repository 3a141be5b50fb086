// Command floodgate runs LLM agents in production: the gateway (`serve`), the
// simulated provider (`sim`), the load generator (`load`) and the operator's
// helpers (`config check`, `key`). It turns flags into configuration, wires
// the packages together and owns their lifetimes; it is the only place that
// exits the process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name, usage string
	run         func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the gateway (no config: embedded sim endpoints and a demo key)", runServe},
		{"sim", "run a standalone simulated OpenAI-compatible provider", runSim},
		{"load", "drive an OpenAI-compatible endpoint at a fixed rate or concurrency", runLoad},
		{"config", "config check FILE: validate a configuration file", runConfig},
		{"key", "key new | key hash KEY: make an API key, or print the hash a config stores", runKey},
		{"rules", "rules test FILE: try a rules file on sample messages; rules default: print the demo rules", runRules},
		{"usage", "usage [--group-by agent|tenant|model|intent|hour…] [--from] [--to]: print a server's usage and cost breakdown", runUsage},
		{"version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			_, err := fmt.Fprintln(stdout, "floodgate", version)
			return err
		}},
	}
}

// errUsage marks a usage error already explained to the user.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "floodgate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stderr)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "floodgate: unknown command %q\n\n", args[0])
	printUsage(stderr)
	return errUsage
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: floodgate <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun 'floodgate <command> -h' for a command's flags.")
}

// newFlags returns a flag set that reports errors to stderr and returns them
// instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("floodgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
