package docs

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// Completion returns a completion script for an app made by tool.Setup, for
// shell "bash", "zsh" or "fish". The script completes the long and short
// options; the value of an option that takes a file (TakesFile), and any
// argument that is not an option, complete as file names; the value of
// an option whose usage ends in a list of choices ("`FORMAT`: text or
// json") completes as one of them.
func Completion(app *cli.App, shell string) (string, error) {
	flags := flagDocs(app)
	if !app.HideHelp && cli.HelpFlag != nil {
		if h, ok := cli.HelpFlag.(*cli.BoolFlag); ok {
			flags = append(flags, flagDoc{long: []string{h.Name}, short: h.Aliases, usage: h.Usage})
		}
	}
	var b strings.Builder
	switch shell {
	case "bash":
		bashCompletion(&b, app.Name, flags)
	case "zsh":
		zshCompletion(&b, app.Name, flags)
	case "fish":
		fishCompletion(&b, app.Name, flags)
	default:
		return "", fmt.Errorf("no completion for shell %q: want bash, zsh or fish", shell)
	}
	return b.String(), nil
}

func header(b *strings.Builder, shell, name string) {
	fmt.Fprintf(b, "# %s completion for %s.\n", shell, name)
	fmt.Fprintf(b, "# Generated from the command line definitions of %s; do not edit.\n", name)
	fmt.Fprintf(b, "# Regenerate with: make completions\n\n")
}

var nonWordRE = regexp.MustCompile(`\W`)

func bashCompletion(b *strings.Builder, name string, flags []flagDoc) {
	header(b, "bash", name)

	fn := "_" + nonWordRE.ReplaceAllString(name, "_")
	var all, files, words []string
	choices := map[string][]string{} // case pattern: choices
	var patterns []string            // of choices, in order
	for _, f := range flags {
		names := f.names()
		all = append(all, names...)
		pattern := strings.Join(names, "|")
		switch {
		case f.arg == "":
		case f.file:
			files = append(files, pattern)
		case f.choices() != nil:
			patterns = append(patterns, pattern)
			choices[pattern] = f.choices()
		default:
			words = append(words, pattern)
		}
	}

	fmt.Fprintf(b, "%s() {\n", fn)
	b.WriteString(`	local cur=${COMP_WORDS[COMP_CWORD]} prev= i
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}
	# bash splits --option=value into --option, = and value.
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi
	for ((i = 1; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == -- ]]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return
		fi
	done
	case $prev in
`)
	if len(files) > 0 {
		fmt.Fprintf(b, "\t%s)\n", strings.Join(files, "|"))
		b.WriteString("\t\tcompopt -o filenames 2>/dev/null\n")
		b.WriteString("\t\tmapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n")
		b.WriteString("\t\treturn ;;\n")
	}
	for _, p := range patterns {
		fmt.Fprintf(b, "\t%s)\n", p)
		fmt.Fprintf(b, "\t\tmapfile -t COMPREPLY < <(compgen -W '%s' -- \"$cur\")\n", strings.Join(choices[p], " "))
		b.WriteString("\t\treturn ;;\n")
	}
	if len(words) > 0 {
		fmt.Fprintf(b, "\t%s)\n", strings.Join(words, "|"))
		b.WriteString("\t\tCOMPREPLY=()\n")
		b.WriteString("\t\treturn ;;\n")
	}
	b.WriteString("\tesac\n")
	b.WriteString("\tif [[ $cur == -* ]]; then\n")
	fmt.Fprintf(b, "\t\tmapfile -t COMPREPLY < <(compgen -W '%s' -- \"$cur\")\n", strings.Join(all, " "))
	b.WriteString("\t\treturn\n")
	b.WriteString("\tfi\n")
	b.WriteString("\tcompopt -o filenames 2>/dev/null\n")
	b.WriteString("\tmapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n")
	b.WriteString("}\n\n")
	fmt.Fprintf(b, "complete -F %s %s\n", fn, name)
}

func zshCompletion(b *strings.Builder, name string, flags []flagDoc) {
	fmt.Fprintf(b, "#compdef %s\n", name)
	header(b, "zsh", name)
	b.WriteString("_arguments -s -S \\\n")
	for _, f := range flags {
		// The option spec of _arguments: what the option excludes, its
		// names (in braces, which zsh expands, when it has several),
		// its description, and how to complete its value.
		names := f.names()
		var exclude string
		switch {
		case f.long[0] == "help":
			exclude = "(- *)"
		case f.repeat:
			exclude = "*"
		case len(names) > 1:
			exclude = "(" + strings.Join(names, " ") + ")"
		}
		var forms []string
		for _, n := range names {
			if f.arg != "" && strings.HasPrefix(n, "--") {
				n += "="
			}
			forms = append(forms, n)
		}
		var spec strings.Builder
		if len(forms) > 1 {
			if exclude != "" {
				spec.WriteString("'" + exclude + "'")
			}
			spec.WriteString("{" + strings.Join(forms, ",") + "}'")
		} else {
			spec.WriteString("'" + exclude + forms[0])
		}
		desc := strings.NewReplacer(`\`, `\\`, `]`, `\]`, `'`, `'\''`).Replace(f.summary())
		fmt.Fprintf(&spec, "[%s]", desc)
		if f.arg != "" {
			msg := strings.NewReplacer(`:`, `\:`, `'`, `'\''`).Replace(f.arg)
			switch {
			case f.file:
				fmt.Fprintf(&spec, ":%s:_files", msg)
			case f.choices() != nil:
				fmt.Fprintf(&spec, ":%s:(%s)", msg, strings.Join(f.choices(), " "))
			default:
				fmt.Fprintf(&spec, ":%s: ", msg)
			}
		}
		spec.WriteString("'")
		fmt.Fprintf(b, "\t%s \\\n", spec.String())
	}
	b.WriteString("\t'*:file:_files'\n")
}

func fishCompletion(b *strings.Builder, name string, flags []flagDoc) {
	header(b, "fish", name)
	quote := func(s string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
	}
	for _, f := range flags {
		line := "complete -c " + name
		for _, s := range f.short {
			line += " -s " + s
		}
		for _, l := range f.long {
			line += " -l " + l
		}
		switch {
		case f.arg == "":
		case f.file:
			line += " -r"
		case f.choices() != nil:
			line += " -x -a " + quote(strings.Join(f.choices(), " "))
		default:
			line += " -x"
		}
		b.WriteString(line + " -d " + quote(f.summary()) + "\n")
	}
}
