package cat

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	pb "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/testkit/cattest"
)

// TestJSONCaptureKnown checks the JSON of one capture against what its
// name says: kdig asked for p7677.CDNgc.net A at ns1.panthercdn.com
// (174.35.89.33), which REFUSED.
func TestJSONCaptureKnown(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(violationsDir, "DVE-2017-0006_pkt-IN_A_p7677.CDNgc.net._at-ns1.panthercdn.com-REFUSED.dnstap"))
	if err != nil {
		t.Fatal(err)
	}
	out, errs, _ := printStreams(t, Options{Format: JSON}, data)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	objs := jsonLines(t, out)
	if len(objs) != 2 {
		t.Fatalf("%d objects, want 2:\n%s", len(objs), out)
	}
	q, r := objs[0], objs[1]
	for _, c := range []struct {
		v    any
		want any
	}{
		{path(q, "type"), "TOOL_QUERY"},
		{path(r, "type"), "TOOL_RESPONSE"},
		{path(r, "version"), "kdig 2.4.0"},
		{path(r, "socket_family"), "INET"},
		{path(r, "socket_protocol"), "UDP"},
		{path(r, "response_address"), "174.35.89.33"},
		{path(r, "response_port"), 53.0},
		{path(q, "query_message", "qname"), "p7677.CDNgc.net."},
		{path(q, "query_message", "qtype"), "A"},
		{path(q, "query_message", "flags", "rd"), true},
		{path(q, "query_message", "flags", "qr"), false},
		{path(r, "response_message", "qname"), "p7677.CDNgc.net."},
		{path(r, "response_message", "qclass"), "IN"},
		{path(r, "response_message", "rcode"), "REFUSED"},
		{path(r, "response_message", "opcode"), "QUERY"},
		{path(r, "response_message", "flags", "qr"), true},
		{path(r, "response_message", "flags", "aa"), true},
		{path(r, "response_message", "id"), path(q, "query_message", "id")},
		// As dnstap -j writes it: 1970-01-21T01:57:31.9268948Z.
		{path(r, "response_time"), "1970-01-21T01:57:31.926894800Z"},
	} {
		if c.v != c.want {
			t.Errorf("got %v, want %v", c.v, c.want)
		}
	}
	if _, ok := r["query_message"]; ok {
		t.Error("response frame has a query_message")
	}
}

// fileNameRE reads the question out of a capture's name.
var fileNameRE = regexp.MustCompile(`_(?:pkt|pkg)-(?:edns\d_|noedns_)?IN_([A-Z]+)_(.+?)_at-[^-]+?(?:-([A-Z]+))?\.dnstap$`)

