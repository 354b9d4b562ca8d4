package mqttconn

import (
	"net/url"
	"testing"
)

func TestBroker(t *testing.T) {
	for in, want := range map[string]string{
		"mqtts://broker.example":      "mqtts://broker.example:8883",
		"ssl://broker.example":        "ssl://broker.example:8883",
		"mqtt://127.0.0.1":            "mqtt://127.0.0.1:1883",
		"tcp://127.0.0.1":             "tcp://127.0.0.1:1883",
		"mqtts://broker.example:9000": "mqtts://broker.example:9000",
	} {
		u, _ := url.Parse(in)
		got, err := Broker(u)
		if err != nil || got.String() != want {
			t.Errorf("%s: %v %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"https://broker.example", "mqtts:///topic", "broker.example"} {
		u, _ := url.Parse(in)
		if got, err := Broker(u); err == nil {
			t.Errorf("%s: accepted as %v", in, got)
		}
	}
	if _, err := Broker(nil); err == nil {
		t.Error("nil accepted")
	}
}

func TestPlain(t *testing.T) {
	for in, want := range map[string]bool{"mqtt://b": true, "TCP://b": true, "mqtts://b": false, "ssl://b": false, "tls://b": false, "https://b": false} {
		u, _ := url.Parse(in)
		if got := Plain(u); got != want {
			t.Errorf("Plain(%s) = %v, want %v", in, got, want)
		}
	}
}
