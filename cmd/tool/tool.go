// Package tool is the command line every tapir tool shares: environment
// variables for every flag, logging to stderr, the flags of inputs and
// outputs, signals, and the exit codes that the kinds of failure of
// lib/fault map to; so that a tool's main.go holds only its flags, its
// manual and the calls into lib. The library packages know nothing of it.
package tool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/lib/fault"
)

// Exit codes, the same for every tool and documented in each man page.
const (
	ExitOK          = 0
	ExitFailure     = 1 // runtime failure
	ExitUsage       = 2 // usage or configuration error
	ExitInput       = 3 // input that could not be read
	ExitRefused     = 4 // a remote peer refused
	ExitUnavailable = 5 // a remote peer is unreachable or failed
)

// Error is an error with the exit code it should end the tool with.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ExitCode implements cli.ExitCoder.
func (e *Error) ExitCode() int { return e.Code }

// Usagef returns a usage or configuration error (exit 2).
func Usagef(format string, args ...any) error {
	return fault.Errorf(fault.Config, format, args...)
}

// Code returns the exit code for err: the code of an Error (or another
// cli.ExitCoder), else the one of its kind of failure.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var e cli.ExitCoder
	if errors.As(err, &e) {
		return e.ExitCode()
	}
	switch fault.Of(err) {
	case fault.Config:
		return ExitUsage
	case fault.Input:
		return ExitInput
	case fault.Refused:
		return ExitRefused
	case fault.Unavailable:
		return ExitUnavailable
	}
	return ExitFailure
}

// Example is a command line with what it does, for --help and the man page.
type Example struct {
	Text, Command string
}

// Manual is what a man page needs beyond the flags.
type Manual struct {
	Examples []Example
	// Sections are extra man page sections, in order: title, then text
	// (paragraphs separated by blank lines; lines that begin with a space
	// are kept as they are).
	Sections [][2]string
	SeeAlso  []string
}

// FIFOs is the man page section of the tools that read the stream the
// stage before them writes, as the units pass it through FIFOs.
var FIFOs = [2]string{"FIFOS", `A FIFO or pipe on the input (as the units of tapir(7) pass the stream between the stages, through FIFOs that systemd holds open) is read as a stream that may have begun before this process: it may begin with data frames (an earlier run took START) and a writer may restart without STOP; both are logged. On SIGTERM the tool stops at a frame boundary, having handled every frame it took, so that the next run goes on exactly there. After a crash, of this tool or of the writer, the input may be left inside a frame: the tool then skips to the next START (writers to a FIFO put STOP and START in their stream at most once a second, while they write), logs it and counts the bytes skipped (input_skipped_bytes_total). Files are read strictly: a framing error there is an input error (exit 3).`}

const manualKey = "tapir.manual"

// Main runs app with the shared conventions and exits with its code. It
// never returns.
func Main(app *cli.App, m Manual) {
	os.Exit(Run(Setup(app, m), os.Args))
}

// Setup adds the shared flags, environment variables, logging and error
// handling to app, and keeps m for documentation.
func Setup(app *cli.App, m Manual) *cli.App {
	app.Flags = append(app.Flags, logFlags...)
	for _, f := range app.Flags {
		setEnv(f)
	}
	for _, cmd := range app.Commands {
		for _, f := range cmd.Flags {
			setEnv(f)
		}
	}
	app.HideHelpCommand = true
	app.UseShortOptionHandling = true
	if app.Metadata == nil {
		app.Metadata = map[string]any{}
	}
	app.Metadata[manualKey] = m
	if len(m.Examples) > 0 {
		var b strings.Builder
		if app.Description != "" {
			b.WriteString(indent(app.Description))
			b.WriteString("\n\n")
		}
		b.WriteString("EXAMPLES:\n")
		for _, e := range m.Examples {
			fmt.Fprintf(&b, "   %s\n      %s\n", e.Text, e.Command)
		}
		app.CustomAppHelpTemplate = strings.Replace(cli.AppHelpTemplate,
			`{{template "descriptionTemplate" .}}`, `{{.Metadata.tapirHelp}}`, 1)
		app.Metadata["tapirHelp"] = strings.TrimRight(b.String(), "\n")
		if app.Description == "" {
			app.CustomAppHelpTemplate = strings.Replace(app.CustomAppHelpTemplate, "{{if .Description}}", "{{if true}}", 1)
		}
	}
	before := app.Before
	app.Before = func(c *cli.Context) error {
		if err := setupLog(c); err != nil {
			return err
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
	app.ExitErrHandler = func(*cli.Context, error) {} // Run reports
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error {
		return &Error{ExitUsage, err}
	}
	return app
}

// ManualOf returns the Manual that Setup stored in app, and whether app
// was set up.
func ManualOf(app *cli.App) (Manual, bool) {
	m, ok := app.Metadata[manualKey].(Manual)
	return m, ok
}

// Run runs an app made by Setup and returns its exit code, having logged
// the error if there was one.
func Run(app *cli.App, args []string) int {
	err := app.Run(args)
	if err == nil {
		return ExitOK
	}
	code := Code(err)
	if code == ExitUsage {
		fmt.Fprintf(app.ErrWriter, "%s: %v\nSee '%s --help'.\n", app.Name, err, app.Name)
	} else if msg := err.Error(); msg != "" {
		slog.Error(msg)
	}
	return code
}

// EnvName is the environment variable that sets a flag: TAPIR_ and the
// flag's long name in upper case with dashes as underscores.
func EnvName(flag string) string {
	return "TAPIR_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// setEnv gives a flag its environment variable unless it has one. Every
// flag type of urfave/cli has an EnvVars field, and no method to set it.
func setEnv(f cli.Flag) {
	name := f.Names()[0]
	if name == "help" || name == "version" {
		return
	}
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return
	}
	if env := v.Elem().FieldByName("EnvVars"); env.IsValid() && env.Len() == 0 {
		env.Set(reflect.ValueOf([]string{EnvName(name)}))
	}
}

var logFlags = []cli.Flag{
	&cli.StringFlag{Name: "log-format", Value: "text", Usage: "diagnostics on stderr as `FORMAT`: text or json", Category: "Diagnostics"},
	&cli.StringFlag{Name: "log-level", Value: "info", Usage: "least `LEVEL` logged: debug, info, warn or error", Category: "Diagnostics"},
}

func setupLog(c *cli.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return Usagef("--log-level: %v", err)
	}
	o := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch c.String("log-format") {
	case "text":
		h = slog.NewTextHandler(c.App.ErrWriter, o)
	case "json":
		h = slog.NewJSONHandler(c.App.ErrWriter, o)
	default:
		return Usagef("--log-format %q: want text or json", c.String("log-format"))
	}
	slog.SetDefault(slog.New(h).With("tool", c.App.Name))
	return nil
}

// indent indents the lines of a description after the first by three
// spaces, as urfave/cli's help template indents the first line.
func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if i > 0 && l != "" {
			lines[i] = "   " + l
		}
	}
	return strings.Join(lines, "\n")
}
