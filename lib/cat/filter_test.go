package cat

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/testkit/cattest"
)

var filterBase = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// filterSet is every combination of a few names, clients, types and
// rcodes: message i has DNS id i and comes at filterBase plus i minutes.
func filterSet() []cattest.Message {
	names := []string{"example.com.", "www.example.com.", "WWW.Example.COM.", "a.b.example.com.", "badexample.com.", `a\.example.com.`, "other.org."}
	clients := []string{"192.0.2.1", "192.0.2.200", "::ffff:192.0.2.9", "198.51.100.7", "2001:db8::1", "2001:db8:1::5"}
	types := []dnstap.MessageType{dnstap.ClientQuery, dnstap.ClientResponse, dnstap.ResolverResponse, dnstap.AuthQuery}
	rcodes := []int{dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeServerFailure}
	var msgs []cattest.Message
	for _, n := range names {
		for _, c := range clients {
			for ti, typ := range types {
				i := len(msgs)
				msgs = append(msgs, cattest.Message{
					Type:   typ,
					Client: netip.MustParseAddr(c),
					Name:   n,
					Qtype:  dns.TypeA,
					Rcode:  rcodes[(i+ti)%len(rcodes)],
					ID:     uint16(i),
					Time:   filterBase.Add(time.Duration(i) * time.Minute),
				})
			}
		}
	}
	return msgs
}

