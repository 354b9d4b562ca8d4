package dnstap_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/dnswire"
)

// TestCaptures decodes every frame of the shared dns-violations captures
// and checks it against golang-dnstap, and each DNS message in it against
// miekg/dns.
func TestCaptures(t *testing.T) {
	var f dnstap.Frame
	var out []byte
	name := make([]byte, 0, dnswire.MaxNameLen)
	frames, messages := 0, 0
	for file, data := range captureFrames(t) {
		for i, b := range data {
			frames++
			if err := f.Unmarshal(b); err != nil {
				t.Fatalf("%s frame %d: %v", file, i, err)
			}
			p, err := protoDecode(b)
			if err != nil {
				t.Fatalf("%s frame %d: golang-dnstap: %v", file, i, err)
			}
			compareProto(t, &f, p)

			out = f.AppendMarshal(out[:0])
			q, err := protoDecode(out)
			if err != nil {
				t.Fatalf("%s frame %d: golang-dnstap on AppendMarshal output: %v", file, i, err)
			}
			if !proto.Equal(p, q) {
				t.Errorf("%s frame %d: golang-dnstap decodes\n%v\nafter AppendMarshal, not\n%v", file, i, q, p)
			}
			if !bytes.Equal(out, b) {
				// kdig writes fields in order, so nothing should change.
				t.Errorf("%s frame %d: AppendMarshal changed the frame", file, i)
			}

			for _, msg := range [][]byte{f.QueryMessage, f.ResponseMessage} {
				if msg == nil {
					continue
				}
				messages++
				var m dns.Msg
				if err := m.Unpack(msg); err != nil {
					t.Errorf("%s frame %d: miekg/dns: %v", file, i, err)
					continue
				}
				h, err := dnswire.ParseHeader(msg)
				if err != nil || h.ID != m.Id || h.QR() != m.Response || int(h.Rcode()) != m.Rcode&0xf {
					t.Errorf("%s frame %d: header %+v, %v; miekg/dns reads %+v", file, i, h, err, m.MsgHdr)
				}
				var qtype, qclass uint16
				name, qtype, qclass, err = dnswire.Question(msg, name)
				if len(m.Question) == 0 {
					if err == nil {
						t.Errorf("%s frame %d: Question reads %q where miekg/dns reads none", file, i, name)
					}
					continue
				}
				mq := m.Question[0]
				if err != nil || string(name) != strings.ToLower(mq.Name) || qtype != mq.Qtype || qclass != mq.Qclass {
					t.Errorf("%s frame %d: Question = %q %d %d %v; miekg/dns reads %q %d %d",
						file, i, name, qtype, qclass, err, mq.Name, mq.Qtype, mq.Qclass)
				}
			}
		}
	}
	t.Logf("%d frames, %d DNS messages", frames, messages)
}
