package metrics

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestServe(t *testing.T) {
	s := New("tapir_test")
	frames := s.Counter("frames", "Frames read.")
	full := s.Counter("dropped", "Frames dropped.", "reason", "full")
	s.Gauge("queue", "Queue length.", func() float64 { return 7 })
	frames.Add(3)
	full.Add(2)
	if v := s.Values(); v["frames"] != 3 || v["dropped_full"] != 2 || v["queue"] != 7 {
		t.Errorf("values %v", v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := s.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"tapir_test_frames_total 3",
		`tapir_test_dropped_total{reason="full"} 2`,
		"tapir_test_queue 7",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