func TestFilters(t *testing.T) {
	msgs := filterSet()
	var frames [][]byte
	for _, m := range msgs {
		frames = append(frames, m.Frame())
	}
	data := cattest.Stream(dnstap.ContentType, frames...)

	underExample := map[string]bool{"example.com.": true, "www.example.com.": true, "WWW.Example.COM.": true, "a.b.example.com.": true}
	in192 := map[string]bool{"192.0.2.1": true, "192.0.2.200": true, "::ffff:192.0.2.9": true}
	isResponse := func(m cattest.Message) bool {
		return m.Type == dnstap.ClientResponse || m.Type == dnstap.ResolverResponse
	}
	must := func(f Filter, err error) Filter {
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	names := func(ss ...string) (Filter, error) {
		var f Filter
		for _, s := range ss {
			n, err := ParseName(s)
			if err != nil {
				return f, err
			}
			f.Names = append(f.Names, n)
		}
		return f, nil
	}
	clients := func(ss ...string) (Filter, error) {
		var f Filter
		for _, s := range ss {
			p, err := ParseClient(s)
			if err != nil {
				return f, err
			}
			f.Clients = append(f.Clients, p)
		}
		return f, nil
	}
	types := func(ss ...string) (Filter, error) {
		var f Filter
		for _, s := range ss {
			if err := f.ParseType(s); err != nil {
				return f, err
			}
		}
		return f, nil
	}
	rcodes := func(ss ...string) (Filter, error) {
		var f Filter
		for _, s := range ss {
			r, err := ParseRcode(s)
			if err != nil {
				return f, err
			}
			f.Rcodes = append(f.Rcodes, r)
		}
		return f, nil
	}
	combined := must(names("example.com"))
	combined.Clients = must(clients("192.0.2.0/24")).Clients
	combined.Types = must(types("CR")).Types
	combined.Rcodes = must(rcodes("NOERROR")).Rcodes

	for _, c := range []struct {
		name string
		f    Filter
		want func(m cattest.Message) bool
	}{
		{"none", Filter{}, func(cattest.Message) bool { return true }},
		{"qname example.com", must(names("example.com")), func(m cattest.Message) bool { return underExample[m.Name] }},
		{"qname EXAMPLE.COM.", must(names("EXAMPLE.COM.")), func(m cattest.Message) bool { return underExample[m.Name] }},
		{"qname www.example.com", must(names("www.example.com")), func(m cattest.Message) bool { return strings.EqualFold(m.Name, "www.example.com.") }},
		{"qname two", must(names("b.example.com", "other.org")), func(m cattest.Message) bool { return m.Name == "a.b.example.com." || m.Name == "other.org." }},
		{"qname escaped dot", must(names(`a\.example.com`)), func(m cattest.Message) bool { return m.Name == `a\.example.com.` }},
		{"qname root", must(names(".")), func(cattest.Message) bool { return true }},
		{"qname com", must(names("com")), func(m cattest.Message) bool { return m.Name != "other.org." }},
		{"client prefix", must(clients("192.0.2.0/24")), func(m cattest.Message) bool { return in192[m.Client.String()] }},
		{"client address", must(clients("192.0.2.1")), func(m cattest.Message) bool { return m.Client.String() == "192.0.2.1" }},
		{"client mapped address", must(clients("::ffff:192.0.2.9")), func(m cattest.Message) bool { return m.Client.String() == "::ffff:192.0.2.9" }},
		{"client v6", must(clients("2001:db8::/48")), func(m cattest.Message) bool { return m.Client.String() == "2001:db8::1" }},
		{"client two", must(clients("2001:db8:1::5", "198.51.100.0/24")), func(m cattest.Message) bool {
			return m.Client.String() == "2001:db8:1::5" || m.Client.String() == "198.51.100.7"
		}},
		{"type CQ", must(types("CQ")), func(m cattest.Message) bool { return m.Type == dnstap.ClientQuery }},
		{"type two", must(types("client_response", "AQ")), func(m cattest.Message) bool {
			return m.Type == dnstap.ClientResponse || m.Type == dnstap.AuthQuery
		}},
		{"type record only", must(types("new_qname")), func(cattest.Message) bool { return false }},
		{"rcode NXDOMAIN", must(rcodes("nxdomain")), func(m cattest.Message) bool { return isResponse(m) && m.Rcode == dns.RcodeNameError }},
		{"rcode 0 or SERVFAIL", must(rcodes("0", "SERVFAIL")), func(m cattest.Message) bool {
			return isResponse(m) && (m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeServerFailure)
		}},
		{"since", Filter{Since: filterBase.Add(10 * time.Minute)}, func(m cattest.Message) bool { return m.ID >= 10 }},
		{"until", Filter{Until: filterBase.Add(10 * time.Minute)}, func(m cattest.Message) bool { return m.ID < 10 }},
		{"since until", Filter{Since: filterBase.Add(10*time.Minute + time.Nanosecond), Until: filterBase.Add(20 * time.Minute)}, func(m cattest.Message) bool { return m.ID > 10 && m.ID < 20 }},
		{"combined", combined, func(m cattest.Message) bool {
			return underExample[m.Name] && in192[m.Client.String()] && m.Type == dnstap.ClientResponse && m.Rcode == dns.RcodeSuccess
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want []int
			for _, m := range msgs {
				if c.want(m) {
					want = append(want, int(m.ID))
				}
			}
			out, errs, _ := printStreams(t, Options{Format: JSON, Filter: c.f}, data)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			var got []int
			for _, o := range jsonLines(t, out) {
				id := path(o, "query_message", "id")
				if id == nil {
					id = path(o, "response_message", "id")
				}
				got = append(got, int(id.(float64)))
			}
			if !slices.Equal(got, want) {
				t.Errorf("matched ids\n%v\nwant\n%v", got, want)
			}
			if c.name != "none" && (len(want) == 0 || len(want) == len(msgs)) && c.name != "qname root" && c.name != "type record only" {
				t.Errorf("the case selects %d of %d: it tests nothing", len(want), len(msgs))
			}

			cnt, _, _ := printStreams(t, Options{Count: true, Filter: c.f}, data)
			if cnt != strconv.Itoa(len(want))+"\n" {
				t.Errorf("--count printed %q, want %d", cnt, len(want))
			}
			text, _, _ := printStreams(t, Options{Filter: c.f}, data)
			if n := strings.Count(text, "\n"); n != len(want) {
				t.Errorf("text output has %d lines, want %d", n, len(want))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"a..b", strings.Repeat("x", 64) + ".com"} {
		if _, err := ParseName(s); err == nil {
			t.Errorf("ParseName(%q) succeeded", s)
		}
	}
	for _, s := range []string{"192.0.2.300", "example.com", "fe80::1%eth0", "192.0.2.0/33"} {
		if _, err := ParseClient(s); err == nil {
			t.Errorf("ParseClient(%q) succeeded", s)
		}
	}
	for _, s := range []string{"NXDOMAN", "16", "BADVERS", "-1"} {
		if _, err := ParseRcode(s); err == nil {
			t.Errorf("ParseRcode(%q) succeeded", s)
		}
	}
	var f Filter
	for _, s := range []string{"CLIENT_QUERYY", "Histogram", "new-qname", ""} {
		if err := f.ParseType(s); err == nil {
			t.Errorf("ParseType(%q) succeeded", s)
		}
	}
	for _, s := range []string{"yesterday", "2024-13-01", "12:00"} {
		if _, err := ParseTime(s); err == nil {
			t.Errorf("ParseTime(%q) succeeded", s)
		}
	}
	for s, want := range map[string]time.Time{
		"2024-05-01":                  time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		"2024-05-01T12:00:00":         time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
		"2024-05-01T14:00:00.5+02:00": time.Date(2024, 5, 1, 12, 0, 0, 5e8, time.UTC),
	} {
		if got, err := ParseTime(s); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if p, err := ParseClient("::ffff:192.0.2.0/120"); err != nil || p.String() != "192.0.2.0/24" {
		t.Errorf("ParseClient(::ffff:192.0.2.0/120) = %v, %v; want 192.0.2.0/24", p, err)
	}
}

func TestNameHasSuffix(t *testing.T) {
	for _, c := range []struct {
		name, suffix string
		want         bool
	}{
		{"example.com.", "example.com.", true},
		{"www.example.com.", "example.com.", true},
		{"badexample.com.", "example.com.", false},
		{`a\.example.com.`, "example.com.", false},
		{`a\\.example.com.`, "example.com.", true}, // the label ends in a backslash
		{`a\\\.example.com.`, "example.com.", false},
		{"com.", "example.com.", false},
		{"anything.", ".", true},
	} {
		if got := nameHasSuffix([]byte(c.name), c.suffix); got != c.want {
			t.Errorf("nameHasSuffix(%q, %q) = %v", c.name, c.suffix, got)
		}
	}
}

// records are tapir records of each kind, one spread over lines as a
// writer might indent it.
var records = []string{
	`{"type":"new_qname","version":0,"timestamp":"2024-05-01T10:00:00Z","qname":"www.Example.com.","qtype":1,"qclass":1,"flags":33152,"initiator":"client","rdlength":16}`,
	`{"type":"new_qname","version":0,"timestamp":"2024-05-01T11:00:00Z","qname":"badexample.com.","qtype":28,"qclass":1,"flags":33155}`,
	"{\n  \"type\": \"histogram\",\n  \"start\": \"2024-05-01T10:30:00Z\",\n  \"duration\": 60,\n  \"rows\": [{\"label0\": \"com\", \"label1\": \"example\", \"a_count\": 3, \"v4client_count_hll\": null}]\n}",
	`{"type":"observation","src_name":"dns-tapir","msg_type":"observation","list_type":"doubtlist","added":[{"name":"evil.example.","time_added":"2024-05-01T09:00:00Z","ttl":3600,"tag_mask":2}],"removed":[],"timestamp":"2024-05-01T09:00:05Z"}`,
	`{"type":"future_kind","yes":"no","on":[1.5e3,-2,true,null],"key with space":{"":"empty key"},"emoji":"\ud83d\ude00","ctl":"\u0001"}`,
}

func recordStream() []byte {
	var frames [][]byte
	for _, r := range records {
		frames = append(frames, []byte(r))
	}
	return cattest.Stream(RecordType, frames...)
}

func TestRecords(t *testing.T) {
	data := recordStream()
	out, errs, _ := printStreams(t, Options{}, data)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(records) {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	if lines[0] != records[0] {
		t.Errorf("compact record changed:\n%s\nwant\n%s", lines[0], records[0])
	}
	if want := `{"type":"histogram","start":"2024-05-01T10:30:00Z","duration":60,"rows":[{"label0":"com","label1":"example","a_count":3,"v4client_count_hll":null}]}`; lines[2] != want {
		t.Errorf("indented record:\n%s\nwant\n%s", lines[2], want)
	}
	if jout, _, _ := printStreams(t, Options{Format: JSON}, data); jout != out {
		t.Errorf("--json differs from text for records:\n%s", jout)
	}

	for _, c := range []struct {
		name string
		f    Filter
		want []int
	}{
		{"qname", Filter{Names: []string{"example.com."}}, []int{0}},
		{"type", Filter{RecordTypes: []string{"histogram", "observation"}}, []int{2, 3}},
		{"dnstap type", Filter{Types: []dnstap.MessageType{dnstap.ClientQuery}}, nil},
		{"since", Filter{Since: time.Date(2024, 5, 1, 10, 15, 0, 0, time.UTC)}, []int{1, 2}},
		{"until", Filter{Until: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}, []int{3}},
		{"rcode", Filter{Rcodes: []uint8{dns.RcodeNameError}}, []int{1}},
		{"client", Filter{Clients: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}, nil},
	} {
		out, _, _ := printStreams(t, Options{Filter: c.f}, data)
		var want string
		for _, i := range c.want {
			want += lines[i] + "\n"
		}
		if out != want {
			t.Errorf("%s: got\n%swant\n%s", c.name, out, want)
		}
		cnt, _, _ := printStreams(t, Options{Count: true, Filter: c.f}, data)
		if cnt != fmt.Sprintf("%d\n", len(c.want)) {
			t.Errorf("%s: --count %q, want %d", c.name, cnt, len(c.want))
		}
	}
}

func TestBadRecords(t *testing.T) {
	data := cattest.Stream(RecordType, []byte(records[0]), []byte(`[1,2]`), []byte(`{"type":`), []byte(records[1]), []byte(`"text"`))
	out, errs, log := printStreams(t, Options{}, data)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if want := records[0] + "\n" + records[1] + "\n"; out != want {
		t.Errorf("output\n%s\nwant the two good records", out)
	}
	// START is 8 bytes of escape and length, then 12 of control type,
	// field type and length, then the content type.
	frame2 := 8 + 12 + len(RecordType) + 4 + len(records[0])
	for _, s := range []string{
		fmt.Sprintf("stream1: frame 2 at byte %d: record is not a JSON object", frame2),
		fmt.Sprintf("stream1: frame 3 at byte %d: record is not valid JSON", frame2+4+len("[1,2]")),
		"stream1: frame 5 at byte",
	} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
	p := NewPrinter(io.Discard, Options{Count: true, Filter: Filter{RecordTypes: []string{"new_qname"}}})
	r, err := fstrm.NewFileReader(bytes.NewReader(data), fstrm.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Print(r, "x"); err != nil {
		t.Fatal(err)
	}
	if p.Bad() != 3 || p.Matched() != 2 {
		t.Errorf("bad %d, matched %d; want 3 and 2", p.Bad(), p.Matched())
	}
}

// TestFilterAllocs: matching a dnstap frame against every kind of filter
// allocates nothing, so that --count with filters keeps up with a stream.
func TestFilterAllocs(t *testing.T) {
	m := cattest.Message{Type: dnstap.ClientResponse, Client: netip.MustParseAddr("192.0.2.1"), Name: "www.example.com.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Time: filterBase}
	b := m.Frame()
	f := Filter{
		Names:   []string{"example.com."},
		Clients: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		Types:   []dnstap.MessageType{dnstap.ClientResponse},
		Rcodes:  []uint8{dns.RcodeNameError},
		Since:   filterBase.Add(-time.Hour),
		Until:   filterBase.Add(time.Hour),
	}
	mt := newMatcher(&f)
	var fr dnstap.Frame
	ok := false
	allocs := testing.AllocsPerRun(100, func() {
		if err := fr.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		ok = mt.frame(&fr)
	})
	if !ok {
		t.Fatal("the frame does not match")
	}
	if allocs != 0 {
		t.Errorf("%v allocations a frame", allocs)
	}
}

// TestCountWithoutDecoding: --count without filters counts frames without
// decoding them; with a filter, frames that do not decode are errors.
func TestCountWithoutDecoding(t *testing.T) {
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer slog.SetDefault(old)
	data := cattest.Stream(dnstap.ContentType, []byte{0xff}, []byte{0x0a, 0x10}, cattest.TrafficMessage(0, filterBase).Frame())
	for _, c := range []struct {
		f         Filter
		want, bad int64
	}{
		{Filter{}, 3, 0},
		{Filter{Types: []dnstap.MessageType{dnstap.ClientQuery}}, 1, 2},
	} {
		p := NewPrinter(io.Discard, Options{Count: true, Filter: c.f})
		r, err := fstrm.NewFileReader(bytes.NewReader(data), fstrm.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Print(r, "x"); err != nil {
			t.Fatal(err)
		}
		if p.Matched() != c.want || p.Bad() != c.bad {
			t.Errorf("filter %+v: matched %d, bad %d; want %d, %d", c.f, p.Matched(), p.Bad(), c.want, c.bad)
		}
	}
}
