package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// privacyTable reads the field table of one tool's section in PRIVACY.md.
func privacyTable(t *testing.T, tool string) map[string]string {
	t.Helper()
	f, err := os.Open("../../PRIVACY.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]string{}
	in := false
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## "+tool
			continue
		}
		if !in || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| field") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(line, "|")
		rows[strings.TrimSpace(cells[1])] = strings.TrimSpace(cells[2])
	}
	if len(rows) == 0 {
		t.Fatalf("PRIVACY.md has no field table for %s", tool)
	}
	return rows
}

// Every field tapir-listen passes on is in PRIVACY.md with what happens to
// it, and what the table says is what the tool does.
func TestPrivacy(t *testing.T) {
	table := privacyTable(t, "tapir-listen")

	// A frame with every field set, including fields this toolkit does
	// not interpret (policy, http_protocol, an unknown one).
	var in dnstap.Frame
	in.Identity, in.Version, in.Extra = []byte("resolver-1"), []byte("v1"), []byte("extra")
	in.Type = dnstap.ClientResponse
	in.SocketFamily, in.SocketProtocol = dnstap.FamilyINET, dnstap.ProtocolUDP
	in.QueryAddress, in.ResponseAddress = []byte{198, 51, 100, 7}, []byte{192, 0, 2, 53}
	in.QueryPort, in.ResponsePort = 5353, 53
	in.Present |= dnstap.FieldQueryPort | dnstap.FieldResponsePort
	in.QueryTimeSec, in.QueryTimeNsec, in.ResponseTimeSec, in.ResponseTimeNsec = 1700000000, 1, 1700000000, 2
	in.Present |= dnstap.FieldQueryTimeSec | dnstap.FieldQueryTimeNsec | dnstap.FieldResponseTimeSec | dnstap.FieldResponseTimeNsec
	q := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)
	q.SetEdns0(1232, true)
	resp := new(dns.Msg).SetReply(q)
	in.QueryMessage, _ = q.Pack()
	in.ResponseMessage, _ = resp.Pack()
	in.QueryZone = []byte("\x07example\x03com\x00")
	raw := in.AppendMarshal(nil)
	// policy (15, a message), http_protocol (16, an enum) and field 99
	// of Message are appended by hand: the package passes them through.
	var msgExtra []byte
	msgExtra = append(msgExtra, 15<<3|2, 2, 8, 1) // policy { type = 1 }
	msgExtra = append(msgExtra, 0x80, 0x01, 2)    // http_protocol (tag 16<<3, two bytes) = 2
	msgExtra = append(msgExtra, 0x98, 0x06, 7)    // field 99 = 7
	raw = appendToMessage(t, raw, msgExtra)

	dir := t.TempDir()
	sock, out := filepath.Join(dir, "s"), filepath.Join(dir, "out.fstrm")
	p := run(t, "-u", sock, "-w", out)
	waitFile(t, sock)
	c := dialUnix(t, sock)
	w, err := fstrm.Dial(c, "protobuf:dnstap.Dnstap", fstrm.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteFrame(raw)
	w.Close()
	c.Close()
	waitFrames(t, out, 1)
	p.stop(t)

	f, _ := os.Open(out)
	defer f.Close()
	r, err := fstrm.NewFileReader(f, fstrm.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	// "unchanged" in the table must mean unchanged: with no option given
	// the frame must come out byte for byte.
	for field, what := range table {
		if !strings.HasPrefix(what, "unchanged") {
			t.Errorf("%s: %q: the test only knows unchanged fields; extend it", field, what)
		}
	}
	if !bytes.Equal(got, raw) {
		t.Errorf("the frame changed on the way through:\n in  %x\n out %x", raw, got)
	}
	for _, field := range dnstap.FieldNames() {
		if _, ok := table[field]; !ok {
			t.Errorf("PRIVACY.md does not say what tapir-listen does with %s", field)
		}
	}
}

// appendToMessage adds encoded fields to the Message (field 14) of a
// Dnstap frame whose message is its last field, as AppendMarshal writes.
func appendToMessage(t *testing.T, frame, extra []byte) []byte {
	t.Helper()
	var f dnstap.Frame
	if err := f.Unmarshal(frame); err != nil {
		t.Fatal(err)
	}
	f.Message.Unknown = append(f.Message.Unknown, extra...)
	return f.AppendMarshal(nil)
}
