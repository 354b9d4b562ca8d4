package cat

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/testkit/cattest"
)

const benchFrames = 20000

func benchStream(b *testing.B) []byte {
	msgs := cattest.Traffic(benchFrames, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	frames := make([][]byte, len(msgs))
	for i, m := range msgs {
		frames[i] = m.Frame()
	}
	return cattest.Stream(dnstap.ContentType, frames...)
}

// benchPrint prints the stream with o once per iteration and reports
// frames a second.
func benchPrint(b *testing.B, o Options) {
	data := benchStream(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := fstrm.NewFileReader(bytes.NewReader(data), fstrm.ReaderOptions{ContentTypes: ContentTypes})
		if err != nil {
			b.Fatal(err)
		}
		p := NewPrinter(io.Discard, o)
		if err := p.Print(r, "bench"); err != nil {
			b.Fatal(err)
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
		if o.Filter.IsZero() && p.Matched() != benchFrames {
			b.Fatalf("matched %d of %d", p.Matched(), benchFrames)
		}
	}
	b.ReportMetric(float64(benchFrames)*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

func BenchmarkCount(b *testing.B) { benchPrint(b, Options{Count: true}) }

func BenchmarkCountFiltered(b *testing.B) {
	n, err := ParseName("example.com")
	if err != nil {
		b.Fatal(err)
	}
	benchPrint(b, Options{Count: true, Filter: Filter{Names: []string{n}}})
}

func BenchmarkText(b *testing.B) { benchPrint(b, Options{}) }

func BenchmarkJSON(b *testing.B) { benchPrint(b, Options{Format: JSON}) }

// TestWriteBigFile writes a file of synthetic traffic for measuring
// tapir-cat against other tools:
//
//	TAPIR_CAT_BIGFILE=/tmp/big.fstrm TAPIR_CAT_BIGFRAMES=1000000 go test -run TestWriteBigFile ./lib/cat/
func TestWriteBigFile(t *testing.T) {
	path := os.Getenv("TAPIR_CAT_BIGFILE")
	if path == "" {
		t.Skip("TAPIR_CAT_BIGFILE is not set")
	}
	n := 1_000_000
	if s := os.Getenv("TAPIR_CAT_BIGFRAMES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := cattest.WriteTraffic(f, n, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
