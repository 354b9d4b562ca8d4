package observe

import (
	"testing"

	"github.com/tapir-edge/tapir/lib/fault"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in       string
		insecure bool
		broker   string
		topic    string
	}{
		{"mqtts://broker.example/observations/down/edge-1", false, "mqtts://broker.example", "observations/down/edge-1"},
		{"mqtts://broker.example:9883/t", false, "mqtts://broker.example:9883", "t"},
		{"mqtt://127.0.0.1:1883/t", true, "mqtt://127.0.0.1:1883", "t"},
	} {
		u, topic, err := ParseURL(c.in, c.insecure)
		if err != nil || u.String() != c.broker || topic != c.topic {
			t.Errorf("%s: %v %q %v, want %s %q", c.in, u, topic, err, c.broker, c.topic)
		}
	}
	for _, in := range []string{"", "broker.example/t", "mqtts://broker.example", "mqtts://broker.example/", "https://broker.example/t", "mqtt://127.0.0.1/t", "TCP://127.0.0.1/t"} {
		if u, topic, err := ParseURL(in, false); err == nil || fault.Of(err) != fault.Config {
			t.Errorf("%q: %v %q %v, want a configuration error", in, u, topic, err)
		}
	}
}
