package enroll

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/node"
)

func TestRenew(t *testing.T) {
	f := enrolled(t, 90*time.Second)
	o := Options{Dir: f.o.Dir, HTTP: f.o.HTTP, Lifetime: 90 * time.Second, IfNeeded: true}
	key1, _ := os.ReadFile(filepath.Join(o.Dir, node.TLSKeyFile))
	crt1, _ := os.ReadFile(filepath.Join(o.Dir, node.TLSCertFile))

	// Not due: nothing sent.
	if err := Renew(context.Background(), o); err != nil || len(f.requests()) != 1 {
		t.Fatalf("not due: %v, %q", err, f.requests())
	}
	// Due after two thirds (60 s) of 90 s.
	o.Now = func() time.Time { return time.Now().Add(65 * time.Second) }
	marker := filepath.Join(t.TempDir(), "reloaded")
	o.ReloadCommand = "touch " + marker
	if err := Renew(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if r := f.requests(); len(r) != 2 || !strings.HasSuffix(r[1], "/renew") {
		t.Fatalf("requests %q", r)
	}
	key2, _ := os.ReadFile(filepath.Join(o.Dir, node.TLSKeyFile))
	crt2, _ := os.ReadFile(filepath.Join(o.Dir, node.TLSCertFile))
	if bytes.Equal(key1, key2) || bytes.Equal(crt1, crt2) {
		t.Error("renewal kept the key or the certificate")
	}
	if !fileExists(marker) {
		t.Error("--reload-command did not run")
	}
	checkNode(t, f)

	// Without --if-needed: always; --reuse-key keeps the key.
	o = Options{Dir: f.o.Dir, HTTP: f.o.HTTP, ReuseKey: true}
	if err := Renew(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	key3, _ := os.ReadFile(filepath.Join(o.Dir, node.TLSKeyFile))
	if !bytes.Equal(key2, key3) || len(f.requests()) != 3 {
		t.Error("--reuse-key changed the key, or no request")
	}
	checkNode(t, f)
}

// Renewal is signed by the data key the node manager holds.
func TestRenewOtherDataKey(t *testing.T) {
	f := enrolled(t, 0)
	k, _ := NewDataKey(KeyEd25519, name)
	b, _ := marshalKey(k)
	os.WriteFile(filepath.Join(f.o.Dir, node.DataKeyFile), b, 0o600)
	crt1, _ := os.ReadFile(filepath.Join(f.o.Dir, node.TLSCertFile))
	err := Renew(context.Background(), Options{Dir: f.o.Dir, HTTP: f.o.HTTP})
	if fault.Of(err) != fault.Refused || !strings.Contains(err.Error(), "401") {
		t.Fatalf("%v, want %v with 401", err, fault.Refused)
	}
	crt2, _ := os.ReadFile(filepath.Join(f.o.Dir, node.TLSCertFile))
	if !bytes.Equal(crt1, crt2) {
		t.Error("a refused renewal changed the certificate")
	}
}

// A renewal interrupted between its renames is completed by the next
// run; one interrupted before both .new files were written is undone.
func TestFinishSwap(t *testing.T) {
	f := enrolled(t, 0)
	dir := f.o.Dir
	n, _ := node.Load(dir)
	// Get a new certificate for a new key, as renew does.
	tk, _ := NewTLSKey()
	c, _ := NewClient(f.srv.URL, "")
	c.HTTP = f.o.HTTP
	dk, _ := node.ReadJWK(n.Path(node.DataKeyFile))
	csr, _ := CSR(tk, name)
	req, _ := c.RenewRequest(name, dk, csr, 0)
	res, err := c.Renew(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := marshalTLSKey(tk)
	pub := func() crypto.PublicKey {
		k, err := node.ReadPEMKey(filepath.Join(dir, node.TLSKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		return k.Public()
	}
	old := pub()

	// Only the certificate written: undone.
	os.WriteFile(filepath.Join(dir, node.TLSCertFile+".new"), []byte(res.X509Certificate), 0o644)
	if err := finishSwap(dir); err != nil || fileExists(filepath.Join(dir, node.TLSCertFile+".new")) || !tk.PublicKey.Equal(tk.Public()) {
		t.Fatalf("undo: %v", err)
	}
	if !pub().(interface{ Equal(crypto.PublicKey) bool }).Equal(old) {
		t.Fatal("undo changed the key")
	}
	// Both written: completed, by any command.
	os.WriteFile(filepath.Join(dir, node.TLSCertFile+".new"), []byte(res.X509Certificate), 0o644)
	os.WriteFile(filepath.Join(dir, node.TLSKeyFile+".new"), kb, 0o600)
	if err := Renew(context.Background(), Options{Dir: dir, HTTP: f.o.HTTP, IfNeeded: true}); err != nil {
		t.Fatal(err)
	}
	if !tk.PublicKey.Equal(pub()) || fileExists(filepath.Join(dir, node.TLSKeyFile+".new")) {
		t.Fatal("swap not completed")
	}
	checkNode(t, f)
}