// TestJSONCaptures checks every capture: the dnstap fields against
// golang-dnstap's decoding, the question against the file's name.
func TestJSONCaptures(t *testing.T) {
	named := 0
	for _, file := range violationFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		out, errs, _ := printStreams(t, Options{Format: JSON}, data)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		objs := jsonLines(t, out)
		frames := rawFrames(t, data)
		if len(objs) != len(frames) {
			t.Fatalf("%s: %d objects for %d frames", file, len(objs), len(frames))
		}
		base := filepath.Base(file)
		for i, o := range objs {
			var d pb.Dnstap
			if err := proto.Unmarshal(frames[i], &d); err != nil {
				t.Fatal(err)
			}
			m := d.Message
			if got, want := path(o, "type"), m.GetType().String(); got != want {
				t.Errorf("%s #%d: type %v, want %v", base, i, got, want)
			}
			if got, want := path(o, "query_address"), net.IP(m.QueryAddress).String(); m.QueryAddress != nil && got != want {
				t.Errorf("%s #%d: query_address %v, want %v", base, i, got, want)
			}
			if got, want := path(o, "query_port"), float64(m.GetQueryPort()); m.QueryPort != nil && got != want {
				t.Errorf("%s #%d: query_port %v, want %v", base, i, got, want)
			}
			if m.QueryTimeSec != nil {
				want := time.Unix(int64(m.GetQueryTimeSec()), int64(m.GetQueryTimeNsec()))
				got, err := time.Parse(time.RFC3339Nano, path(o, "query_time").(string))
				if err != nil || !got.Equal(want) {
					t.Errorf("%s #%d: query_time %v, want %v", base, i, path(o, "query_time"), want)
				}
			}
			if m.ResponseTimeSec != nil {
				want := time.Unix(int64(m.GetResponseTimeSec()), int64(m.GetResponseTimeNsec()))
				got, err := time.Parse(time.RFC3339Nano, path(o, "response_time").(string))
				if err != nil || !got.Equal(want) {
					t.Errorf("%s #%d: response_time %v, want %v", base, i, path(o, "response_time"), want)
				}
			}
			key := "query_message"
			if strings.HasSuffix(m.GetType().String(), "RESPONSE") {
				key = "response_message"
			}
			msg, ok := o[key].(map[string]any)
			if !ok {
				t.Errorf("%s #%d: no %s", base, i, key)
				continue
			}
			sm := fileNameRE.FindStringSubmatch(base)
			if sm == nil || msg["error"] != nil || (key == "response_message" && msg["qname"] == nil) {
				continue
			}
			named++
			qname := msg["qname"].(string)
			if _, under, ok := strings.Cut(sm[2], "RANDOM."); ok {
				// A random label, different in each capture.
				qname = qname[strings.Index(qname, ".")+1:]
				sm[2] = under
			}
			if msg["qtype"] != sm[1] || !strings.EqualFold(qname, sm[2]) {
				t.Errorf("%s #%d: question %v %v, want %s %s", base, i, msg["qname"], msg["qtype"], sm[2], sm[1])
			}
			if sm[3] != "" && key == "response_message" && msg["rcode"] != sm[3] {
				t.Errorf("%s #%d: rcode %v, want %s", base, i, msg["rcode"], sm[3])
			}
		}
	}
	if named < 20 {
		t.Errorf("only %d messages checked against their file's name", named)
	}
}

