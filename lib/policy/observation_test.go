package policy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/dnsname"
)

// A record as tapir-listen emits it (the same as lib/cat's test record).
const sampleObservation = `{"type":"observation","src_name":"dns-tapir","msg_type":"observation","list_type":"doubtlist","added":[{"name":"Evil.Example.","time_added":"2024-05-01T09:00:00Z","ttl":3600,"tag_mask":2}],"removed":[{"name":"gone.example"}],"timestamp":"2024-05-01T09:00:05Z"}`

func TestDecodeObservation(t *testing.T) {
	o, err := DecodeObservation([]byte(sampleObservation))
	if err != nil {
		t.Fatal(err)
	}
	if o.SrcName != "dns-tapir" || o.ListType != Doubt || len(o.Added) != 1 || len(o.Removed) != 1 {
		t.Fatalf("%+v", o)
	}
	a := o.Added[0]
	if a.Name != "evil.example." || a.TTL != 3600 || a.TagMask != TagHighVolume ||
		!a.TimeAdded.Equal(time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("added %+v", a)
	}
	if o.Removed[0].Name != "gone.example." {
		t.Fatalf("removed %+v", o.Removed[0])
	}
	e := New(mustPolicy(t, "doubt action nodata"))
	ch := e.Apply(o, time.Date(2024, 5, 1, 9, 30, 0, 0, time.UTC))
	if len(ch) != 1 || ch[0].Name != "evil.example." || ch[0].New.Kind != NoData {
		t.Fatalf("changes %+v", ch)
	}
	if ch := e.ExpireChanges(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)); len(ch) != 1 || ch[0].New.Kind != None {
		t.Fatalf("expiry at time_added + ttl: %+v", ch)
	}
}

func TestDecodeObservationErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{`, "observation:"},
		{`{"type":"histogram","src_name":"a","list_type":"denylist"}`, "type"},
		{`{"list_type":"denylist"}`, "no src_name"},
		{`{"src_name":"a","list_type":"greylist"}`, "list_type"},
		{`{"src_name":"a","list_type":"denylist","added":[{"name":"a..b","ttl":1}]}`, "added[0]"},
		{`{"src_name":"a","list_type":"denylist","added":[{"name":"a.b","ttl":-1}]}`, "ttl -1"},
		{`{"src_name":"a","list_type":"denylist","removed":[{"name":""}]}`, "removed[0]"},
		{`{"src_name":"a","list_type":"denylist","added":[{"name":"a.b","tag_mask":-1}]}`, "observation:"},
	} {
		_, err := DecodeObservation([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

// FuzzObservation checks that the decoder never panics, and that what it
// accepts is valid: a known list type, canonical names, ttl >= 0, and that
// the engine takes it.
func FuzzObservation(f *testing.F) {
	f.Add([]byte(sampleObservation))
	f.Add([]byte(`{"src_name":"a","list_type":"allowlist","added":[{"name":"*.bücher.example","time_added":"2026-01-01T00:00:00Z","ttl":0}]}`))
	f.Add([]byte(`{"src_name":"a","list_type":"denylist","added":[{"name":"x.example","ttl":9223372036854775807}]}`))
	f.Add([]byte(`{"src_name":"a","list_type":"doubtlist","removed":[{"name":".x.example"}],"added":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := DecodeObservation(data)
		if err != nil {
			return
		}
		if !o.ListType.Valid() || o.SrcName == "" {
			t.Fatalf("accepted %+v", o)
		}
		check := func(k string) {
			name, suffix := splitKey(k)
			c, s, err := dnsname.Canonical(k)
			if err != nil || c != name || s != suffix {
				t.Fatalf("name %q not canonical: %q %v %v", k, c, s, err)
			}
		}
		for _, a := range o.Added {
			check(a.Name)
			if a.TTL < 0 {
				t.Fatalf("ttl %d", a.TTL)
			}
		}
		for _, r := range o.Removed {
			check(r.Name)
		}
		// A second validation changes nothing, and the result
		// round-trips through JSON.
		o2 := o
		if err := o2.Validate(); err != nil {
			t.Fatalf("valid once, not twice: %v", err)
		}
		data2, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeObservation(data2); err != nil {
			t.Fatalf("re-encoded %s: %v", data2, err)
		}
		e := New(nil)
		e.Apply(o, time.Unix(0, 0))
		e.ExpireChanges(time.Unix(1<<40, 0))
		if e.Len() != 0 {
			t.Fatalf("%d entries after all expired", e.Len())
		}
	})
}
