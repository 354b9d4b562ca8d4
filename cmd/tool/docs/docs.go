// Package docs makes the man page and the shell completions (bash, zsh,
// fish) of a tool from its command-line definition, and checks that the
// files checked in are up to date. Only go generate and the tests use it:
// the tools do not link it.
package docs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
)

// Main writes the man page and the shell completions of app, which is
// not yet set up, under the root of the repository (the directory of
// go.mod at or above the working directory), and exits. A tool built with
// -tags docs does this instead of running: go generate (make man
// completions) builds each so.
func Main(app *cli.App, m tool.Manual) {
	code := 0
	root, err := repoRoot()
	if err == nil {
		var wrote []string
		wrote, _, err = syncDocs(root, app, m, true)
		for _, f := range wrote {
			fmt.Println("wrote", f)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: docs: %v\n", app.Name, err)
		code = 1
	}
	os.Exit(code)
}

// Test checks that the man page and the shell completions of app, which
// is not yet set up, match the files checked in under man/ and
// completions/ at the root of the repository. Each tool's package calls
// it from a test named TestDocs.
func Test(t testing.TB, app *cli.App, m tool.Manual) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	_, stale, err := syncDocs(root, app, m, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stale {
		t.Error(s)
	}
}

// syncDocs sets app up with m, and compares its man page and completions
// with the files under root, or with update writes those that differ. It
// returns the files it wrote and what is wrong with those it compared.
func syncDocs(root string, app *cli.App, m tool.Manual, update bool) (wrote, stale []string, err error) {
	if _, ok := tool.ManualOf(app); ok {
		return nil, nil, errors.New("docs: the app is already set up; pass a fresh one")
	}
	tool.Setup(app, m)
	files := []struct{ path, text string }{
		{"man/" + app.Name + ".1", Man(app)},
		{"completions/" + app.Name + ".bash", ""},
		{"completions/_" + app.Name, ""},
		{"completions/" + app.Name + ".fish", ""},
	}
	for i, shell := range []string{"bash", "zsh", "fish"} {
		if files[i+1].text, err = Completion(app, shell); err != nil {
			return nil, nil, err
		}
	}
	for _, f := range files {
		name := filepath.Join(root, filepath.FromSlash(f.path))
		have, err := os.ReadFile(name)
		switch {
		case err == nil && string(have) == f.text:
		case update:
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return wrote, stale, err
			}
			if err := os.WriteFile(name, []byte(f.text), 0o644); err != nil {
				return wrote, stale, err
			}
			wrote = append(wrote, f.path)
		case errors.Is(err, fs.ErrNotExist):
			stale = append(stale, f.path+" is missing: run make man completions")
		case err != nil:
			return wrote, stale, err
		default:
			stale = append(stale, fmt.Sprintf("%s is stale: run make man completions\n%s", f.path, firstDiff(string(have), f.text)))
		}
	}
	return wrote, stale, nil
}

// repoRoot returns the nearest directory at or above the working directory
// that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("docs: no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// firstDiff describes the first line where have and want differ.
func firstDiff(have, want string) string {
	h, w := strings.Split(have, "\n"), strings.Split(want, "\n")
	for i := 0; ; i++ {
		switch {
		case i >= len(h):
			return fmt.Sprintf("line %d: file ends, want %q", i+1, w[i])
		case i >= len(w):
			return fmt.Sprintf("line %d: have %q, want end of file", i+1, h[i])
		case h[i] != w[i]:
			return fmt.Sprintf("line %d:\n\thave %q\n\twant %q", i+1, h[i], w[i])
		}
	}
}

// flagDoc is what the man page and the completions say about a flag.
type flagDoc struct {
	long, short []string // names, without dashes
	arg         string   // placeholder for the value; "" if it takes none
	usage       string   // the usage, placeholder unquoted
	quoted      [2]int   // where the placeholder is in usage, if it is
	def         string   // the default, if there is one worth showing
	env         []string // environment variables
	category    string
	file        bool // the value is a file name
	repeat      bool // may be given more than once
}