// rawFrames returns the data frames of a stream.
func rawFrames(t *testing.T, data []byte) [][]byte {
	r, err := fstrm.NewFileReader(bytes.NewReader(data), fstrm.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for {
		b, err := r.Next()
		if err != nil {
			return frames
		}
		frames = append(frames, bytes.Clone(b))
	}
}

// richResponse is a response with every section, EDNS options and an
// extended rcode.
func richResponse(t *testing.T) []byte {
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	m.Id = 4242
	m.Response, m.RecursionDesired, m.RecursionAvailable, m.AuthenticatedData = true, true, true, true
	m.Rcode = dns.RcodeNameError
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	m.Answer = []dns.RR{rr("www.example.com. 300 IN CNAME web.example.com."), rr("web.example.com. 60 IN A 198.51.100.80")}
	m.Ns = []dns.RR{rr("example.com. 3600 IN SOA ns.example.com. hostmaster.example.com. 2024050101 7200 3600 1209600 300")}
	m.Extra = []dns.RR{rr(`ns.example.com. 3600 IN TXT "a \"quoted\" text"`)}
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(1232)
	o.SetDo()
	o.Option = []dns.EDNS0{
		&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, SourceScope: 0, Address: net.ParseIP("203.0.113.0").To4()},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
		&dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeBlocked, ExtraText: "policy"},
	}
	m.Extra = append(m.Extra, o)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJSONMessage(t *testing.T) {
	f := dnstap.Frame{FrameType: dnstap.FrameMessage, HasMessage: true, Identity: []byte("resolver1"), Extra: []byte{0, 1, 2}}
	f.Type = dnstap.ClientResponse
	f.SocketFamily = dnstap.FamilyINET6
	f.SocketProtocol = dnstap.ProtocolDOH
	f.QueryAddress = netip.MustParseAddr("2001:db8::7").AsSlice()
	f.QueryPort = 0
	f.Present |= dnstap.FieldQueryPort
	f.SetResponseTime(time.Date(2024, 5, 1, 12, 0, 0, 500, time.UTC))
	f.ResponseMessage = richResponse(t)
	f.QueryZone = []byte("\x07example\x03com\x00")
	out, errs, _ := printStreams(t, Options{Format: JSON}, cattest.Stream(dnstap.ContentType, f.AppendMarshal(nil)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	objs := jsonLines(t, out)
	if len(objs) != 1 {
		t.Fatalf("%d objects", len(objs))
	}
	o := objs[0]
	r := o["response_message"]
	for _, c := range []struct {
		got, want any
	}{
		{path(o, "identity"), "resolver1"},
		{path(o, "extra"), "AAEC"},
		{path(o, "socket_family"), "INET6"},
		{path(o, "socket_protocol"), "DOH"},
		{path(o, "query_address"), "2001:db8::7"},
		{path(o, "query_port"), 0.0}, // present though zero
		{path(o, "response_time"), "2024-05-01T12:00:00.000000500Z"},
		{path(o, "query_zone"), "example.com."},
		{path(r, "id"), 4242.0},
		{path(r, "rcode"), "NXDOMAIN"},
		{path(r, "flags", "ad"), true},
		{path(r, "flags", "cd"), false},
		{path(r, "qname"), "www.example.com."},
		{len(path(r, "answer").([]any)), 2},
		{path(path(r, "answer").([]any)[0], "type"), "CNAME"},
		{path(path(r, "answer").([]any)[0], "rdata"), "web.example.com."},
		{path(path(r, "answer").([]any)[1], "name"), "web.example.com."},
		{path(path(r, "answer").([]any)[1], "ttl"), 60.0},
		{path(path(r, "answer").([]any)[1], "rdata"), "198.51.100.80"},
		{path(path(r, "authority").([]any)[0], "rdata"), "ns.example.com. hostmaster.example.com. 2024050101 7200 3600 1209600 300"},
		{len(path(r, "additional").([]any)), 1}, // the OPT record is under edns
		{path(path(r, "additional").([]any)[0], "rdata"), `"a \"quoted\" text"`},
		{path(r, "edns", "udp_size"), 1232.0},
		{path(r, "edns", "do"), true},
		{path(r, "edns", "version"), 0.0},
		{path(path(r, "edns", "options").([]any)[0], "name"), "ECS"},
		{path(path(r, "edns", "options").([]any)[0], "subnet"), "203.0.113.0/24"},
		{path(path(r, "edns", "options").([]any)[0], "source_prefix"), 24.0},
		{path(path(r, "edns", "options").([]any)[1], "name"), "COOKIE"},
		{path(path(r, "edns", "options").([]any)[1], "data"), "0102030405060708"},
		{path(path(r, "edns", "options").([]any)[2], "info"), "Blocked"},
		{path(path(r, "edns", "options").([]any)[2], "extra_text"), "policy"},
	} {
		if c.got != c.want {
			t.Errorf("got %v, want %v", c.got, c.want)
		}
	}
	if _, ok := o["response_port"]; ok {
		t.Error("absent response_port written")
	}
}

func TestJSONBadDNS(t *testing.T) {
	bad := []byte{0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xc0, 0xff}
	f := dnstap.Frame{FrameType: dnstap.FrameMessage, HasMessage: true}
	f.Type = dnstap.ClientQuery
	f.QueryMessage = bad
	out, _, _ := printStreams(t, Options{Format: JSON}, cattest.Stream(dnstap.ContentType, f.AppendMarshal(nil)))
	o := jsonLines(t, out)[0]
	m := o["query_message"].(map[string]any)
	if m["error"] == nil || m["error"] == "" {
		t.Errorf("no error member: %v", m)
	}
	if m["id"] != float64(0x1234) {
		t.Errorf("id %v, want %d", m["id"], 0x1234)
	}
	raw, err := base64.StdEncoding.DecodeString(m["raw"].(string))
	if err != nil || !bytes.Equal(raw, bad) {
		t.Errorf("raw %v does not hold the message", m["raw"])
	}
}

// TestBadVers: extended rcode 16 in an OPT record is BADVERS, not the
// BADSIG of TSIG that miekg/dns names it.
func TestBadVers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(violationsDir, "DVE-2017-0005_pkt-edns1_IN_SOA_._at-8.8.8.8.dnstap"))
	if err != nil {
		t.Fatal(err)
	}
	out, _, _ := printStreams(t, Options{Format: JSON}, data)
	objs := jsonLines(t, out)
	if got := path(objs[1], "response_message", "rcode"); got != "BADVERS" {
		t.Errorf("rcode %v, want BADVERS", got)
	}
}

