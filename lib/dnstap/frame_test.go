package dnstap_test

import (
	"net/netip"
	"testing"

	"github.com/tapir-edge/tapir/lib/dnstap"
)

func TestTime(t *testing.T) {
	q := dnstap.Message{QueryTimeSec: 10, QueryTimeNsec: 1}
	r := dnstap.Message{ResponseTimeSec: 20, ResponseTimeNsec: 2}
	both := dnstap.Message{QueryTimeSec: 10, QueryTimeNsec: 1, ResponseTimeSec: 20, ResponseTimeNsec: 2}
	zero := dnstap.Message{Present: dnstap.FieldQueryTimeSec | dnstap.FieldQueryTimeNsec} // the epoch, present
	tests := []struct {
		m    dnstap.Message
		typ  dnstap.MessageType
		sec  uint64
		nsec uint32
		ok   bool
	}{
		{both, dnstap.ClientQuery, 10, 1, true},
		{both, dnstap.ClientResponse, 20, 2, true},
		{both, 0, 20, 2, true},
		{q, dnstap.ClientResponse, 10, 1, true},
		{r, dnstap.ClientQuery, 20, 2, true},
		{r, dnstap.ClientResponse, 20, 2, true},
		{zero, dnstap.ClientResponse, 0, 0, true},
		{dnstap.Message{}, dnstap.ClientQuery, 0, 0, false},
	}
	for i, tc := range tests {
		tc.m.Type = tc.typ
		sec, nsec, ok := tc.m.Time()
		if sec != tc.sec || nsec != tc.nsec || ok != tc.ok {
			t.Errorf("%d: Time() = %d, %d, %v; want %d, %d, %v", i, sec, nsec, ok, tc.sec, tc.nsec, tc.ok)
		}
	}
}

func TestDNS(t *testing.T) {
	q, r := []byte("q"), []byte("r")
	tests := []struct {
		typ         dnstap.MessageType
		query, resp []byte
		want        string
	}{
		{dnstap.ClientQuery, q, r, "q"},
		{dnstap.ClientQuery, nil, r, ""},
		{dnstap.ResolverResponse, q, r, "r"},
		{dnstap.ResolverResponse, q, nil, ""},
		{99, q, r, "r"},
		{99, q, nil, "q"},
	}
	for _, tc := range tests {
		m := dnstap.Message{Type: tc.typ, QueryMessage: tc.query, ResponseMessage: tc.resp}
		if got := string(m.DNS()); got != tc.want {
			t.Errorf("%v with %q, %q: DNS() = %q, want %q", tc.typ, tc.query, tc.resp, got, tc.want)
		}
	}
}

func TestAddrs(t *testing.T) {
	m := dnstap.Message{
		QueryAddress:    []byte{192, 0, 2, 1},
		QueryPort:       40000,
		ResponseAddress: netip.MustParseAddr("2001:db8::1").AsSlice(),
		ResponsePort:    53,
	}
	if got := m.QueryAddrPort(); got != netip.MustParseAddrPort("192.0.2.1:40000") {
		t.Errorf("QueryAddrPort() = %v", got)
	}
	if got := m.ResponseAddrPort(); got != netip.MustParseAddrPort("[2001:db8::1]:53") {
		t.Errorf("ResponseAddrPort() = %v", got)
	}
	if got := string(m.ClientAddr()); got != string(m.QueryAddress) {
		t.Errorf("ClientAddr() = %v", got)
	}
	m.QueryAddress = []byte{1, 2, 3}
	if got := m.QueryAddrPort(); got.IsValid() {
		t.Errorf("QueryAddrPort() of 3 bytes = %v", got)
	}
}
