package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/enroll"
)

// The command-line actions of tapir-enroll. A flag may be given before or
// after the command name: each is defined on both, and the value set
// nearest the command wins.

func isSet(c *cli.Context, name string) *cli.Context {
	for _, x := range c.Lineage() {
		if x.IsSet(name) {
			return x
		}
	}
	return c
}

func str(c *cli.Context, name string) string        { return isSet(c, name).String(name) }
func flag(c *cli.Context, name string) bool         { return isSet(c, name).Bool(name) }
func dur(c *cli.Context, name string) time.Duration { return isSet(c, name).Duration(name) }

func options(c *cli.Context) enroll.Options {
	return enroll.Options{
		Dir:             str(c, "node"),
		Credentials:     str(c, "credentials"),
		DataKeyType:     str(c, "data-key-type"),
		Lifetime:        dur(c, "lifetime"),
		KeepCredentials: flag(c, "keep-credentials"),
		IfNeeded:        flag(c, "if-needed"),
		ReuseKey:        flag(c, "reuse-key"),
		ReloadCommand:   str(c, "reload-command"),
		NodemanCA:       str(c, "nodeman-ca"),
		DryRun:          flag(c, "dry-run"),
		Out:             c.App.Writer,
	}
}

// enrollAction is tapir-enroll enroll.
func enrollAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageArgs(c)
	}
	return enroll.Enroll(c.Context, options(c))
}

// renewAction is tapir-enroll renew.
func renewAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageArgs(c)
	}
	return enroll.Renew(c.Context, options(c))
}

func usageArgs(c *cli.Context) error {
	return tool.Usagef("%s: unexpected argument %q", c.Command.Name, c.Args().First())
}

// noCommand is tapir-enroll without a command.
func noCommand(c *cli.Context) error {
	if c.NArg() > 0 {
		return tool.Usagef("unknown command %q: want enroll, renew or status", c.Args().First())
	}
	return tool.Usagef("want a command: enroll, renew or status")
}
