package resolvers

import (
	"io/fs"
	"os"
	"strings"
	"testing"
)

// Every file is shown in the manual, and every snippet has its file.
func TestFiles(t *testing.T) {
	listed := map[string]bool{}
	for _, list := range [][]Snippet{Dnstap, RPZ, Monitor} {
		for _, s := range list {
			if listed[s.File] {
				t.Errorf("%s listed twice", s.File)
			}
			listed[s.File] = true
			text := Text(s.File)
			if strings.Contains(text, "\n\n") || !strings.HasSuffix(text, "\n") {
				t.Errorf("%s: blank line or no final newline (the man page shows it as one block)", s.File)
			}
			if !strings.HasSuffix(s.Title, ":") {
				t.Errorf("%s: title %q does not end with a colon", s.File, s.Title)
			}
		}
	}
	all, err := fs.Glob(files, "*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range all {
		if !listed[f] {
			t.Errorf("%s is in no list: the manual does not show it", f)
		}
	}
}

func TestFill(t *testing.T) {
	got := Vars{Socket: "/tmp/x/s", PrimaryPort: "15353"}.Fill(Text("bind-rpz-zone.conf") + Text("bind-dnstap.conf"))
	for _, want := range []string{`primaries { 127.0.0.1 port 15353; }`, `unix "/tmp/x/s"`} {
		if !strings.Contains(got, want) {
			t.Errorf("filled text lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, Socket) || strings.Contains(got, "5353;") && !strings.Contains(got, "15353;") {
		t.Errorf("constants left in:\n%s", got)
	}
}

func TestSection(t *testing.T) {
	s := Section("Intro.", RPZ)
	if !strings.HasPrefix(s, "Intro.\n\nUnbound (unbound.conf):\n\n server:\n     module-config:") {
		t.Errorf("section:\n%s", s)
	}
}

// A block of README.md that begins "# deploy/resolvers/FILE" shows FILE as
// it is.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```\n")
	n := 0
	for i := 1; i < len(blocks); i += 2 {
		first, rest, _ := strings.Cut(blocks[i], "\n")
		name, ok := strings.CutPrefix(first, "# deploy/resolvers/")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, ",")
		n++
		if want := Text(name); rest != want {
			t.Errorf("README.md shows %s as\n%s\nbut the file is\n%s", name, rest, want)
		}
	}
	if n == 0 {
		t.Error("README.md shows no resolver file")
	}
}
