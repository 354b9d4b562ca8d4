package dnswire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnswire"
)

// message returns a DNS message with the given header counts followed by
// body, which is written as is.
func message(qdcount uint16, body ...[]byte) []byte {
	m := []byte{0x12, 0x34, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(m[4:], qdcount)
	for _, b := range body {
		m = append(m, b...)
	}
	return m
}

// wireName encodes labels in wire format, ending with the root label.
func wireName(labels ...string) []byte {
	var b []byte
	for _, l := range labels {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

var typeA_IN = []byte{0, 1, 0, 1}

func TestQuestion(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	tests := []struct {
		name       string
		msg        []byte
		want       string // lowercased
		qtype      uint16
		qclass     uint16
		err        error
		miekgFails bool // miekg/dns rejects the message too
	}{
		{name: "simple", msg: message(1, wireName("www", "Example", "COM"), typeA_IN),
			want: "www.example.com.", qtype: 1, qclass: 1},
		{name: "root", msg: message(1, wireName(), []byte{0, 2, 0, 1}),
			want: ".", qtype: 2, qclass: 1},
		{name: "type and class", msg: message(1, wireName("x"), []byte{0xff, 0xfe, 0, 3}),
			want: "x.", qtype: 0xfffe, qclass: 3},
		{name: "dot in label", msg: message(1, wireName("a.b", "com"), typeA_IN),
			want: `a\.b.com.`},
		{name: "zone file specials", msg: message(1, wireName(` .'@;()"\`), typeA_IN),
			want: `\ \.\'\@\;\(\)\"\\.`},
		{name: "not printable", msg: message(1, wireName("\x00\x1f\x7f\x80\xc9\xff"), typeA_IN),
			want: `\000\031\127\128\201\255.`},
		{name: "only ASCII letters lowered", msg: message(1, wireName("\xc3\x89T\xc9"), typeA_IN),
			want: `\195\137t\201.`},
		{name: "printable kept", msg: message(1, wireName("!#$%&*+,-/09:<=>?[]^_`{|}~"), typeA_IN),
			want: "!#$%&*+,-/09:<=>?[]^_`{|}~."},
		{name: "longest name", msg: message(1, wireName(long63, long63, long63, long63[:61]), typeA_IN),
			want: long63 + "." + long63 + "." + long63 + "." + long63[:61] + "."},
		{name: "pointer backward into header", msg: message(1, []byte{0xc0, 0x0c}, typeA_IN),
			err: dnswire.ErrBadName, miekgFails: true}, // points at itself: a loop
		{name: "pointer forward", msg: message(1, []byte{0xc0, 0x12}, typeA_IN, wireName("Fwd", "example")),
			want: "fwd.example."},
		{name: "label then pointer", msg: message(1, []byte{3, 'w', 'w', 'w', 0xc0, 0x16}, typeA_IN, wireName("example", "org")),
			want: "www.example.org."},
		{name: "pointer to pointer", msg: message(1, []byte{0xc0, 0x12}, typeA_IN, []byte{0xc0, 0x14}, wireName("a")),
			want: "a."},

		{name: "empty", msg: nil, err: dnswire.ErrShort, miekgFails: true},
		{name: "short header", msg: message(1)[:11], err: dnswire.ErrShort, miekgFails: true},
		{name: "no question", msg: message(0, wireName("a"), typeA_IN), err: dnswire.ErrNoQuestion},
		{name: "header only", msg: message(1), err: dnswire.ErrShort},
		{name: "name cut", msg: message(1, []byte{3, 'w', 'w'}), err: dnswire.ErrShort, miekgFails: true},
		{name: "no root label", msg: message(1, []byte{3, 'w', 'w', 'w'}), err: dnswire.ErrShort, miekgFails: true},
		{name: "pointer cut", msg: message(1, []byte{0xc0}), err: dnswire.ErrShort, miekgFails: true},
		// miekg/dns accepts a question without its type and class and
		// reports zero for them; a tool should count it as truncated.
		{name: "no type", msg: message(1, wireName("a")), err: dnswire.ErrShort},
		{name: "no class", msg: message(1, wireName("a"), []byte{0, 1}), err: dnswire.ErrShort},
		{name: "class cut", msg: message(1, wireName("a"), []byte{0, 1, 0}), err: dnswire.ErrShort, miekgFails: true},
		{name: "label 64", msg: message(1, wireName(long63+"a"), typeA_IN), err: dnswire.ErrBadName, miekgFails: true},
		{name: "label type 0x80", msg: message(1, []byte{0x80, 0}, typeA_IN), err: dnswire.ErrBadName, miekgFails: true},
		{name: "name 256", msg: message(1, wireName(long63, long63, long63, long63[:62]), typeA_IN), err: dnswire.ErrBadName, miekgFails: true},
		{name: "pointer past end", msg: message(1, []byte{0xc0, 0x20}, typeA_IN), err: dnswire.ErrBadName, miekgFails: true},
		{name: "pointer to cut label", msg: message(1, []byte{0xc0, 0x12}, typeA_IN, []byte{5, 'a'}), err: dnswire.ErrBadName, miekgFails: true},
		{name: "pointer loop with label", msg: message(1, []byte{1, 'a', 0xc0, 0x0c}, typeA_IN), err: dnswire.ErrBadName, miekgFails: true},
		{name: "pointer loop", msg: message(1, []byte{0xc0, 0x12}, typeA_IN, []byte{0xc0, 0x14, 0xc0, 0x12}), err: dnswire.ErrBadName, miekgFails: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil && tc.qtype == 0 {
				tc.qtype, tc.qclass = 1, 1
			}
			buf := make([]byte, 0, dnswire.MaxNameLen)
			name, qtype, qclass, err := dnswire.Question(tc.msg, buf)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if string(name) != tc.want || qtype != tc.qtype || qclass != tc.qclass {
				t.Errorf("got %q %d %d, want %q %d %d", name, qtype, qclass, tc.want, tc.qtype, tc.qclass)
			}
			if cap(name) > 0 && &name[:1][0] != &buf[:1][0] {
				t.Error("name was not written into the buffer given")
			}

			// Where miekg/dns reads a question, the name must match.
			var m dns.Msg
			err = m.Unpack(tc.msg)
			if (err != nil) != tc.miekgFails {
				t.Fatalf("miekg/dns Unpack: err = %v, want failure %v", err, tc.miekgFails)
			}
			if err == nil && len(m.Question) > 0 && tc.want != "" {
				q := m.Question[0]
				if strings.ToLower(q.Name) != tc.want || q.Qtype != tc.qtype || q.Qclass != tc.qclass {
					t.Errorf("miekg/dns reads %q %d %d", q.Name, q.Qtype, q.Qclass)
				}
			}
		})
	}
}

func TestMaxNameLen(t *testing.T) {
	l63 := strings.Repeat("\xff", 63)
	msg := message(1, wireName(l63, l63, l63, l63[:61]), typeA_IN)
	name, _, _, err := dnswire.Question(msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(name) != dnswire.MaxNameLen {
		t.Errorf("longest name is %d long, MaxNameLen is %d", len(name), dnswire.MaxNameLen)
	}
}

func TestQuestionAllocs(t *testing.T) {
	msg := message(1, wireName("www", "Example", "COM"), typeA_IN)
	buf := make([]byte, 0, dnswire.MaxNameLen)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _, _, _ = dnswire.Question(msg, buf)
	})
	if allocs != 0 {
		t.Errorf("Question allocates %v times per run", allocs)
	}
	if !bytes.Equal(buf, []byte("www.example.com.")) {
		t.Errorf("name = %q", buf)
	}
}
