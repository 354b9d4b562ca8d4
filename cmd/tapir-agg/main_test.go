package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/cmd/tool/docs"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"

	dnstappb "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
)

func TestDocs(t *testing.T) { docs.Test(t, app(), manual) }

// The test binary doubles as tapir-agg.
func TestMain(m *testing.M) { tooltest.Main(m, main) }

var command = tooltest.Command

func runAgg(t *testing.T, args ...string) (recs []map[string]any, stderr string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.fstrm")
	cmd := command(append(args, "-w", out)...)
	var e bytes.Buffer
	cmd.Stderr = &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("tapir-agg %q: %v\n%s", args, err, e.String())
	}
	return readRecords(t, out), e.String()
}

func readRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := fstrm.NewFileReader(f, fstrm.ReaderOptions{ContentTypes: []string{record.ContentType}})
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for {
		b, err := r.Next()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("frame %d: %v", r.Frames(), err)
		}
		recs = append(recs, m)
	}
}

// oracle counts the capture the slow, independent way: golang-dnstap's
// protobuf, miekg/dns, and the list rules read off the list file.
type tally struct {
	types, rcodes [5]uint64 // A AAAA MX NS other; NOERROR NXDOMAIN SERVFAIL other
	bits          uint64
	v4, v6        map[string]bool
}

func oracle(t *testing.T, capture, list string, interval time.Duration) (map[int64]map[string]*tally, []string) {
	t.Helper()
	exact, suffix := map[string]bool{}, map[string]bool{}
	lb, _ := os.ReadFile(list)
	for _, line := range strings.Split(string(lb), "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if line == "" || strings.Contains(line, "..") {
			continue
		}
		if strings.HasPrefix(line, ".") {
			suffix[line] = true
		} else {
			exact[line] = true
		}
	}
	f, _ := os.Open(capture)
	defer f.Close()
	r, err := fstrm.NewFileReader(f, fstrm.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hist := map[int64]map[string]*tally{}
	var news []string
	seen := map[string]bool{}
	for {
		b, err := r.Next()
		if err != nil {
			break
		}
		var d dnstappb.Dnstap
		if err := proto.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		m := d.GetMessage()
		if m.GetType() != dnstappb.Message_CLIENT_RESPONSE {
			continue
		}
		var msg dns.Msg
		if err := msg.Unpack(m.GetResponseMessage()); err != nil || len(msg.Question) == 0 {
			continue
		}
		q := strings.ToLower(msg.Question[0].Name)
		entry := ""
		if exact[q] {
			entry = q
		} else {
			for i := 0; i < len(q)-1; i++ {
				if q[i] == '.' && suffix[q[i:]] {
					entry = q[i:]
					break
				}
			}
		}
		if entry == "" {
			if !seen[q] {
				seen[q] = true
				news = append(news, q)
			}
			continue
		}
		ts := time.Unix(int64(m.GetResponseTimeSec()), int64(m.GetResponseTimeNsec()))
		start := ts.Truncate(interval).Unix()
		if hist[start] == nil {
			hist[start] = map[string]*tally{}
		}
		c := hist[start][entry]
		if c == nil {
			c = &tally{v4: map[string]bool{}, v6: map[string]bool{}}
			hist[start][entry] = c
		}
		switch msg.Question[0].Qtype {
		case dns.TypeA:
			c.types[0]++
		case dns.TypeAAAA:
			c.types[1]++
		case dns.TypeMX:
			c.types[2]++
		case dns.TypeNS:
			c.types[3]++
		default:
			c.types[4]++
		}
		switch msg.Rcode {
		case dns.RcodeSuccess:
			c.rcodes[0]++
		case dns.RcodeNameError:
			c.rcodes[1]++
		case dns.RcodeServerFailure:
			c.rcodes[2]++
		default:
			c.rcodes[3]++
		}
		if strings.HasPrefix(entry, ".") {
			c.bits |= 2
		} else {
			c.bits |= 1
		}
		if a := m.GetQueryAddress(); len(a) == 4 {
			c.v4[net.IP(a).String()] = true
		} else {
			c.v6[net.IP(a).String()] = true
		}
	}
	return hist, news
}

