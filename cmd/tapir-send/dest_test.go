package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/testkit/mqtttest"

	"filippo.io/age"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// new_qname records go to a real mosquitto (TLS, client certificates) as
// JWS signed by the node's data key; a subscriber gets them, and the
// signature verifies by hand.
func TestMQTT(t *testing.T) {
	sub := tooltest.Need(t, "mosquitto_sub")
	n := newNode(t)
	srvCert, srvKey := filepath.Join(n.dir, "srv.crt"), filepath.Join(n.dir, "srv.key")
	writePEM(t, srvCert, "CERTIFICATE", n.srv.Certificate[0])
	kd, _ := x509.MarshalPKCS8PrivateKey(n.srv.PrivateKey)
	writePEM(t, srvKey, "PRIVATE KEY", kd)
	broker := mqtttest.Start(t, n.caFile, srvCert, srvKey)
	port := broker.Port
	s := exec.Command(sub, "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-V", "mqttv5", "--cafile", n.caFile, "--cert", n.tlsCert, "--key", n.tlsKey,
		"-t", "events/up/edge-1/new_qname", "-q", "1", "-C", "2", "-W", "20")
	out := new(strings.Builder)
	s.Stdout = out
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // subscribed

	in := filepath.Join(n.dir, "records.fstrm")
	f, _ := os.Create(in)
	w := fstrm.NewWriter(f, record.ContentType)
	events := []string{
		`{"type":"new_qname","version":0,"timestamp":"2026-11-27T12:00:00Z","qname":"a.example.","qtype":1,"qclass":1,"flags":33152}`,
		`{"type":"new_qname","version":0,"timestamp":"2026-11-27T12:00:00Z","qname":"b.example.","qtype":28,"qclass":1,"flags":33152}`,
	}
	for _, e := range events {
		w.WriteFrame([]byte(e))
	}
	w.Close()
	f.Close()
	cmd := tooltest.Command("--to", fmt.Sprintf("mqtts://127.0.0.1:%d/", port), "--spool", filepath.Join(n.dir, "spool"),
		"--name", "edge-1", "--data-key", n.dataKey, "--tls-cert", n.tlsCert, "--tls-key", n.tlsKey, "--ca-file", n.caFile, "-r", in)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	if err := s.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v (got %q)", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("subscriber got %q", out.String())
	}
	// Events may reach the broker in any order (several in flight).
	want := map[string]bool{events[0]: true, events[1]: true}
	for i, line := range lines {
		var jws struct{ Payload, Protected, Signature string }
		if err := json.Unmarshal([]byte(line), &jws); err != nil {
			t.Fatalf("not a JWS in JSON serialization: %v: %s", err, line)
		}
		sig, _ := base64.RawURLEncoding.DecodeString(jws.Signature)
		if !ed25519.Verify(n.pub, []byte(jws.Protected+"."+jws.Payload), sig) {
			t.Errorf("event %d: signature does not verify with the node's key", i)
		}
		hdr, _ := base64.RawURLEncoding.DecodeString(jws.Protected)
		payload, _ := base64.RawURLEncoding.DecodeString(jws.Payload)
		if !strings.Contains(string(hdr), `"kid":"edge-1"`) || !want[string(payload)] {
			t.Errorf("event %d: header %s, payload %s", i, hdr, payload)
		}
		delete(want, string(payload))
	}
}

// An archive of the record stream: encrypted to an age recipient, read
// back by tapir-cat with the identity.
func TestArchive(t *testing.T) {
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	idFile := filepath.Join(dir, "id.txt")
	os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	arch := filepath.Join(dir, "archive")
	cmd := tooltest.Command("--to", "file://"+arch, "--recipient", id.Recipient().String(), "--spool", filepath.Join(dir, "spool"), "-r", records(t, dir, 5))
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	files, _ := filepath.Glob(filepath.Join(arch, "records-*.fstrm.zst.age"))
	if len(files) != 1 {
		t.Fatalf("archive files %v", files)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	b, _ := os.ReadFile(files[0])
	if strings.Contains(string(b), "histogram") {
		t.Error("the archive is readable without the identity")
	}
	cat := exec.Command("go", "run", "../tapir-cat", "--count", "--identity", idFile, files[0])
	o, err := cat.Output()
	if err != nil || strings.TrimSpace(string(o)) != "6" { // 5 histograms and a new_qname
		t.Errorf("tapir-cat --count: %q, %v", o, err)
	}
}

// A dnstap stream relayed to a Frame Streams receiver on a unix socket,
// with the bidirectional handshake, and archived beside.
func TestRelayDnstap(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "collector.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan int, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		r, err := fstrm.NewReader(c, fstrm.ReaderOptions{Bidirectional: true, ContentTypes: []string{"protobuf:dnstap.Dnstap"}})
		if err != nil {
			got <- -1
			return
		}
		n := 0
		for {
			if _, err := r.Next(); err != nil {
				break
			}
			n++
		}
		got <- n
	}()
	sample := "../../testdata/sample.dnstap.zst"
	cmd := tooltest.Command("--dnstap", "--to", "unix:"+sock, "--to", "file://"+filepath.Join(dir, "archive"), "--no-zstd", "--spool", filepath.Join(dir, "spool"), "-r", sample)
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	if n := <-got; n != 20000 {
		t.Errorf("the collector got %d frames, want 20000", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "archive", "dnstap-*.fstrm"))
	if len(files) != 1 {
		t.Fatalf("archive %v", files)
	}
	o, err := exec.Command("go", "run", "../tapir-cat", "--count", files[0]).Output()
	if err != nil || strings.TrimSpace(string(o)) != "20000" {
		t.Errorf("archive holds %q frames, %v", o, err)
	}
}
