package anon

import (
	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/pseudo"
)

// KeyFile says which pseudonymisation method to use and where its key
// comes from. It is read at start and again on SIGHUP, so that an
// operator replaces the key without a restart.
type KeyFile struct {
	Method string // a method of lib/pseudo (pseudo.Names)
	// Path names the file of the key (raw, hex or base64), or with KDF
	// "argon2id" of a passphrase to derive it from, as the DNS TAPIR
	// edge (EDM) does, so that pseudonyms stay those of EDM.
	Path string
	KDF  string // "none" (or "") or "argon2id"
	Salt string // argon2id's salt
}

// Read reads the key. A file that is missing, readable by others, or
// that holds no key is a configuration error (fault.Config); the key
// itself never appears in an error.
func (k KeyFile) Read() ([]byte, error) {
	if k.Path == "" {
		return nil, fault.Errorf(fault.Config, "--method %s needs --key-file (there is no default key)", k.Method)
	}
	b, err := keyfile.Read(k.Path)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--key-file: %v", err)
	}
	switch k.KDF {
	case "none", "":
		key, err := pseudo.ParseKey(b)
		if err != nil {
			return nil, fault.Errorf(fault.Config, "--key-file %s: %v", k.Path, err)
		}
		return key, nil
	case "argon2id":
		pass := trimLine(b)
		if len(pass) == 0 {
			return nil, fault.Errorf(fault.Config, "--key-file %s: empty passphrase", k.Path)
		}
		return pseudo.DeriveKey(pass, []byte(k.Salt)), nil
	}
	return nil, fault.Errorf(fault.Config, "--kdf %q: want none or argon2id", k.KDF)
}

// trimLine drops one trailing newline, as a passphrase file written by an
// editor or echo ends.
func trimLine(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