// flagDocs describes the visible flags of app, in order, without help.
func flagDocs(app *cli.App) []flagDoc {
	var docs []flagDoc
	for _, f := range app.Flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		names := f.Names()
		if len(names) == 0 || names[0] == "help" {
			continue
		}
		var d flagDoc
		for _, n := range names {
			if len(n) == 1 {
				d.short = append(d.short, n)
			} else {
				d.long = append(d.long, n)
			}
		}
		if c, ok := f.(cli.CategorizableFlag); ok {
			d.category = c.GetCategory()
		}
		if g, ok := f.(cli.DocGenerationFlag); ok {
			d.arg, d.usage, d.quoted = unquote(g.GetUsage())
			if !g.TakesValue() {
				d.arg = ""
			} else if d.arg == "" {
				d.arg = "VALUE"
			}
			d.def = defaultText(g)
			d.env = g.GetEnvVars()
		}
		if s, ok := f.(cli.DocGenerationSliceFlag); ok {
			d.repeat = s.IsSliceFlag()
		}
		switch f := f.(type) {
		case *cli.StringFlag:
			d.file = f.TakesFile
		case *cli.StringSliceFlag:
			d.file = f.TakesFile
		case *cli.PathFlag:
			d.file = f.TakesFile
		case *cli.GenericFlag:
			d.file = f.TakesFile
		}
		docs = append(docs, d)
	}
	return docs
}

// unquote returns the word between the first pair of backquotes in usage
// (the placeholder for the flag's value, as urfave/cli takes it), usage
// without those backquotes, and where the word is in it.
func unquote(usage string) (word, text string, at [2]int) {
	i := strings.IndexByte(usage, '`')
	if i < 0 {
		return "", usage, at
	}
	j := strings.IndexByte(usage[i+1:], '`')
	if j < 0 {
		return "", usage, at
	}
	word = usage[i+1 : i+1+j]
	return word, usage[:i] + word + usage[i+j+2:], [2]int{i, i + j}
}

// defaultText is the flag's default as the documentation shows it: without
// Go quotes, and not at all when it is empty or a false boolean.
func defaultText(f cli.DocGenerationFlag) string {
	d := f.GetDefaultText()
	if _, ok := f.(*cli.BoolFlag); ok && d == "false" {
		return ""
	}
	if s, err := strconv.Unquote(d); err == nil {
		d = s
	}
	return d
}

// names lists the flag's names with their dashes, short ones first.
func (d *flagDoc) names() []string {
	var n []string
	for _, s := range d.short {
		n = append(n, "-"+s)
	}
	for _, l := range d.long {
		n = append(n, "--"+l)
	}
	return n
}

var choicesRE = regexp.MustCompile(`: ([\w.-]+(?: \([^()]*\))?(?:, [\w.-]+(?: \([^()]*\))?)*,? or [\w.-]+(?: \([^()]*\))?)\.?$`)

var asideRE = regexp.MustCompile(` \([^()]*\)`)

// choices returns the values a flag takes, when its usage ends in a list
// of them: "as `FORMAT`: text or json", "`LEVEL`: debug, info, warn or
// error", "`ACTION`: drop (count the frames) or block (the resolvers)".
func (d *flagDoc) choices() []string {
	if d.arg == "" {
		return nil
	}
	m := choicesRE.FindStringSubmatch(d.usage)
	if m == nil {
		return nil
	}
	var c []string
	for _, f := range strings.FieldsFunc(asideRE.ReplaceAllString(m[1], ""), func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if f != "or" {
			c = append(c, f)
		}
	}
	return c
}

// summary is the usage without asides in parentheses, and up to its
// first semicolon: a short description for completion menus.
func (d *flagDoc) summary() string {
	s := asideRE.ReplaceAllString(d.usage, "")
	if i := strings.IndexByte(s, ';'); i > 0 {
		s = s[:i]
	}
	return strings.TrimRight(s, " ,:.")
}
