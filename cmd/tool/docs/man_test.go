package docs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/urfave/cli/v2"
)

// testApp is a tool with a flag of each kind, made as Main makes it.
func testApp() *cli.App {
	app := &cli.App{
		Name:      "tapir-test",
		Usage:     "test the documentation",
		UsageText: "tapir-test [-r FILE]... [options]",
		Description: `tapir-test reads with -r or --read, and never with --nothing.
A backslash \ stays one; so does 'this' and "that", and e.g. this…
.this line begins with a dot,
'and this one with an apostrophe.

NOTE: a tagged paragraph.

Verbatim lines:
  tapir-test -r in.fstrm | tapir-cat
  .dot and \ backslash`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "read", Aliases: []string{"r"}, Usage: "read `FILE` (repeatable)", TakesFile: true},
			&cli.StringFlag{Name: "mode", Value: "fast", Usage: "run in `MODE`: fast, slow (careful) or off", Category: "Tuning"},
			&cli.DurationFlag{Name: "wait", Value: 0, Usage: "wait this `LONG` first", Category: "Tuning"},
			&cli.BoolFlag{Name: "secret", Usage: "do what nobody should", Hidden: true},
			&cli.IntFlag{Name: "count", Aliases: []string{"n"}, Value: 3, Usage: "do it `N` times", Category: "Tuning"},
			&cli.PathFlag{Name: "config", Usage: "read options from the file", TakesFile: true},
		}, tool.OutputFlags()...),
	}
	return tool.Setup(app, tool.Manual{
		Examples: []tool.Example{
			{Text: "Read two files:", Command: "tapir-test -r a.fstrm -r b.fstrm"},
			{Text: "A long one:", Command: `tapir-test -r /var/lib/tapir/a-long-file-name.fstrm --mode slow --wait 1s --count 7 -w "out file" | tapir-cat`},
		},
		Sections: [][2]string{{"Files", "The -w file is written atomically.\n\n  /etc/tapir/test.conf"}},
		SeeAlso:  []string{"dnstap(8)", "tapir-cat(1)"},
	})
}

func TestManContent(t *testing.T) {
	page := Man(testApp())
	for _, want := range []string{
		`.TH "TAPIR\-TEST" 1 "" "tapir" "tapir toolkit"`,
		".SH NAME\ntapir\\-test \\- test the documentation\n",
		".SH SYNOPSIS\n.SY tapir\\-test\n[\\fB\\-r\\fR\\ \\fIFILE\\fR]... [\\fIoptions\\fR]\n.YS\n",
		// The description, escaped, with options and tools in bold.
		"\\fBtapir\\-test\\fR reads with \\fB\\-r\\fR or \\fB\\-\\-read\\fR, and never with \\-\\-nothing.\n",
		`A backslash \e stays one;`,
		`e.g. this\[u2026]`,
		"\n\\&.this line begins with a dot,\n",
		"\n\\&'and this one with an apostrophe.\n",
		".TP\n\\fBNOTE\\fR\n.br\nA tagged paragraph.\n",
		".EX\n  tapir\\-test \\-r in.fstrm | tapir\\-cat\n  .dot and \\e backslash\n.EE\n",
		// Options, in categories, with their placeholders, defaults and
		// environment variables.
		".SH OPTIONS\n.TP\n\\fB\\-r\\fR, \\fB\\-\\-read\\fR \\fIFILE\\fR\n.br\nRead \\fIFILE\\fR (repeatable).\n.br\nEnvironment: \\fBTAPIR_READ\\fR.\n",
		".TP\n\\fB\\-\\-config\\fR \\fIVALUE\\fR\n.br\nRead options from the file.\n",
		".SS Tuning\n.TP\n\\fB\\-\\-mode\\fR \\fIMODE\\fR\n.br\nRun in \\fIMODE\\fR: fast, slow (careful) or off.\n.br\nDefault: \\fBfast\\fR. Environment: \\fBTAPIR_MODE\\fR.\n",
		"\\fB\\-n\\fR, \\fB\\-\\-count\\fR \\fIN\\fR\n.br\nDo it \\fIN\\fR times.\n.br\nDefault: \\fB3\\fR.",
		".SS Output\n.TP\n\\fB\\-w\\fR, \\fB\\-\\-write\\fR \\fIFILE\\fR\n",
		"\\fB\\-z\\fR, \\fB\\-\\-zstd\\fR\n.br\nCompress the output with zstd.\n.br\nEnvironment: \\fBTAPIR_ZSTD\\fR.\n",
		"\\fB\\-\\-log\\-level\\fR \\fILEVEL\\fR\n",
		// Sections, examples, and what every page has.
		".SH FILES\nThe \\fB\\-w\\fR file is written atomically.\n.PP\n.EX\n  /etc/tapir/test.conf\n.EE\n",
		".SH EXAMPLES\nRead two files:\n.IP \"\" 4\n.EX\n$ tapir\\-test \\-r a.fstrm \\-r b.fstrm\n.EE\n",
		"$ tapir\\-test \\-r /var/lib/tapir/a\\-long\\-file\\-name.fstrm \\-\\-mode slow \\e\n    \\-\\-wait 1s \\-\\-count 7 \\-w \"out file\" | tapir\\-cat\n",
		".SH EXIT STATUS\n.TP\n.B 0\nSuccess.\n.TP\n.B 1\nA runtime failure.\n.TP\n.B 2\nA usage or configuration error.\n.TP\n.B 3\nInput that could not be read",
		".B 4\nA remote peer refused",
		".B 5\nA remote peer is unreachable or failed",
		"For example, \\fBTAPIR_WRITE\\fR sets \\fB\\-\\-write\\fR.",
		"separated by commas",
		".SH SEE ALSO\n\\fBtapir\\-agg\\fR(1),\n",
		"\\fBtapir\\-cat\\fR(1),\n",
		"\\fBdnstap\\fR(8)\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks\n%s", want)
		}
	}
	for _, bad := range []string{"secret", "TAPIR_SECRET", "\\-\\-help", "tapir\\-test\\fR(1)", "Default: \\fBfalse"} {
		if strings.Contains(page, bad) {
			t.Errorf("man page has %q", bad)
		}
	}
	if strings.Count(page, "tapir\\-cat\\fR(1)") != 1 {
		t.Error("SEE ALSO lists tapir-cat(1) more than once")
	}
	if again := Man(testApp()); again != page {
		t.Error("Man is not deterministic")
	}
	if t.Failed() {
		t.Log(page)
	}
}

