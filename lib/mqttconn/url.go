// Package mqttconn is what the toolkit's two MQTT clients, lib/mqttpub
// (tapir-send's events) and lib/observe (tapir-observe's observations),
// share about their connection to the DNS TAPIR broker: the broker's URL,
// as the node manager gives it and the tools take it, the defaults, and
// an autopaho configuration that reconnects and logs why it had to.
package mqttconn

import (
	"fmt"
	"net/url"
	"strings"
)

// schemes are the broker URL schemes taken, each with whether it means
// TLS: mqtts (also tls, ssl) on port 8883, or mqtt (also tcp), plain
// TCP, for tests, on port 1883.
var schemes = map[string]bool{"mqtts": true, "tls": true, "ssl": true, "mqtt": false, "tcp": false}

// Broker checks u and returns it with the default port when it has none:
// 8883 for TLS, 1883 for plain TCP.
func Broker(u *url.URL) (*url.URL, error) {
	if u == nil {
		return nil, fmt.Errorf("no broker URL")
	}
	secure, ok := schemes[strings.ToLower(u.Scheme)]
	if !ok {
		return nil, fmt.Errorf("unsupported broker URL scheme %q (want mqtts or mqtt)", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("broker URL %q has no host", u.Redacted())
	}
	if u.Port() != "" {
		return u, nil
	}
	port := "1883"
	if secure {
		port = "8883"
	}
	c := *u
	c.Host += ":" + port
	return &c, nil
}

// Plain reports whether the broker URL u is of a scheme without TLS, so
// that a tool can refuse one outside tests.
func Plain(u *url.URL) bool {
	secure, ok := schemes[strings.ToLower(u.Scheme)]
	return ok && !secure
}
