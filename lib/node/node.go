// Package node reads the node directory that tapir-enroll writes (read
// with --node DIR by the other tools): node.json, the node's data key,
// and the TLS client certificate and key with the CA that issued them.
//
// Errors name the file at fault; they carry no exit code, which is the
// caller's to choose.
package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Files of the node directory, as tapir-enroll names them. Keys are
// written with mode 0600, the rest with 0644; each file atomically, and
// File last, so that its presence says the directory is complete.
const (
	File            = "node.json"
	DataKeyFile     = "data-key.jwk"
	TLSKeyFile      = "tls.key"
	TLSCertFile     = "tls.crt"
	CACertFile      = "ca.crt"
	TrustedJWKSFile = "trusted-jwks.json"
)

// Node is node.json: what the other tools need to talk to the core. File
// names are relative to the node directory.
type Node struct {
	Name        string            `json:"name"`
	NodemanURL  string            `json:"nodeman_url"`
	AggrecURL   string            `json:"aggrec_url,omitempty"`
	MQTTBroker  string            `json:"mqtt_broker,omitempty"`
	MQTTTopics  map[string]string `json:"mqtt_topics,omitempty"`
	DataKey     string            `json:"data_key"`
	DataKeyAlg  string            `json:"data_key_alg"`
	TLSKey      string            `json:"tls_key"`
	TLSCert     string            `json:"tls_certificate"`
	CACert      string            `json:"ca_certificate"`
	TrustedJWKS string            `json:"trusted_jwks"`
	Enrolled    time.Time         `json:"enrolled"`

	dir string
}

// Load reads node.json from the node directory dir.
func Load(dir string) (*Node, error) {
	path := filepath.Join(dir, File)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: not an enrolled node directory (no %s): run tapir-enroll enroll", dir, File)
		}
		return nil, err
	}
	var n Node
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	n.dir = dir
	return &n, nil
}

// Dir is the node directory that n was loaded from.
func (n *Node) Dir() string { return n.dir }

// Path returns the path of one of the node's files.
func (n *Node) Path(file string) string { return filepath.Join(n.dir, file) }
