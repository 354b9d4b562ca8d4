package enroll

import (
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/fault"
)

func TestStatus(t *testing.T) {
	f := enrolled(t, 90*time.Second)
	for _, tc := range []struct {
		after time.Duration
		state string
	}{{0, StateValid}, {65 * time.Second, StateRenewalDue}, {100 * time.Second, StateExpired}} {
		s, err := Status(f.o.Dir, time.Now().Add(tc.after))
		if err != nil || s.State != tc.state || s.Name != name || s.Dir != f.o.Dir || s.NodemanURL != f.srv.URL {
			t.Errorf("after %v: %v, %+v, want state %q", tc.after, err, s, tc.state)
		}
	}
	if _, err := Status(t.TempDir(), time.Now()); fault.Of(err) != fault.Config {
		t.Errorf("not a node directory: %v (%v), want %v", err, fault.Of(err), fault.Config)
	}
}
