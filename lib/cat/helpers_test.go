package cat

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"

	"github.com/tapir-edge/tapir/lib/fstrm"
)

// violationsDir holds real dnstap captures (kdig's, of the DNS
// violations catalogue).
const violationsDir = "../../testdata/dns-violations"

func violationFiles(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(violationsDir, "*.dnstap"))
	if len(files) == 0 {
		t.Fatalf("no captures in %s", violationsDir)
	}
	return files
}

// needProgram returns the path of a real program that a test runs, or
// skips the test if it is not installed (fails with TAPIR_REQUIRE_REAL=1).
func needProgram(t testing.TB, name string) string {
	t.Helper()
	return tooltest.Need(t, name)
}

// printStreams prints streams with o and returns the output, the errors
// Print returned, and what was logged.
func printStreams(t testing.TB, o Options, streams ...[]byte) (out string, errs []error, log string) {
	t.Helper()
	var logBuf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logBuf, nil)))
	defer slog.SetDefault(old)

	var b bytes.Buffer
	p := NewPrinter(&b, o)
	for i, s := range streams {
		r, err := fstrm.NewFileReader(bytes.NewReader(s), fstrm.ReaderOptions{ContentTypes: ContentTypes})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.Print(r, "stream"+string(rune('1'+i))); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String(), errs, logBuf.String()
}

// jsonLines decodes each line of out as a JSON object.
func jsonLines(t testing.TB, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var o map[string]any
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		objs = append(objs, o)
	}
	return objs
}

// path follows keys down nested objects.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
