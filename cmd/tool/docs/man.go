package docs

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/urfave/cli/v2"
)

// toolkit names the tools of the tapir toolkit; each man page refers to
// the others under SEE ALSO.
var toolkit = []string{
	"tapir-listen", "tapir-anon", "tapir-agg", "tapir-send",
	"tapir-observe", "tapir-rpz", "tapir-cat", "tapir-enroll",
}

// exitStatus is the EXIT STATUS section that every man page shares.
var exitStatus = []struct {
	code int
	text string
}{
	{tool.ExitOK, "Success."},
	{tool.ExitFailure, "A runtime failure."},
	{tool.ExitUsage, "A usage or configuration error."},
	{tool.ExitInput, "Input that could not be read: a corrupt stream, or a stream of the wrong content type."},
	{tool.ExitRefused, "A remote peer refused: an HTTP 4xx answer, or bad credentials."},
	{tool.ExitUnavailable, "A remote peer is unreachable or failed; a later retry may succeed."},
}

// Man returns the man page, in section 1, of an app made by tool.Setup: its
// name, usage text, description and flags, and the examples, extra
// sections and references of its tool.Manual, with the exit status and
// environment conventions that all tools share. The page is in roff with
// the man macros, and depends only on app, so that it can be checked in.
func Man(app *cli.App) string {
	m, _ := tool.ManualOf(app)
	flags := flagDocs(app)
	w := &manWriter{options: map[string]bool{}, commands: map[string]bool{app.Name: true}}
	for _, f := range flags {
		for _, n := range f.names() {
			w.options[n] = true
		}
	}
	for _, t := range toolkit {
		w.commands[t] = true
	}

	w.printf(`.\" Generated from the command line definitions of %s; do not edit.`, app.Name)
	w.printf(`.\" Regenerate with: make man`)
	w.printf(`.TH "%s" 1 "" "tapir" "tapir toolkit"`, escape(strings.ToUpper(app.Name), true))
	// No hyphenation (names and options are not words; .EE and .YS
	// restore \n[HY]), and a ragged right margin, without the wide gaps
	// that long names leave in justified lines.
	w.printf(".nr HY 0")
	w.printf(".nh")
	w.printf(".ad l")

	w.section("NAME")
	w.printf(`%s \- %s`, escape(app.Name, true), escape(app.Usage, false))
	w.synopsis(app)
	if app.Description != "" {
		w.section("DESCRIPTION")
		w.paragraphs(app.Description)
	}
	w.optionList(flags)
	for _, s := range m.Sections {
		w.section(strings.ToUpper(s[0]))
		w.paragraphs(s[1])
	}
	w.examples(m.Examples)
	w.section("EXIT STATUS")
	for _, e := range exitStatus {
		w.printf(".TP")
		w.printf(".B %d", e.code)
		w.text(w.prose(e.text))
	}
	if len(flags) > 0 {
		w.section("ENVIRONMENT")
		w.environment(app, flags)
	}
	w.section("SEE ALSO")
	refs := seeAlso(app.Name, m.SeeAlso)
	for i, r := range refs {
		if i < len(refs)-1 {
			r += ","
		}
		w.text(r)
	}
	return w.b.String()
}

// synopsis writes the SYNOPSIS: a line of app's usage text for each way
// to call it.
func (w *manWriter) synopsis(app *cli.App) {
	w.section("SYNOPSIS")
	synopsis := app.UsageText
	if synopsis == "" {
		synopsis = app.Name + " [options]"
		if app.ArgsUsage != "" {
			synopsis += " " + app.ArgsUsage
		}
	}
	for _, line := range strings.Split(synopsis, "\n") {
		cmd, args, _ := strings.Cut(strings.TrimSpace(line), " ")
		if cmd == "" {
			continue
		}
		w.printf(".SY %s", escape(cmd, true))
		if args = strings.TrimSpace(args); args != "" {
			w.text(synopsisArgs(args))
		}
		w.printf(".YS")
	}
}

