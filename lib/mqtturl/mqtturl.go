// Package mqtturl reads the URL of an MQTT broker, as the node manager
// gives it and the tools take it: mqtts://host[:port] (TLS, also tls:// or
// ssl://) or mqtt://host[:port] (plain TCP, for tests; also tcp://).
package mqtturl

import (
	"fmt"
	"net/url"
	"strings"
)

// Broker checks u and returns it with the default port when it has none:
// 8883 for TLS, 1883 for plain TCP.
func Broker(u *url.URL) (*url.URL, error) {
	if u == nil {
		return nil, fmt.Errorf("no broker URL")
	}
	plain := false
	switch strings.ToLower(u.Scheme) {
	case "mqtts", "tls", "ssl":
	case "mqtt", "tcp":
		plain = true
	default:
		return nil, fmt.Errorf("unsupported broker URL scheme %q (want mqtts or mqtt)", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("broker URL %q has no host", u.Redacted())
	}
	if u.Port() != "" {
		return u, nil
	}
	port := "8883"
	if plain {
		port = "1883"
	}
	c := *u
	c.Host += ":" + port
	return &c, nil
}
