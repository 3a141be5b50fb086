package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/gateway"
)

// newKey returns a fresh API key: "fg-" and 26 random base32 characters
// (crypto/rand.Text, 128 bits).
func newKey() string {
	return "fg-" + rand.Text()
}

func runKey(_ context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) == 1 && args[0] == "new":
		k := newKey()
		fmt.Fprintf(stdout, "key:  %s\nhash: sha256:%s\n", k, gateway.HashKey(k))
		return nil
	case len(args) == 2 && args[0] == "hash":
		fmt.Fprintf(stdout, "sha256:%s\n", gateway.HashKey(args[1]))
		return nil
	}
	fmt.Fprintln(stderr, "usage: floodgate key new | floodgate key hash KEY")
	return errUsage
}

func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: floodgate config check FILE")
		return errUsage
	}
	c, err := config.Load(args[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok: %s\n", args[1], c.Summary())
	return nil
}
