package docs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/urfave/cli/v2"
)

// bareApp is a small tool, not yet set up.
func bareApp() *cli.App {
	return &cli.App{
		Name:  "tapir-test",
		Usage: "test the documentation",
		Flags: tool.OutputFlags(),
	}
}

func TestSyncDocs(t *testing.T) {
	root := t.TempDir()
	files := []string{"man/tapir-test.1", "completions/tapir-test.bash", "completions/_tapir-test", "completions/tapir-test.fish"}

	wrote, stale, err := syncDocs(root, bareApp(), tool.Manual{}, false)
	if err != nil || len(wrote) != 0 || len(stale) != 4 || stale[0] != "man/tapir-test.1 is missing: run make man completions" {
		t.Fatalf("without files: wrote %q, stale %q, %v", wrote, stale, err)
	}

	wrote, stale, err = syncDocs(root, bareApp(), tool.Manual{}, true)
	if err != nil || !slices.Equal(wrote, files) || len(stale) != 0 {
		t.Fatalf("update: wrote %q, stale %q, %v", wrote, stale, err)
	}
	page, err := os.ReadFile(filepath.Join(root, "man", "tapir-test.1"))
	if err != nil || !strings.Contains(string(page), ".SH EXIT STATUS") {
		t.Fatalf("man page: %v\n%s", err, page)
	}

	wrote, stale, err = syncDocs(root, bareApp(), tool.Manual{}, false)
	if err != nil || len(wrote) != 0 || len(stale) != 0 {
		t.Fatalf("up to date: wrote %q, stale %q, %v", wrote, stale, err)
	}
	wrote, _, _ = syncDocs(root, bareApp(), tool.Manual{}, true)
	if len(wrote) != 0 {
		t.Errorf("update when up to date wrote %q", wrote)
	}

	// A new example makes the man page stale, and only it.
	m := tool.Manual{Examples: []tool.Example{{Text: "Write a file:", Command: "tapir-test -w out"}}}
	_, stale, err = syncDocs(root, bareApp(), m, false)
	if err != nil || len(stale) != 1 {
		t.Fatalf("new example: stale %q, %v", stale, err)
	}
	want := "man/tapir-test.1 is stale: run make man completions\nline "
	if !strings.HasPrefix(stale[0], want) || !strings.Contains(stale[0], `want ".SH EXAMPLES"`) {
		t.Errorf("new example: %q, want %q…", stale[0], want)
	}

	// An app that is already set up would document its flags twice.
	app := bareApp()
	tool.Setup(app, tool.Manual{})
	if _, _, err := syncDocs(root, app, tool.Manual{}, false); err == nil {
		t.Error("app set up twice: no error")
	}
}

func TestRepoRoot(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "cmd", "tapir-test")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	got, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The temporary directory may be reached through a symbolic link.
	if a, b := evalSymlinks(t, got), evalSymlinks(t, root); a != b {
		t.Errorf("repoRoot() = %s, want %s", a, b)
	}
}

func evalSymlinks(t *testing.T, p string) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFirstDiff(t *testing.T) {
	for _, tt := range []struct{ have, want, diff string }{
		{"a\nb\n", "a\nc\n", "line 2:\n\thave \"b\"\n\twant \"c\""},
		{"a\n", "a\nb\n", "line 2:\n\thave \"\"\n\twant \"b\""},
		{"a", "a\nb", `line 2: file ends, want "b"`},
		{"a\nb", "a", `line 2: have "b", want end of file`},
	} {
		if got := firstDiff(tt.have, tt.want); got != tt.diff {
			t.Errorf("firstDiff(%q, %q) = %q, want %q", tt.have, tt.want, got, tt.diff)
		}
	}
}
