package mqttconn

import (
	"crypto/tls"
	"log/slog"
	"net/url"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// Defaults of a Conn's settings, as EDM and the core's own clients use
// them.
const (
	DefaultKeepAlive    = 30 // seconds
	DefaultTimeout      = 10 * time.Second
	DefaultReconnectMin = time.Second
	DefaultReconnectMax = time.Minute
)

// Conn is how a client connects to the broker; a setting left zero takes
// its default (Check).
type Conn struct {
	// Broker is the broker's URL (see Broker).
	Broker *url.URL
	// TLS holds the node's client certificate and the CA of the broker;
	// nil means the system roots and no client certificate.
	TLS *tls.Config
	// ClientID is the MQTT client identifier.
	ClientID string
	// KeepAlive in seconds.
	KeepAlive uint16
	// Timeout bounds connecting and each packet's acknowledgement.
	Timeout time.Duration
	// ReconnectMin and ReconnectMax bound the wait between connection
	// attempts, which doubles from ReconnectMin.
	ReconnectMin, ReconnectMax time.Duration
	// Log hears of connections lost and attempts failed;
	// slog.Default() if nil.
	Log *slog.Logger
}

// Check checks the broker URL, adding its default port, and gives the
// settings left zero their defaults.
func (c *Conn) Check() error {
	broker, err := Broker(c.Broker)
	if err != nil {
		return err
	}
	c.Broker = broker
	if c.TLS == nil {
		c.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax <= c.ReconnectMin {
		c.ReconnectMax = max(DefaultReconnectMax, 2*c.ReconnectMin)
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return nil
}

// Logger is c.Log naming the broker, for what a client logs about it.
func (c *Conn) Logger() *slog.Logger { return c.Log.With("broker", c.Broker.Redacted()) }

// ClientConfig returns the autopaho configuration of c, which Check must
// have passed: it reconnects whenever the connection drops, and logs why.
// The caller adds what its session is (clean start, expiry), what to do
// once connected (OnConnectionUp), and its handlers of messages.
func (c *Conn) ClientConfig() autopaho.ClientConfig {
	log := c.Logger()
	return autopaho.ClientConfig{
		ServerUrls:       []*url.URL{c.Broker},
		TlsCfg:           c.TLS,
		KeepAlive:        c.KeepAlive,
		ReconnectBackoff: autopaho.NewExponentialBackoff(c.ReconnectMin, c.ReconnectMax, c.ReconnectMin, 2),
		ConnectTimeout:   c.Timeout,
		OnConnectError:   func(err error) { log.Warn("mqtt connect failed", "err", err) },
		ClientConfig: paho.ClientConfig{
			ClientID:      c.ClientID,
			PacketTimeout: c.Timeout,
			OnClientError: func(err error) { log.Warn("mqtt connection lost", "err", err) },
			OnServerDisconnect: func(d *paho.Disconnect) {
				reason := ""
				if d.Properties != nil {
					reason = d.Properties.ReasonString
				}
				log.Warn("mqtt broker disconnected", "reason_code", d.ReasonCode, "reason", reason)
			},
		},
	}
}
