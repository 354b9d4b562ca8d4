package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/testkit/unboundtest"
)

// build builds the other tools of the pipeline into dir.
func build(t *testing.T, dir string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, tool), "../"+tool).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", tool, err, out)
		}
	}
}

// Real Unbound → tapir-listen → tapir-anon → tapir-agg → tapir-cat, live
// through pipes: the records show what was queried.
func TestPipeline(t *testing.T) {
	dir := t.TempDir()
	build(t, dir, "tapir-listen", "tapir-anon", "tapir-cat")
	sock := filepath.Join(dir, "dnstap.sock")
	key := filepath.Join(dir, "anon.key")
	os.WriteFile(key, []byte(strings.Repeat("5a", 32)), 0o600)
	list := filepath.Join(dir, "wk.txt")
	os.WriteFile(list, []byte("www.example.test.\n.wild.example.test.\n"), 0o644)
	out := filepath.Join(dir, "records.fstrm")

	listen := exec.Command(filepath.Join(dir, "tapir-listen"), "-u", sock)
	anon := exec.Command(filepath.Join(dir, "tapir-anon"), "-k", key)
	agg := exec.Command(os.Args[0], "--well-known", list, "--interval", "1m", "--state", filepath.Join(dir, "state"), "-w", out)
	agg.Env = append(os.Environ(), "TAPIR_TEST_MAIN=1")
	var logs [3]bytes.Buffer
	for i, c := range []*exec.Cmd{listen, anon, agg} {
		c.Stderr = &logs[i]
	}
	var err error
	if anon.Stdin, err = listen.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if agg.Stdin, err = anon.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*exec.Cmd{agg, anon, listen} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer c.Process.Kill()
	}
	for i := 0; i < 500; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := unboundtest.Start(t, unboundtest.Config{DnstapSocket: sock, LogClientQuery: true, LogClientResponse: true})
	type q struct {
		name  string
		qtype uint16
		n     int
	}
	asked := []q{
		{"www.example.test.", dns.TypeA, 7},
		{"www.example.test.", dns.TypeAAAA, 3},
		{"a.wild.example.test.", dns.TypeA, 4},
		{"b.wild.example.test.", dns.TypeTXT, 2},
		{"mail.example.test.", dns.TypeA, 2},
		{"missing.example.test.", dns.TypeA, 1},
	}
	for _, x := range asked {
		for i := range x.n {
			if _, err := s.QueryFrom(fmt.Sprintf("127.77.9.%d", 1+i), x.name, x.qtype); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(unboundtest.DnstapFlushDelay)
	s.Stop()
	listen.Process.Signal(syscall.SIGTERM)
	for i, c := range []*exec.Cmd{listen, anon, agg} {
		if err := c.Wait(); err != nil {
			t.Fatalf("%s: %v\n%s", c.Path, err, logs[i].String())
		}
	}
	js, err := exec.Command(filepath.Join(dir, "tapir-cat"), "--json", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	var news []string
	var rows []map[string]any
	histograms := 0
	for _, line := range strings.Split(strings.TrimSpace(string(js)), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		switch r["type"] {
		case "new_qname":
			news = append(news, r["qname"].(string))
		case "histogram":
			histograms++
			for _, x := range r["rows"].([]any) {
				rows = append(rows, x.(map[string]any))
			}
		}
	}
	sort.Strings(news)
	if strings.Join(news, " ") != "mail.example.test. missing.example.test." {
		t.Errorf("new names %v", news)
	}
	sum := map[string]float64{}
	for _, r := range rows {
		name := fmt.Sprintf("%v.%v.%v", r["label2"], r["label1"], r["label0"])
		for _, k := range []string{"a_count", "aaaa_count", "other_type_count", "ok_count", "v4client_count"} {
			sum[name+" "+k] += r[k].(float64)
		}
	}
	want := map[string]float64{
		"www.example.test a_count": 7, "www.example.test aaaa_count": 3, "www.example.test ok_count": 10,
		"www.example.test v4client_count": 7,
		"wild.example.test a_count":       4, "wild.example.test other_type_count": 2, "wild.example.test ok_count": 6,
		"wild.example.test v4client_count": 4,
	}
	for k, v := range want {
		if strings.HasSuffix(k, "client_count") && histograms > 1 {
			continue // the queries spanned two intervals: distinct counts do not add
		}
		if sum[k] != v {
			t.Errorf("%s = %v, want %v (rows %v)", k, sum[k], v, rows)
		}
	}
}