// optionList writes the OPTIONS, by category.
func (w *manWriter) optionList(flags []flagDoc) {
	if len(flags) == 0 {
		return
	}
	w.section("OPTIONS")
	for _, c := range categories(flags) {
		if c != "" {
			w.printf(".SS %s", escape(c, false))
		}
		for _, f := range flags {
			if f.category == c {
				w.option(f)
			}
		}
	}
}

// examples writes the EXAMPLES: each one's text, then its command.
func (w *manWriter) examples(examples []tool.Example) {
	if len(examples) == 0 {
		return
	}
	w.section("EXAMPLES")
	for i, e := range examples {
		if i > 0 {
			w.printf(".PP")
		}
		w.text(w.prose(e.Text))
		w.printf(`.IP "" 4`)
		w.printf(".EX")
		for _, l := range wrapCommand("$ "+e.Command, 66) {
			w.text(escape(l, true))
		}
		w.printf(".EE")
	}
}

// manWriter writes roff.
type manWriter struct {
	b        strings.Builder
	options  map[string]bool // the app's options, with dashes, to set in bold
	commands map[string]bool // tool names, to set in bold
}

func (w *manWriter) printf(format string, args ...any) {
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

// text writes a line of text, which roff must not take for a request.
func (w *manWriter) text(s string) {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		w.b.WriteString(`\&`)
	}
	w.b.WriteString(s)
	w.b.WriteByte('\n')
}

func (w *manWriter) section(title string) {
	w.printf(".SH %s", escape(title, false))
}

var tagRE = regexp.MustCompile(`^([A-Z][A-Z0-9_]*(?:, [A-Z][A-Z0-9_]*)*): +(\S.*)$`)

// paragraphs writes text: paragraphs separated by blank lines, lines that
// begin with a space kept as they are. A paragraph that begins with a tag
// in capitals and a colon ("SIGHUP: ...") becomes a tagged paragraph.
func (w *manWriter) paragraphs(text string) {
	type block struct {
		verbatim bool
		lines    []string
	}
	var blocks []block
	last := -1 // index of the block that the next line continues, if any
	for _, l := range strings.Split(strings.Trim(text, "\n"), "\n") {
		if strings.TrimSpace(l) == "" {
			last = -1
			continue
		}
		v := l[0] == ' ' || l[0] == '\t'
		if last < 0 || blocks[last].verbatim != v {
			blocks = append(blocks, block{verbatim: v})
			last = len(blocks) - 1
		}
		blocks[last].lines = append(blocks[last].lines, strings.TrimRight(l, " \t"))
	}
	for i, b := range blocks {
		if i > 0 {
			w.printf(".PP")
		}
		if b.verbatim {
			w.printf(".EX")
			for _, l := range b.lines {
				w.text(escape(l, true))
			}
			w.printf(".EE")
			continue
		}
		lines := b.lines
		if m := tagRE.FindStringSubmatch(lines[0]); m != nil {
			w.printf(".TP")
			w.text(`\fB` + escape(m[1], false) + `\fR`)
			w.printf(".br")
			lines = append([]string{capitalize(m[2])}, lines[1:]...)
		}
		for _, l := range lines {
			w.text(w.prose(strings.TrimSpace(l)))
		}
	}
}

// option writes the tagged paragraph for a flag.
func (w *manWriter) option(f flagDoc) {
	var names []string
	for _, n := range f.names() {
		names = append(names, `\fB`+escape(n, true)+`\fR`)
	}
	tag := strings.Join(names, ", ")
	if f.arg != "" {
		tag += ` \fI` + escape(f.arg, true) + `\fR`
	}
	w.printf(".TP")
	w.text(tag)
	w.printf(".br")

	u := f.usage
	if u != "" {
		var s string
		if f.arg != "" && f.quoted != [2]int{} {
			i, j := f.quoted[0], f.quoted[1]
			s = w.prose(u[:i]) + `\fI` + escape(u[i:j], true) + `\fR` + w.prose(u[j:])
		} else {
			s = w.prose(u)
		}
		s = capitalize(s)
		if !strings.HasSuffix(u, ".") {
			s += "."
		}
		w.text(s)
	}
	var more []string
	if f.def != "" {
		more = append(more, `Default: \fB`+escape(f.def, true)+`\fR.`)
	}
	if len(f.env) > 0 {
		var env []string
		for _, e := range f.env {
			env = append(env, `\fB`+escape(e, true)+`\fR`)
		}
		more = append(more, "Environment: "+strings.Join(env, ", ")+".")
	}
	if len(more) > 0 {
		if u != "" {
			w.printf(".br")
		}
		w.text(strings.Join(more, " "))
	}
}

