package cat

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/testkit/cattest"
)

// dnstapQ runs the real dnstap -q on file in the time zone tz.
func dnstapQ(t *testing.T, bin, file, tz string) []byte {
	t.Helper()
	cmd := exec.Command(bin, "-r", file, "-q")
	cmd.Env = append(os.Environ(), "TZ="+tz)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dnstap -r %s -q: %v\n%s", file, err, stderr.Bytes())
	}
	return out
}

// TestDnstapQ checks that the text output is byte for byte that of
// dnstap -q, on every real capture, in UTC and in a zone whose offset is
// not whole hours.
func TestDnstapQ(t *testing.T) {
	bin := needProgram(t, "dnstap")
	for _, tz := range []string{"UTC", "Asia/Kolkata"} {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Logf("skipping zone %s: %v", tz, err)
			continue
		}
		for _, file := range violationFiles(t) {
			want := dnstapQ(t, bin, file, tz)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, errs, _ := printStreams(t, Options{Location: loc}, data)
			if len(errs) > 0 {
				t.Errorf("%s: %v", file, errs)
			}
			if got != string(want) {
				t.Errorf("TZ=%s %s:\ntapir-cat:\n%sdnstap -q:\n%s", tz, filepath.Base(file), got, want)
			}
			if len(want) == 0 {
				t.Errorf("%s: dnstap -q printed nothing", file)
			}
		}
	}
}

// TestDnstapQEdges compares with dnstap -q on frames built to reach each
// branch of its format: every message type, missing and odd addresses and
// times, messages that do not decode, escaped names, unknown types.
func TestDnstapQEdges(t *testing.T) {
	bin := needProgram(t, "dnstap")
	base := time.Date(2024, 5, 1, 23, 59, 58, 123456789, time.UTC)
	query := func(name string, qtype, qclass uint16) []byte {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.Question[0].Qclass = qclass
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	q := query("www.example.com.", dns.TypeA, dns.ClassINET)
	resp := cattest.Message{Type: dnstap.ClientResponse, Name: "Mixed.Case.example.", Qtype: dns.TypeAAAA, Rcode: dns.RcodeSuccess}.DNS()
	full := func(typ dnstap.MessageType) dnstap.Frame {
		f := dnstap.Frame{FrameType: dnstap.FrameMessage, HasMessage: true}
		f.Type = typ
		f.SocketFamily = dnstap.FamilyINET
		f.SocketProtocol = dnstap.ProtocolUDP
		f.QueryAddress = []byte{192, 0, 2, 1}
		f.ResponseAddress = []byte{198, 51, 100, 53}
		f.QueryPort, f.ResponsePort = 5353, 53
		f.SetQueryTime(base)
		f.SetResponseTime(base.Add(1500 * time.Millisecond))
		f.QueryMessage = q
		f.ResponseMessage = resp
		return f
	}
	var frames []dnstap.Frame
	for typ := dnstap.AuthQuery; typ <= dnstap.UpdateResponse; typ++ {
		frames = append(frames, full(typ))
	}
	edit := func(typ dnstap.MessageType, fn func(f *dnstap.Frame)) {
		f := full(typ)
		fn(&f)
		frames = append(frames, f)
	}
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryAddress = netip.MustParseAddr("::ffff:192.0.2.9").AsSlice() })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryAddress = netip.MustParseAddr("2001:db8::1").AsSlice() })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryAddress = nil })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryAddress = []byte{} })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryAddress = []byte{1, 2, 3, 4, 5} })
	edit(dnstap.ResolverResponse, func(f *dnstap.Frame) { f.ResponseAddress = nil })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) {
		f.QueryTimeNsec = 0
		f.Present &^= dnstap.FieldQueryTimeNsec
	})
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) {
		f.QueryTimeSec = 0
		f.Present &^= dnstap.FieldQueryTimeSec
	})
	edit(dnstap.ClientResponse, func(f *dnstap.Frame) {
		f.ResponseTimeSec, f.ResponseTimeNsec = 0, 0
		f.Present &^= dnstap.FieldResponseTimeSec | dnstap.FieldResponseTimeNsec
	})
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.SetQueryTime(time.Unix(0, 0)) })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryTimeNsec = 1_500_000_000 })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.SocketProtocol = dnstap.ProtocolTCP })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.SocketProtocol = dnstap.ProtocolDOT })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.SocketProtocol = dnstap.ProtocolDOH })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) {
		f.SocketProtocol = 0
		f.Present &^= dnstap.FieldSocketProtocol
	})
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryMessage = nil })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryMessage = []byte{1, 2, 3} })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryMessage = q[:12] })
	// dnstap 0.4.0 as Debian builds it (with miekg/dns 1.1.50) reads a
	// question cut inside its class as class 0; miekg/dns 1.1.73 and
	// tapir-cat take the message as truncated, and write X.
	cutClass := len(frames)
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryMessage = q[:len(q)-1] })
	edit(dnstap.ClientResponse, func(f *dnstap.Frame) { f.ResponseMessage = resp[:len(resp)-3] })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryMessage = query(`a\032b\.c"d.EXAMPLE.`, dns.TypeTXT, dns.ClassCHAOS) })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryMessage = query(".", 65000, 4242) })
	edit(dnstap.ClientQuery, func(f *dnstap.Frame) { f.QueryMessage = query("\\200\\255.example.", dns.TypeHTTPS, dns.ClassINET) })

	var encoded [][]byte
	for i := range frames {
		encoded = append(encoded, frames[i].AppendMarshal(nil))
	}
	file := filepath.Join(t.TempDir(), "edges.fstrm")
	data := cattest.Stream(dnstap.ContentType, encoded...)
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want := string(dnstapQ(t, bin, file, "UTC"))
	got, errs, _ := printStreams(t, Options{Location: time.UTC}, data)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	if len(gl) != len(wl) {
		t.Fatalf("%d lines, dnstap -q wrote %d:\n%s\ndnstap -q:\n%s", len(gl), len(wl), got, want)
	}
	for i := range gl {
		if i == cutClass {
			if want := "23:59:58.123456 CQ 192.0.2.1 UDP 32b X "; gl[i] != want {
				t.Errorf("frame %d (question cut in its class): %q, want %q", i+1, gl[i], want)
			}
			continue
		}
		if gl[i] != wl[i] {
			t.Errorf("frame %d:\ntapir-cat: %q\ndnstap -q: %q", i+1, gl[i], wl[i])
		}
	}
	// Check a few lines for what they must say, lest both be wrong.
	for _, s := range []string{
		`23:59:58.123456 CQ 192.0.2.1 UDP 33b "www.example.com." IN A`,
		`23:59:59.623456 CR 192.0.2.1 UDP `,
		`23:59:59.623456 RR 198.51.100.53 UDP`,
		`[unhandled Message.Type]`,
		` CQ 192.0.2.9 UDP`,
		` CQ MISSING_ADDRESS UDP`,
		` CQ <nil> UDP`,
		` CQ ?0102030405 UDP`,
		`23:59:58.?????? CQ`,
		`??:??:??.123456 CQ`,
		`??:??:??.?????? CR`,
		`23:59:58.1500000 CQ`,
		` CQ 192.0.2.1  33b`,
		` 0b X `,
		` 3b X `,
		` 12b X `,
		`"a\ b\.c\"d.EXAMPLE." CH TXT`,
		`"\200\255.example." IN HTTPS`,
		`"." CLASS4242 TYPE65000`,
	} {
		if !strings.Contains(got, s) {
			t.Errorf("output lacks %q:\n%s", s, got)
		}
	}
}

