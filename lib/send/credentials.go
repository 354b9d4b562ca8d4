package send

import (
	"crypto"
	"crypto/tls"
	"log/slog"

	"github.com/tapir-edge/tapir/lib/clientcert"
	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/node"
)

// Credentials say who the node is to the core: its directory as
// tapir-enroll wrote it (Node), or each part in its own file. With Node,
// TLSCert and TLSKey, when given, override the node's certificate.
type Credentials struct {
	Node    string // the node directory: name, data key, TLS certificate and key, CA, core URLs
	Name    string // the node's name, without Node
	DataKey string // the node's data key file, without Node
	// TLSCert and TLSKey are the node's certificate and key files for
	// mutual TLS.
	TLSCert, TLSKey string
	// CAFile is trusted besides the system roots and, with Node, the
	// node's CA.
	CAFile string
}

// coreURL is the URL of the core's aggregate receiver (what is "aggrec")
// or MQTT broker ("broker") that the node manager named at enrollment.
func (c Credentials) coreURL(what string) (string, error) {
	n, err := node.Load(c.Node)
	if err != nil {
		return "", fault.Errorf(fault.Config, "--to %s needs --node DIR: %v", what, err)
	}
	u := map[string]string{"aggrec": n.AggrecURL, "broker": n.MQTTBroker}[what]
	if u == "" {
		return "", fault.Errorf(fault.Config, "--to %s: the node manager named none in %s", what, c.Node)
	}
	return u, nil
}

// signer is the node's name and data key.
func (c Credentials) signer() (string, crypto.Signer, error) {
	if c.Node != "" {
		n, err := node.Load(c.Node)
		if err != nil {
			return "", nil, fault.Errorf(fault.Config, "--node: %v", err)
		}
		key, err := n.DataSigner()
		if err != nil {
			return "", nil, fault.Errorf(fault.Config, "--node: %v", err)
		}
		return n.Name, key, nil
	}
	if c.DataKey == "" {
		return "", nil, fault.Errorf(fault.Config, "give the node's data key with --data-key FILE")
	}
	key, err := node.ReadPEMKey(c.DataKey)
	if err != nil {
		return "", nil, fault.Errorf(fault.Config, "--data-key: %v", err)
	}
	if c.Name == "" {
		return "", nil, fault.Errorf(fault.Config, "give the node's --name, or its directory with --node")
	}
	return c.Name, key, nil
}

// tlsConfig has the node's client certificate, if there is one, and
// trusts CAFile and, with Node, the node's CA besides the system roots.
// Errors name the file at fault; their prefix names the flags that gave
// it.
func (c Credentials) tlsConfig(log *slog.Logger) (*tls.Config, *clientcert.Source, error) {
	var cas []string
	caFlag := ""
	if c.CAFile != "" {
		cas, caFlag = []string{c.CAFile}, "/--ca-file"
	}
	if c.Node != "" && c.TLSCert == "" && c.TLSKey == "" {
		n, err := node.Load(c.Node)
		if err != nil {
			return nil, nil, fault.Errorf(fault.Config, "--node: %v", err)
		}
		tc, src, err := n.ClientTLS(log, cas...)
		if err != nil {
			return nil, nil, fault.Errorf(fault.Config, "--node%s: %v", caFlag, err)
		}
		return tc, src, nil
	}
	tc, src, err := node.ClientTLS(c.TLSCert, c.TLSKey, cas, log)
	if err != nil {
		return nil, nil, fault.Errorf(fault.Config, "--tls-cert/--tls-key%s: %v", caFlag, err)
	}
	return tc, src, nil
}