func (w *manWriter) environment(app *cli.App, flags []flagDoc) {
	example := flags[0]
	for _, f := range flags {
		if len(f.long) > 0 && f.long[0] == "write" {
			example = f
		}
	}
	w.text(`Every option can also be set with an environment variable: \fBTAPIR_\fR and the option's long name in capitals, with underscores for dashes.`)
	if len(example.long) > 0 && len(example.env) > 0 {
		w.text(fmt.Sprintf(`For example, \fB%s\fR sets \fB\-\-%s\fR.`, escape(example.env[0], true), escape(example.long[0], true)))
	}
	w.text(`Each option above names its variable.`)
	w.text(`An option on the command line overrides its variable.`)

	var notes []string
	for _, f := range flags {
		if f.repeat && !app.DisableSliceFlagSeparator {
			sep := "commas"
			if app.SliceFlagSeparator != "" && app.SliceFlagSeparator != "," {
				sep = `\(lq` + escape(app.SliceFlagSeparator, true) + `\(rq`
			}
			notes = append(notes, "the variable of a repeatable option holds its values separated by "+sep)
			break
		}
	}
	for _, f := range flags {
		if f.arg == "" {
			notes = append(notes, `the variable of an option without a value holds \fBtrue\fR or \fBfalse\fR`)
			break
		}
	}
	if len(notes) > 0 {
		w.printf(".PP")
		w.text(capitalize(strings.Join(notes, "; ")) + ".")
	}
}

// prose escapes a line of running text, and sets in bold the options and
// tool names it mentions. Hyphens in what a user would type (options, tool
// names, paths) become minus signs, so that they can be copied.
func (w *manWriter) prose(s string) string {
	return wordRE.ReplaceAllStringFunc(s, w.word)
}

var wordRE = regexp.MustCompile(`\S+`)

func (w *manWriter) word(s string) string {
	core := strings.TrimLeft(s, `("'[`)
	pre := s[:len(s)-len(core)]
	core = strings.TrimRight(core, `)"',.;:!?]`)
	post := s[len(pre)+len(core):]
	switch {
	case strings.HasPrefix(core, "-"):
		name, value, eq := strings.Cut(core, "=")
		if w.options[name] {
			core = `\fB` + escape(name, true) + `\fR`
			if eq {
				core += "=" + escape(value, true)
			}
		} else {
			core = escape(core, true)
		}
	case w.commands[core]:
		core = `\fB` + escape(core, true) + `\fR`
	default:
		core = escape(core, strings.Contains(core, "/"))
	}
	return escape(pre, false) + core + escape(post, false)
}

