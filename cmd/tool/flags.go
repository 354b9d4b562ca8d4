package tool

import (
	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/lib/stream"
)

// InputFlags are the flags of a tool that reads streams: -r and --identity.
func InputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "read", Aliases: []string{"r"}, Usage: "read `FILE` (repeatable; - is stdin) instead of stdin", Category: "Input", TakesFile: true},
		&cli.StringSliceFlag{Name: "identity", Aliases: []string{"i"}, Usage: "age identity `FILE` to decrypt encrypted input (repeatable; mode 0600)", Category: "Input", TakesFile: true},
	}
}

// OutputFlags are the flags of a tool that writes a stream: -w, --zstd,
// --recipient and --recipients-file.
func OutputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "write", Aliases: []string{"w"}, Usage: "write to `FILE` instead of stdout (reopened on SIGHUP)", Category: "Output", TakesFile: true},
		&cli.BoolFlag{Name: "zstd", Aliases: []string{"z"}, Usage: "compress the output with zstd", Category: "Output"},
		&cli.StringSliceFlag{Name: "recipient", Usage: "encrypt the output to age `RECIPIENT` (age1…; repeatable)", Category: "Output"},
		&cli.StringSliceFlag{Name: "recipients-file", Usage: "encrypt the output to the age recipients in `FILE` (repeatable)", Category: "Output", TakesFile: true},
	}
}

// Inputs names the inputs: the -r files, or "-" for stdin.
func Inputs(c *cli.Context) []string {
	if in := c.StringSlice("read"); len(in) > 0 {
		return in
	}
	return []string{"-"}
}

// Identities reads the --identity files.
func Identities(c *cli.Context) ([]age.Identity, error) {
	ids, err := stream.ReadIdentities(c.StringSlice("identity"))
	if err != nil {
		return nil, Usagef("--identity: %w", err)
	}
	return ids, nil
}

// Recipients reads --recipient and --recipients-file.
func Recipients(c *cli.Context) ([]age.Recipient, error) {
	rs, err := stream.ParseRecipients(c.StringSlice("recipient"), c.StringSlice("recipients-file"))
	if err != nil {
		return nil, Usagef("%w", err)
	}
	return rs, nil
}

// CreateOutput opens the output that the flags of OutputFlags name, for
// a stream of content type ct.
func CreateOutput(c *cli.Context, ct string) (*stream.Output, error) {
	rs, err := Recipients(c)
	if err != nil {
		return nil, err
	}
	return stream.Create(c.String("write"), ct, stream.WriterOptions{Zstd: c.Bool("zstd"), Recipients: rs})
}
