package observe

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/record"
)

func TestDecodeRecord(t *testing.T) {
	m, err := Decode([]byte(testPayload))
	if err != nil {
		t.Fatal(err)
	}
	if m.SrcName != "dns-tapir" || m.Creator != "observation-encoder" || m.MsgType != MsgObservation || m.ListType != ListDoubt {
		t.Errorf("decoded %+v", m)
	}
	if len(m.Added) != 1 || m.Added[0].TTL != 3600 || m.Added[0].TagMask != TagNewName|TagLikelyMalware ||
		!m.Added[0].TimeAdded.Equal(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("added %+v", m.Added)
	}
	rec, err := m.Record()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"observation","src_name":"dns-tapir","msg_type":"observation","list_type":"doubtlist","added":[{"name":"bad.example.","time_added":"2026-11-27T12:00:00Z","ttl":3600,"tag_mask":17}],"removed":[],"timestamp":"2026-11-27T12:00:01Z"}`
	if string(rec) != want {
		t.Errorf("record\n got %s\nwant %s", rec, want)
	}
	if typ, err := record.Type(rec); err != nil || typ != record.TypeObservation {
		t.Errorf("record type %q %v", typ, err)
	}
}

func TestDecodeRemovedAndLegacy(t *testing.T) {
	// removed as the core sends it (whole Domain objects), an older list
	// type name, unknown members, extended tags, reserved tag bits.
	in := `{"src_name":"s","creator":"tapir-cli","msg_type":"intel-update","list_type":"blacklist","future":1,
"added":[{"name":"A.Example","time_added":"2026-01-02T03:04:05.5+01:00","ttl":0,"tag_mask":4294967295,"extended_tags":["x"]}],
"removed":[{"name":"gone.example.","time_added":"0001-01-01T00:00:00Z","ttl":0,"tag_mask":0}],"timestamp":"2026-01-02T03:04:05Z"}`
	m, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.ListType != ListDeny {
		t.Errorf("list_type %q", m.ListType)
	}
	rec, err := m.Record()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"observation","src_name":"s","msg_type":"intel-update","list_type":"denylist","added":[{"name":"A.Example","time_added":"2026-01-02T03:04:05.5+01:00","ttl":0,"tag_mask":4294967295,"extended_tags":["x"]}],"removed":[{"name":"gone.example."}],"timestamp":"2026-01-02T03:04:05Z"}`
	if string(rec) != want {
		t.Errorf("record\n got %s\nwant %s", rec, want)
	}
	// No added/removed at all: empty lists in the record, not null.
	m, err = Decode([]byte(`{"src_name":"s","msg_type":"observation","list_type":"allowlist"}`))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ = m.Record()
	if !strings.Contains(string(rec), `"added":[],"removed":[]`) {
		t.Errorf("record %s", rec)
	}
}

func TestDecodeRefuses(t *testing.T) {
	base := map[string]any{}
	if err := json.Unmarshal([]byte(testPayload), &base); err != nil {
		t.Fatal(err)
	}
	with := func(k string, v any) string {
		m := map[string]any{}
		for kk, vv := range base {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	added := func(name string, ttl any) []any {
		return []any{map[string]any{"name": name, "time_added": "2026-11-27T12:00:00Z", "ttl": ttl, "tag_mask": 1}}
	}
	cases := map[string]string{
		"not JSON":            `{"src_name":`,
		"JSON array":          `[]`,
		"trailing data":       testPayload + `{}`,
		"no src_name":         with("src_name", nil),
		"msg_type reset":      with("msg_type", "reset"),
		"no msg_type":         with("msg_type", nil),
		"list_type greenlist": with("list_type", "greenlist"),
		"no list_type":        with("list_type", nil),
		"negative ttl":        with("added", added("a.example", -1)),
		"ttl not a number":    with("added", added("a.example", "1h")),
		"ttl fraction":        with("added", added("a.example", 1.5)),
		"empty name":          with("added", added("", 1)),
		"root name":           with("added", added(".", 1)),
		"empty label":         with("added", added("a..example", 1)),
		"space in name":       with("added", added("a b.example", 1)),
		"non-ASCII name":      with("added", added("bücher.example", 1)),
		"label of 64":         with("added", added(strings.Repeat("a", 64)+".example", 1)),
		"name of 254":         with("added", added(strings.Repeat("a.", 127)+"ab", 1)),
		"negative tag_mask":   with("added", []any{map[string]any{"name": "a.example", "tag_mask": -1}}),
		"tag_mask > 32 bits":  with("added", []any{map[string]any{"name": "a.example", "tag_mask": 1 << 32}}),
		"bad time_added":      with("added", []any{map[string]any{"name": "a.example", "time_added": "yesterday"}}),
		"bad removed name":    with("removed", []any{map[string]any{"name": "-bad name"}}),
		"bad timestamp":       with("timestamp", "2026-13-01T00:00:00Z"),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := Decode([]byte(in))
			if err == nil {
				t.Fatalf("accepted %+v", m)
			}
			if !errors.Is(err, ErrDecode) {
				t.Errorf("error does not wrap ErrDecode: %v", err)
			}
		})
	}
}
