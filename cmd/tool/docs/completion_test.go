package docs

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// completionDir writes the test app's completion for shell into a new
// directory, with some files to complete, and returns the script's path.
func completionDir(t *testing.T, shell, file string) string {
	t.Helper()
	s, err := Completion(testApp(), shell)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"a.fstrm", "b.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, file)
	if err := os.WriteFile(script, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return script
}

func TestCompletionBash(t *testing.T) {
	need(t, "bash")
	script := completionDir(t, "bash", "tapir-test.bash")
	for _, tt := range []struct {
		words     []string // the last is the word completed
		want, not []string
		exactly   bool
	}{
		{words: []string{"--wr"}, want: []string{"--write"}, exactly: true},
		{words: []string{"-"}, want: []string{"-r", "--read", "-w", "--write", "-z", "--zstd", "--mode", "--log-level", "-h", "--help"}, not: []string{"--secret"}},
		{words: []string{"--mode", ""}, want: []string{"fast", "slow", "off"}, exactly: true},
		{words: []string{"--log-level", "w"}, want: []string{"warn"}, exactly: true},
		{words: []string{"-w", "a"}, want: []string{"a.fstrm"}, exactly: true},
		{words: []string{"--read", ""}, want: []string{"a.fstrm", "b.txt", "tapir-test.bash"}, exactly: true},
		{words: []string{"--config", "b"}, want: []string{"b.txt"}, exactly: true},
		{words: []string{"--write", "=", "a"}, want: []string{"a.fstrm"}, exactly: true},
		{words: []string{"--write", "="}, want: []string{"a.fstrm", "b.txt", "tapir-test.bash"}, exactly: true},
		{words: []string{"--count", ""}, exactly: true},
		{words: []string{"-z", "b"}, want: []string{"b.txt"}, exactly: true},
		{words: []string{"--", "-"}, exactly: true}, // files only, and none begins with -
	} {
		words := append([]string{"tapir-test"}, tt.words...)
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		cmd := exec.Command("bash", "--norc", "--noprofile", "-c", `source "$1" &&
COMP_WORDS=(`+strings.Join(quoted, " ")+`)
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
_tapir_test
printf '%s\n' "${COMPREPLY[@]}"`, "bash", script)
		cmd.Dir = filepath.Dir(script)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", words, err, out)
		}
		got := strings.Fields(string(out))
		slices.Sort(got)
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("%q: completions %q lack %q", words, got, w)
			}
		}
		for _, w := range tt.not {
			if slices.Contains(got, w) {
				t.Errorf("%q: completions %q have %q", words, got, w)
			}
		}
		if tt.exactly && len(got) != len(tt.want) {
			t.Errorf("%q: completions %q, want %q", words, got, tt.want)
		}
	}
}

func TestCompletionZsh(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Skip("zsh is not installed")
	}
	script := completionDir(t, "zsh", "_tapir-test")
	if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(script)
	for _, want := range []string{
		"#compdef tapir-test\n",
		`'*'{-r,--read=}'[read FILE]:FILE:_files' \`,
		`'--mode=[run in MODE: fast, slow or off]:MODE:(fast slow off)' \`,
		`'(-z --zstd)'{-z,--zstd}'[compress the output with zstd]' \`,
		`'(-n --count)'{-n,--count=}'[do it N times]:N: ' \`,
		"\t'*:file:_files'\n",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("zsh completion lacks %s", want)
		}
	}
}

func TestCompletionFish(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		t.Skip("fish is not installed")
	}
	script := completionDir(t, "fish", "tapir-test.fish")
	if out, err := exec.Command("fish", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("fish -n: %v\n%s", err, out)
	}
	// complete -C lists what fish offers for a command line.
	complete := func(line string) []string {
		cmd := exec.Command("fish", "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, line)
		cmd.Dir = filepath.Dir(script)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fish: %v\n%s", err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			w, _, _ := strings.Cut(l, "\t")
			got = append(got, w)
		}
		slices.Sort(got)
		return got
	}
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"tapir-test --wr", []string{"--write"}},
		{"tapir-test --mode ", []string{"fast", "off", "slow"}},
		{"tapir-test -w a", []string{"a.fstrm"}},
	} {
		if got := complete(tt.line); !slices.Equal(got, tt.want) {
			t.Errorf("%q: completions %q, want %q", tt.line, got, tt.want)
		}
	}
	if got := complete("tapir-test --"); slices.Contains(got, "--secret") || !slices.Contains(got, "--zstd") {
		t.Errorf("completions of --: %q", got)
	}
}

func TestCompletionShell(t *testing.T) {
	if _, err := Completion(testApp(), "tcsh"); err == nil {
		t.Error("Completion for tcsh: no error")
	}
}

func TestChoices(t *testing.T) {
	for _, tt := range []struct {
		usage string
		want  []string
	}{
		{"diagnostics on stderr as `FORMAT`: text or json", []string{"text", "json"}},
		{"least `LEVEL` logged: debug, info, warn or error", []string{"debug", "info", "warn", "error"}},
		{"`ACTION` when the buffer is full: drop (count the frames, and go on) or block (the resolvers).", []string{"drop", "block"}},
		{"when the buffer is full: drop frames (and count them), or block the `ACTION` resolvers", nil},
		{"listen on TCP `ADDR` (host:port; a bare port binds loopback)", nil},
		{"keep these `TYPES` (e.g. CLIENT_RESPONSE or CR)", nil},
	} {
		app := &cli.App{Flags: []cli.Flag{&cli.StringFlag{Name: "x", Usage: tt.usage}}}
		d := flagDocs(app)[0]
		if got := d.choices(); !slices.Equal(got, tt.want) {
			t.Errorf("choices of %q = %q, want %q", tt.usage, got, tt.want)
		}
	}
}
