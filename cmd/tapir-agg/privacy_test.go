package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// documented reads the member names of tapir-agg's table in PRIVACY.md:
// "row.a_count, aaaa_count" names row.a_count and row.aaaa_count, and
// "row.label0 … row.label9" the ten labels.
func documented(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("../../PRIVACY.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	in := false
	for s := bufio.NewScanner(f); s.Scan(); {
		line := s.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## tapir-agg"
			continue
		}
		if !in || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| field") {
			continue
		}
		cell := strings.Split(line, "|")[1]
		if strings.Contains(cell, "…") {
			for i := range 10 {
				names[fmt.Sprintf("row.label%d", i)] = true
			}
			continue
		}
		prefix := ""
		for _, n := range strings.Split(cell, ",") {
			n = strings.TrimSpace(n)
			if p, _, ok := strings.Cut(n, "."); ok {
				prefix = p
			} else {
				n = prefix + "." + n
			}
			names[n] = true
		}
	}
	return names
}

// Every member of every record tapir-agg writes is in PRIVACY.md.
func TestPrivacy(t *testing.T) {
	doc := documented(t)
	recs, _ := runAgg(t, "--well-known", "testdata/wk.txt", "-r", "testdata/capture.fstrm")
	seen := map[string]bool{}
	for _, r := range recs {
		typ := r["type"].(string)
		for k, v := range r {
			seen[typ+"."+k] = true
			if k == "rows" {
				for _, row := range v.([]any) {
					for rk := range row.(map[string]any) {
						seen["row."+rk] = true
					}
				}
			}
		}
	}
	for n := range seen {
		if !doc[n] {
			t.Errorf("tapir-agg writes %s, which PRIVACY.md does not list", n)
		}
	}
	for _, n := range []string{"new_qname.qname", "row.v4client_count_hll", "histogram.rows"} {
		if !seen[n] {
			t.Errorf("the test capture did not exercise %s", n)
		}
	}
}