func TestManEmpty(t *testing.T) {
	page := Man(tool.Setup(&cli.App{Name: "tapir-bare", Usage: "do nothing", ArgsUsage: "[FILE]..."}, tool.Manual{}))
	for _, want := range []string{
		".SY tapir\\-bare\n[\\fIoptions\\fR] [\\fIFILE\\fR]...\n.YS\n",
		".SH EXIT STATUS\n",
		".SH ENVIRONMENT\n", // the log flags
	} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks\n%s", want)
		}
	}
	for _, bad := range []string{".SH DESCRIPTION", ".SH EXAMPLES"} {
		if strings.Contains(page, bad) {
			t.Errorf("man page has %q", bad)
		}
	}
	lintMan(t, "tapir-bare.1", page)
}

// TestManGroff formats the test page, and the man pages checked in, with
// groff, with all warnings on: there must be none.
func TestManGroff(t *testing.T) {
	need(t, "groff")
	page := Man(testApp())
	lintMan(t, "tapir-test.1", page)

	cmd := exec.Command("groff", "-man", "-Tutf8", "-P-cbou")
	cmd.Stdin = strings.NewReader(page)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{
		"tapir-test - test the documentation",
		"tapir-test [-r FILE]... [options]",
		"   -r, --read FILE\n",
		"   -w, --write FILE\n",
		"Environment: TAPIR_WRITE.",
		"EXIT STATUS",
		"Input that could not be read",
		"$ tapir-test -r a.fstrm -r b.fstrm",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("formatted man page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}

	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(root, "man", "*.[157]"))
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lintMan(t, filepath.Base(p), string(b))
	}
}

// lintMan fails t if groff warns about page.
func lintMan(t *testing.T, name, page string) {
	t.Helper()
	if _, err := exec.LookPath("groff"); err != nil {
		return
	}
	cmd := exec.Command("groff", "-man", "-ww", "-z", "-Tutf8")
	cmd.Stdin = strings.NewReader(page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("groff on %s: %v\n%s", name, err, stderr.String())
	}
}

// need skips t if the command is not installed, or fails it if
// TAPIR_REQUIRE_REAL=1.
func need(t *testing.T, command string) {
	t.Helper()
	if _, err := exec.LookPath(command); err != nil {
		if os.Getenv("TAPIR_REQUIRE_REAL") == "1" {
			t.Fatalf("%s is not installed, and TAPIR_REQUIRE_REAL=1 forbids skipping", command)
		}
		t.Skipf("%s is not installed", command)
	}
}

func TestWrapCommand(t *testing.T) {
	for _, tt := range []struct {
		cmd  string
		want []string
	}{
		{"a -b c", []string{"a -b c"}},
		{"tool -a 1 -b 2 -c 3", []string{`tool -a 1 \`, "    -b 2 \\", "    -c 3"}},
		{"tool 'x -y z' -c 3", []string{`tool 'x -y z' \`, "    -c 3"}},
		{"tool -a 1 | other", []string{`tool -a 1 \`, "    | other"}},
	} {
		got := wrapCommand(tt.cmd, 10)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("wrapCommand(%q) = %q, want %q", tt.cmd, got, tt.want)
		}
	}
}

func TestSeeAlso(t *testing.T) {
	got := strings.Join(seeAlso("tapir-cat", []string{"unbound.conf(5)", "dnstap(8)", "tapir-agg(1)", "RFC 8094"}), " ")
	want := regexp.MustCompile(`^\\fBtapir\\-agg\\fR\(1\) \\fBtapir\\-anon\\fR\(1\) .*\\fBunbound.conf\\fR\(5\) \\fBdnstap\\fR\(8\) RFC 8094$`)
	if !want.MatchString(got) || strings.Contains(got, "tapir\\-cat") || strings.Count(got, "tapir\\-agg") != 1 {
		t.Errorf("seeAlso = %s", got)
	}
}
