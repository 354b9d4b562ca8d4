package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/anon"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/pseudo"
)

// privacyTable reads the field table of tapir-anon's section of PRIVACY.md:
// field name to the first word of what happens by default.
func privacyTable(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../PRIVACY.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows := map[string]string{}
	in := false
	for s := bufio.NewScanner(f); s.Scan(); {
		line := s.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## tapir-anon"
			continue
		}
		if !in || !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| field") {
			continue
		}
		cells := strings.Split(line, "|")
		word := strings.Fields(cells[2])[0]
		rows[strings.TrimSpace(cells[1])] = strings.Trim(word, ":;,")
	}
	return rows
}

// Every dnstap field is in the table, and with the default flags each is
// treated as the table says.
func TestPrivacy(t *testing.T) {
	table := privacyTable(t)
	for _, name := range dnstap.FieldNames() {
		if _, ok := table[name]; !ok {
			t.Errorf("PRIVACY.md does not say what tapir-anon does with %s", name)
		}
	}

	key := bytes.Repeat([]byte{7}, 32)
	keys, err := anon.NewKeyring(pseudo.NameCryptoPAn, key, pseudo.Options{}, anon.RotateNever)
	if err != nil {
		t.Fatal(err)
	}
	q := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.Option = []dns.EDNS0{
		&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(198, 51, 100, 0).To4()},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
	}
	q.Extra = []dns.RR{o}
	qm, _ := q.Pack()
	rm, _ := new(dns.Msg).SetReply(q).Pack()

	var in dnstap.Frame
	in.Identity, in.Version, in.Extra = []byte("resolver"), []byte("v1"), []byte("x")
	in.Type, in.SocketFamily, in.SocketProtocol = dnstap.ClientResponse, dnstap.FamilyINET, dnstap.ProtocolUDP
	in.QueryAddress, in.ResponseAddress = []byte{198, 51, 100, 7}, []byte{192, 0, 2, 53}
	in.QueryPort, in.ResponsePort = 5353, 53
	in.QueryTimeSec, in.QueryTimeNsec, in.ResponseTimeSec, in.ResponseTimeNsec = 1, 2, 3, 4
	in.QueryMessage, in.ResponseMessage, in.QueryZone = qm, rm, []byte("\x07example\x00")
	in.Message.Unknown = []byte{15<<3 | 2, 2, 8, 1, 0x80, 0x01, 2} // policy, http_protocol
	in.Unknown = []byte{0x98, 0x06, 7}                             // field 99
	raw := in.AppendMarshal(nil)

	out, err := anon.NewRewriter(&anon.Config{Keys: keys}).Rewrite(nil, bytes.Clone(raw))
	if err != nil {
		t.Fatal(err)
	}
	var g dnstap.Frame
	if err := g.Unmarshal(out); err != nil {
		t.Fatal(err)
	}
	cp, _ := pseudo.NewCryptoPAn(key, 0)
	val := func(f *dnstap.Frame, name string) any {
		switch name {
		case "identity":
			return f.Identity
		case "version":
			return f.Version
		case "extra":
			return f.Extra
		case "type":
			return f.FrameType
		case "message.type":
			return f.Type
		case "message.socket_family":
			return f.SocketFamily
		case "message.socket_protocol":
			return f.SocketProtocol
		case "message.query_address":
			return f.QueryAddress
		case "message.response_address":
			return f.ResponseAddress
		case "message.query_port":
			return f.QueryPort
		case "message.response_port":
			return f.ResponsePort
		case "message.query_time_sec":
			return f.QueryTimeSec
		case "message.query_time_nsec":
			return f.QueryTimeNsec
		case "message.response_time_sec":
			return f.ResponseTimeSec
		case "message.response_time_nsec":
			return f.ResponseTimeNsec
		case "message.query_message":
			return f.QueryMessage
		case "message.response_message":
			return f.ResponseMessage
		case "message.query_zone":
			return f.QueryZone
		case "message.policy", "message.http_protocol":
			return f.Message.Unknown
		case "unknown fields":
			return f.Unknown
		}
		t.Fatalf("the test does not know field %s", name)
		return nil
	}
	var orig dnstap.Frame
	orig.Unmarshal(raw)
	for name, what := range table {
		before, after := val(&orig, name), val(&g, name)
		switch what {
		case "unchanged":
			if !equal(before, after) {
				t.Errorf("%s: %v became %v, but PRIVACY.md says unchanged", name, before, after)
			}
		case "dropped":
			if !empty(after) {
				t.Errorf("%s: %v is still there, but PRIVACY.md says dropped", name, after)
			}
		case "zeroed":
			if after != uint32(0) {
				t.Errorf("%s: %v, but PRIVACY.md says zeroed", name, after)
			}
		case "pseudonym":
			want, _ := cp.Map(nil, before.([]byte))
			if !bytes.Equal(after.([]byte), want) || bytes.Equal(after.([]byte), before.([]byte)) {
				t.Errorf("%s: %v, want the pseudonym %v", name, after, want)
			}
		case "stripped":
			m := new(dns.Msg)
			if err := m.Unpack(after.([]byte)); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if e := m.IsEdns0(); e != nil && len(e.Option) > 0 {
				t.Errorf("%s: EDNS options %v left", name, e.Option)
			}
			if len(m.Question) != 1 || m.Question[0].Name != "www.example.com." {
				t.Errorf("%s: question %v", name, m.Question)
			}
		default:
			t.Errorf("%s: the test does not know %q; extend it", name, what)
		}
	}
}

func equal(a, b any) bool {
	if x, ok := a.([]byte); ok {
		return bytes.Equal(x, b.([]byte))
	}
	return a == b
}

func empty(v any) bool {
	b, ok := v.([]byte)
	return ok && len(b) == 0
}
