package dnswire_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnswire"
)

// FuzzQuestion checks that Question never panics, returns only its own
// errors, and reads the same question as miekg/dns from every message
// miekg/dns unpacks. The corpus in testdata holds the DNS messages of the
// dns-violations captures.
func FuzzQuestion(f *testing.F) {
	f.Add(message(1, wireName("www", "Example", "com"), typeA_IN))
	f.Add(message(1, []byte{3, 'w', 'w', 'w', 0xc0, 0x16}, typeA_IN, wireName("example", "org")))
	f.Add(message(1, wireName("a.b", "\x00 \xff"), typeA_IN))
	f.Add(message(1, []byte{0xc0, 0x12}, typeA_IN, []byte{0xc0, 0x14, 0xc0, 0x12}))
	f.Fuzz(func(t *testing.T, msg []byte) {
		buf := make([]byte, 0, dnswire.MaxNameLen)
		name, qtype, qclass, err := dnswire.Question(msg, buf)
		switch {
		case err == nil:
		case errors.Is(err, dnswire.ErrShort), errors.Is(err, dnswire.ErrNoQuestion), errors.Is(err, dnswire.ErrBadName):
			if len(name) != 0 {
				t.Fatalf("name %q returned with error %v", name, err)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if len(name) > dnswire.MaxNameLen {
			t.Fatalf("name longer than MaxNameLen: %d", len(name))
		}
		var m dns.Msg
		if m.Unpack(msg) != nil || len(m.Question) == 0 {
			return
		}
		q := m.Question[0]
		if err == dnswire.ErrShort {
			// miekg/dns accepts a question cut after its name or its
			// type, and reports zero for what is missing.
			if q.Qclass != 0 {
				t.Fatalf("ErrShort for a question miekg/dns reads whole: %q %d %d", q.Name, q.Qtype, q.Qclass)
			}
			whole := append(msg[:len(msg):len(msg)], 0, 0, 0, 0)
			name, _, _, err = dnswire.Question(whole, buf)
			if err != nil {
				t.Fatalf("with type and class added: %v", err)
			}
			qtype, qclass = q.Qtype, q.Qclass
		}
		if err != nil {
			t.Fatalf("miekg/dns reads %q %d %d, Question fails: %v", q.Name, q.Qtype, q.Qclass, err)
		}
		if string(name) != strings.ToLower(q.Name) || qtype != q.Qtype || qclass != q.Qclass {
			t.Fatalf("Question = %q %d %d, miekg/dns reads %q %d %d", name, qtype, qclass, q.Name, q.Qtype, q.Qclass)
		}
	})
}