// TestTextNewProtocols: the socket protocols that dnstap 0.4.0 does not
// know are named, where it writes nothing.
func TestTextNewProtocols(t *testing.T) {
	f := dnstap.Frame{FrameType: dnstap.FrameMessage, HasMessage: true}
	f.Type = dnstap.ClientQuery
	f.SocketProtocol = dnstap.ProtocolDOQ
	f.QueryAddress = []byte{192, 0, 2, 1}
	f.SetQueryTime(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	got, _, _ := printStreams(t, Options{Location: time.UTC}, cattest.Stream(dnstap.ContentType, f.AppendMarshal(nil)))
	if want := "12:00:00.000000 CQ 192.0.2.1 DOQ 0b X \n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTimeFormats(t *testing.T) {
	tm := time.Date(2024, 5, 1, 12, 34, 56, 7_000_008, time.UTC)
	resp := cattest.Message{Type: dnstap.ClientResponse, Client: netip.MustParseAddr("192.0.2.1"), Name: "example.com.", Qtype: dns.TypeA, Time: tm}
	data := cattest.Stream(dnstap.ContentType, resp.Frame())
	for tf, want := range map[TimeFormat]string{
		TimeDnstap:  "12:34:56.007000 CR ",
		TimeRFC3339: "2024-05-01T12:34:56.007000008Z CR ",
		TimeUnix:    "1714566896.007000008 CR ",
	} {
		got, _, _ := printStreams(t, Options{Time: tf, Location: time.UTC}, data)
		if !strings.HasPrefix(got, want) {
			t.Errorf("time format %d: %q, want prefix %q", tf, got, want)
		}
	}
	// Unbound's CLIENT_RESPONSE has only the response time; a query
	// with only a response time falls back to it in the full formats.
	f := dnstap.Frame{FrameType: dnstap.FrameMessage, HasMessage: true}
	f.Type = dnstap.ClientQuery
	f.SetResponseTime(tm)
	got, _, _ := printStreams(t, Options{Time: TimeRFC3339}, cattest.Stream(dnstap.ContentType, f.AppendMarshal(nil)))
	if !strings.HasPrefix(got, "2024-05-01T12:34:56.007000008Z CQ MISSING_ADDRESS") {
		t.Errorf("fallback to the response time: %q", got)
	}
	if _, err := ParseTimeFormat("iso"); err == nil {
		t.Error("ParseTimeFormat(iso) succeeded")
	}
}