// strangeIdentity holds every kind of character that JSON or YAML must
// escape, and bytes that are not UTF-8.
const strangeIdentity = "a\"b\\c\nd\te\x01f\x7fg\u0085h\u00a0i\u2028j\ufeffk\U0001F600l\xffm: #n"

func TestStrings(t *testing.T) {
	f := dnstap.Frame{FrameType: dnstap.FrameMessage, HasMessage: true, Identity: []byte(strangeIdentity)}
	f.Type = dnstap.ClientQuery
	out, _, _ := printStreams(t, Options{Format: JSON}, cattest.Stream(dnstap.ContentType, f.AppendMarshal(nil)))
	if !json.Valid([]byte(strings.TrimSpace(out))) {
		t.Fatalf("invalid JSON: %q", out)
	}
	want := strings.ToValidUTF8(strangeIdentity, "\ufffd")
	if got := jsonLines(t, out)[0]["identity"]; got != want {
		t.Errorf("identity %q, want %q", got, want)
	}
	yout, _, _ := printStreams(t, Options{Format: YAML}, cattest.Stream(dnstap.ContentType, f.AppendMarshal(nil)))
	docs := parseYAML(t, yout)
	if got := path(docs[0], "identity"); got != want {
		t.Errorf("YAML identity %q, want %q", got, want)
	}
}

// parseYAML parses YAML documents with PyYAML (a YAML 1.1 parser, the
// stricter one for what is plain) and returns them as JSON values.
func parseYAML(t *testing.T, y string) []any {
	t.Helper()
	py := needProgram(t, "python3")
	cmd := exec.Command(py, "-c", `import sys, json, yaml
json.dump(list(yaml.safe_load_all(sys.stdin)), sys.stdout)`)
	cmd.Stdin = strings.NewReader(y)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "No module named 'yaml'") && os.Getenv("TAPIR_REQUIRE_REAL") != "1" {
			t.Skip("PyYAML is not installed")
		}
		t.Fatalf("PyYAML: %v\n%s\n%s", err, stderr.Bytes(), y)
	}
	var docs []any
	if err := json.Unmarshal(out, &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

// TestYAMLMatchesJSON checks that the YAML documents hold what the JSON
// lines hold, for every capture and for a message with every section.
func TestYAMLMatchesJSON(t *testing.T) {
	streams := [][]byte{}
	for _, file := range violationFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, data)
	}
	f := dnstap.Frame{FrameType: dnstap.FrameMessage, HasMessage: true}
	f.Type = dnstap.ClientResponse
	f.ResponseMessage = richResponse(t)
	streams = append(streams, cattest.Stream(dnstap.ContentType, f.AppendMarshal(nil)))
	streams = append(streams, recordStream())

	jout, _, _ := printStreams(t, Options{Format: JSON}, streams...)
	yout, _, _ := printStreams(t, Options{Format: YAML}, streams...)
	var want []any
	for _, line := range strings.Split(strings.TrimSpace(jout), "\n") {
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		want = append(want, v)
	}
	got := parseYAML(t, yout)
	if len(got) != len(want) {
		t.Fatalf("%d YAML documents, %d JSON lines", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("document %d:\nYAML %v\nJSON %v", i, got[i], want[i])
		}
	}
	if !strings.HasPrefix(yout, "---\n") || strings.Count(yout, "---\n") != len(want) {
		t.Errorf("documents are not each opened with ---")
	}
}
