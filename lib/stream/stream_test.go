package stream

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

func TestRoundTrip(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	data := bytes.Repeat([]byte("frame streams "), 10000)
	for _, tc := range []struct {
		name string
		o    WriterOptions
		want []Layer
	}{
		{"plain", WriterOptions{}, nil},
		{"zstd", WriterOptions{Zstd: true}, []Layer{Zstd}},
		{"age", WriterOptions{Recipients: []age.Recipient{id.Recipient()}}, []Layer{Age}},
		{"age around zstd", WriterOptions{Zstd: true, Recipients: []age.Recipient{other.Recipient(), id.Recipient()}}, []Layer{Age, Zstd}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			w, err := NewWriter(&b, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if len(tc.o.Recipients) > 0 && bytes.Contains(b.Bytes(), []byte("frame streams")) {
				t.Fatal("encrypted output holds the plain text")
			}
			r, err := NewReader(&b, []age.Identity{id})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			if len(r.Layers) != len(tc.want) {
				t.Fatalf("layers %v, want %v", r.Layers, tc.want)
			}
			for i := range tc.want {
				if r.Layers[i] != tc.want[i] {
					t.Errorf("layers %v, want %v", r.Layers, tc.want)
				}
			}
		})
	}
}

func TestArmor(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	var b bytes.Buffer
	a := armor.NewWriter(&b)
	w, _ := age.Encrypt(a, id.Recipient())
	io.WriteString(w, "hello")
	w.Close()
	a.Close()
	r, err := NewReader(&b, []age.Identity{id})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); string(got) != "hello" || r.Layers[0] != Armor {
		t.Errorf("got %q, layers %v", got, r.Layers)
	}
}

func TestNoOrWrongIdentity(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	var b bytes.Buffer
	w, _ := NewWriter(&b, WriterOptions{Recipients: []age.Recipient{id.Recipient()}})
	io.WriteString(w, "x")
	w.Close()
	if _, err := NewReader(bytes.NewReader(b.Bytes()), nil); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("no identity: %v", err)
	}
	var nm *age.NoIdentityMatchError
	if _, err := NewReader(bytes.NewReader(b.Bytes()), []age.Identity{other}); !errors.As(err, &nm) {
		t.Errorf("wrong identity: %v", err)
	}
}

// Twenty nested zstd layers are refused, not recursed into.
func TestLayerLimit(t *testing.T) {
	var data io.Reader = strings.NewReader("x")
	for range 20 {
		var b bytes.Buffer
		w, _ := NewWriter(&b, WriterOptions{Zstd: true})
		io.Copy(w, data)
		w.Close()
		data = &b
	}
	if _, err := NewReader(data, nil); err == nil {
		t.Error("no error for 20 layers")
	}
}

func TestParseRecipients(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	rs, err := ParseRecipients([]string{id.Recipient().String()}, nil)
	if err != nil || len(rs) != 1 {
		t.Fatalf("%v, %v", rs, err)
	}
	if _, err := ParseRecipients([]string{"age1bogus"}, nil); err == nil {
		t.Error("bogus recipient accepted")
	}
}
