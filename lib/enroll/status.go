package enroll

import (
	"crypto/x509"
	"time"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/node"
)

// The states of a node's certificate, in NodeStatus.State. A certificate
// that needs attention is a state, not an error: the caller decides what
// it means (tapir-enroll status turns it into an exit code for scripts).
const (
	StateValid      = "valid"
	StateRenewalDue = "renewal-due" // two thirds of its lifetime have passed
	StateExpired    = "expired"
)

// NodeStatus is what status reports.
type NodeStatus struct {
	Name       string    `json:"name"`
	Dir        string    `json:"dir"`
	NodemanURL string    `json:"nodeman_url"`
	AggrecURL  string    `json:"aggrec_url,omitempty"`
	MQTTBroker string    `json:"mqtt_broker,omitempty"`
	Serial     string    `json:"certificate_serial_number"`
	NotBefore  time.Time `json:"certificate_not_before"`
	NotAfter   time.Time `json:"certificate_not_after"`
	RenewAt    time.Time `json:"renewal_due"`
	Remaining  int64     `json:"seconds_to_expiry"`
	State      string    `json:"state"` // StateValid, StateRenewalDue or StateExpired
}

// Status reports on the node directory dir at the time now. A directory
// that is not an enrolled node is a fault.Config error.
func Status(dir string, now time.Time) (*NodeStatus, error) {
	if dir == "" {
		return nil, fault.Errorf(fault.Config, "status needs --node DIR")
	}
	n, err := node.Load(dir)
	if err != nil {
		return nil, fault.New(fault.Config, err)
	}
	cert, err := readCert(n.Path(n.TLSCert))
	if err != nil {
		return nil, err
	}
	return statusOf(n, cert, now), nil
}

func statusOf(n *node.Node, c *x509.Certificate, now time.Time) *NodeStatus {
	s := &NodeStatus{
		Name: n.Name, Dir: n.Dir(), NodemanURL: n.NodemanURL, AggrecURL: n.AggrecURL, MQTTBroker: n.MQTTBroker,
		Serial: c.SerialNumber.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		RenewAt: RenewAt(c).UTC(), Remaining: int64(c.NotAfter.Sub(now) / time.Second), State: StateValid,
	}
	switch {
	case !now.Before(c.NotAfter):
		s.State = StateExpired
	case !now.Before(s.RenewAt):
		s.State = StateRenewalDue
	}
	return s
}