// escape escapes s for roff: backslashes, characters beyond ASCII, and in
// code (what a user types) hyphens, which become minus signs.
func escape(s string, code bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-' && code:
			b.WriteString(`\-`)
		case r >= utf8.RuneSelf:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// capitalize makes the first letter of a sentence a capital, unless the
// first word is a name, such as tapir-cat or protobuf:dnstap.Dnstap.
func capitalize(s string) string {
	word, _, _ := strings.Cut(s, " ")
	for _, r := range word {
		if !unicode.IsLower(r) {
			return s
		}
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

var synopsisRE = regexp.MustCompile(`\s+|[\[\]{}()|]|\.\.\.|…|[^\s\[\]{}()|]+`)

// synopsisArgs formats the arguments of a usage line: options in bold,
// placeholders in italics, and no line break inside brackets.
func synopsisArgs(s string) string {
	var b strings.Builder
	depth := 0
	for _, t := range synopsisRE.FindAllString(s, -1) {
		switch {
		case strings.TrimSpace(t) == "":
			if depth > 0 {
				b.WriteString(`\ `)
			} else {
				b.WriteString(" ")
			}
		case strings.ContainsAny(t, "[{(") && len(t) == 1:
			depth++
			b.WriteString(t)
		case strings.ContainsAny(t, "]})") && len(t) == 1:
			depth = max(depth-1, 0)
			b.WriteString(t)
		case t == "|" || t == "..." || t == "…":
			b.WriteString(escape(t, false))
		default:
			word := strings.TrimRight(t, ".")
			dots := t[len(word):]
			if strings.HasPrefix(word, "-") {
				name, value, eq := strings.Cut(word, "=")
				b.WriteString(`\fB` + escape(name, true) + `\fR`)
				if eq {
					b.WriteString(`=\fI` + escape(value, true) + `\fR`)
				}
			} else {
				b.WriteString(`\fI` + escape(word, true) + `\fR`)
			}
			b.WriteString(dots)
		}
	}
	return b.String()
}

// wrapCommand breaks a shell command longer than width into lines that
// end in a backslash. It breaks only before an option or a pipe outside
// quotes, and keeps an option with its value.
func wrapCommand(cmd string, width int) []string {
	if len(cmd) <= width {
		return []string{cmd}
	}
	var units []string // each begins with an option or pipe, but the first
	quote := rune(0)
	for _, word := range strings.SplitAfter(cmd, " ") {
		if quote == 0 && len(units) > 0 && (strings.HasPrefix(word, "-") || strings.HasPrefix(word, "|")) {
			units = append(units, word)
		} else if len(units) == 0 {
			units = append(units, word)
		} else {
			units[len(units)-1] += word
		}
		for _, r := range word {
			switch {
			case quote == 0 && (r == '\'' || r == '"'):
				quote = r
			case r == quote:
				quote = 0
			}
		}
	}
	var lines []string
	line := units[0]
	for _, u := range units[1:] {
		if len(line)+len(strings.TrimRight(u, " ")) > width {
			lines = append(lines, line+`\`)
			line = "    "
		}
		line += u
	}
	return append(lines, line)
}

// categories lists the categories of flags in the order they first come,
// the flags without one first.
func categories(flags []flagDoc) []string {
	var cats []string
	seen := map[string]bool{}
	for _, f := range flags {
		if !seen[f.category] {
			seen[f.category] = true
			cats = append(cats, f.category)
		}
	}
	sort.SliceStable(cats, func(i, j int) bool { return cats[i] == "" && cats[j] != "" })
	return cats
}

var refRE = regexp.MustCompile(`^([^\s()]+)\((\w+)\)$`)

// seeAlso returns the references of a man page: refs and the other tools
// of the toolkit, in roff, ordered by section and name.
func seeAlso(name string, refs []string) []string {
	all := map[string]bool{}
	for _, r := range refs {
		all[r] = true
	}
	for _, t := range toolkit {
		if t != name {
			all[t+"(1)"] = true
		}
	}
	type ref struct{ raw, name, section string }
	var list []ref
	for r := range all {
		if m := refRE.FindStringSubmatch(r); m != nil {
			list = append(list, ref{r, m[1], m[2]})
		} else {
			list = append(list, ref{r, r, "~"})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].section != list[j].section {
			return list[i].section < list[j].section
		}
		return list[i].name < list[j].name
	})
	var out []string
	for _, r := range list {
		if r.section == "~" {
			out = append(out, escape(r.raw, false))
		} else {
			out = append(out, `\fB`+escape(r.name, true)+`\fR(`+escape(r.section, false)+`)`)
		}
	}
	return out
}