func num(v any) uint64 {
	f, _ := v.(float64)
	return uint64(f)
}

// The fixed capture in testdata gives exactly the histograms and new names
// that an independent count of it gives, and the counts add up.
func TestGolden(t *testing.T) {
	const capture, list = "testdata/capture.fstrm", "testdata/wk.txt"
	recs, stderr := runAgg(t, "--well-known", list, "--interval", "10s", "-r", capture)
	want, wantNews := oracle(t, capture, list, 10*time.Second)
	if !strings.Contains(stderr, "wk.txt:10") {
		t.Errorf("the bad list line was not reported with file and line:\n%s", stderr)
	}
	var news []string
	got := map[int64]map[string]map[string]any{}
	partial := 0
	for _, r := range recs {
		switch r["type"] {
		case "new_qname":
			news = append(news, r["qname"].(string))
		case "histogram":
			ts, _ := time.Parse(time.RFC3339, r["start"].(string))
			if num(r["duration"]) != 10 {
				t.Errorf("duration %v", r["duration"])
			}
			if r["partial"] == true {
				partial++
			}
			rows := map[string]map[string]any{}
			for _, x := range r["rows"].([]any) {
				row := x.(map[string]any)
				var labels []string
				for i := 9; i >= 0; i-- {
					if l, ok := row["label"+string(rune('0'+i))].(string); ok && l != "" {
						labels = append(labels, l)
					}
				}
				name := strings.Join(labels, ".") + "."
				if num(row["edm_status_bits"]) == 2 {
					name = "." + name
				}
				rows[name] = row
			}
			got[ts.Unix()] = rows
		}
	}
	if partial != 1 {
		t.Errorf("%d partial histograms, want 1 (the last)", partial)
	}
	if strings.Join(news, " ") != strings.Join(wantNews, " ") {
		t.Errorf("new names differ: got %d, want %d\n got  %.300v\n want %.300v", len(news), len(wantNews), news, wantNews)
	}
	if len(got) != len(want) {
		t.Fatalf("%d histograms, want %d", len(got), len(want))
	}
	for start, rows := range want {
		if len(got[start]) != len(rows) {
			t.Errorf("%v: %d rows, want %d", time.Unix(start, 0).UTC(), len(got[start]), len(rows))
		}
		for entry, w := range rows {
			g := got[start][entry]
			if g == nil {
				t.Errorf("%v: no row for %s", time.Unix(start, 0).UTC(), entry)
				continue
			}
			types := [5]uint64{num(g["a_count"]), num(g["aaaa_count"]), num(g["mx_count"]), num(g["ns_count"]), num(g["other_type_count"])}
			rcodes := [5]uint64{num(g["ok_count"]), num(g["nx_count"]), num(g["fail_count"]), num(g["other_rcode_count"])}
			if types != w.types || rcodes != w.rcodes || num(g["edm_status_bits"]) != w.bits {
				t.Errorf("%s: types %v rcodes %v bits %v, want %v %v %v", entry, types, rcodes, g["edm_status_bits"], w.types, w.rcodes, w.bits)
			}
			var sum uint64
			for i := range types {
				sum += types[i] - rcodes[i]
			}
			if sum != 0 {
				t.Errorf("%s: type and rcode counts do not add up", entry)
			}
			for fam, clients := range map[string]map[string]bool{"v4": w.v4, "v6": w.v6} {
				n := num(g[fam+"client_count"])
				// Exact up to 20 clients (the explicit sketch), else
				// within three standard errors.
				if len(clients) <= 20 && n != uint64(len(clients)) || float64(n) < 0.9*float64(len(clients)) || float64(n) > 1.1*float64(len(clients)) {
					t.Errorf("%s: %s clients %d, want %d", entry, fam, n, len(clients))
				}
			}
		}
	}
}
