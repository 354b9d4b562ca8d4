package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// --ignore-names and --ignore-clients leave messages out before anything
// is counted or announced, and say how many.
func TestIgnore(t *testing.T) {
	dir := t.TempDir()
	names := filepath.Join(dir, "ignore.txt")
	os.WriteFile(names, []byte(".googleapis.com.\nconnect.ebay.com.\n"), 0o644)
	everyone := filepath.Join(dir, "clients.txt")
	os.WriteFile(everyone, []byte("# all of them\n0.0.0.0/0\n::/0\n"), 0o644)
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("192.0.2.0/24\nnot-an-address\n"), 0o644)

	recs, stderr := runAgg(t, "--well-known", "testdata/wk.txt", "--ignore-names", names, "-r", "testdata/capture.fstrm")
	for _, r := range recs {
		if r["type"] != "histogram" {
			continue
		}
		for _, x := range r["rows"].([]any) {
			row := x.(map[string]any)
			if row["label1"] == "googleapis" || row["label2"] == "connect" {
				t.Errorf("an ignored name was counted: %v", row)
			}
		}
	}
	if m := regexp.MustCompile(`skipped_ignored_name=(\d+)`).FindStringSubmatch(stderr); m == nil || m[1] == "0" {
		t.Errorf("ignored names not counted:\n%s", stderr)
	}

	recs, stderr = runAgg(t, "--well-known", "testdata/wk.txt", "--ignore-clients", everyone, "-r", "testdata/capture.fstrm")
	for _, r := range recs {
		if r["type"] == "new_qname" || r["type"] == "histogram" && len(r["rows"].([]any)) > 0 {
			t.Fatalf("with every client ignored, tapir-agg still wrote %v", r)
		}
	}
	if !strings.Contains(stderr, "skipped_ignored_client=3000") {
		t.Errorf("ignored clients not counted (3000 responses):\n%s", stderr)
	}

	cmd := command("--well-known", "testdata/wk.txt", "--ignore-clients", bad, "-r", "testdata/capture.fstrm", "-w", filepath.Join(dir, "out"))
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "bad.txt:2") {
		t.Errorf("a bad prefix line: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}
