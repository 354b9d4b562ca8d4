package fstrm

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	framestream "github.com/farsightsec/golang-framestream"
)

// frames200 is a stream of dnstap-sized frames (200 bytes).
func frames200(b *testing.B, n int) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf, ct)
	f := bytes.Repeat([]byte{0x5a}, 200)
	for range n {
		w.WriteFrame(f)
	}
	w.Close()
	return buf.Bytes()
}

func BenchmarkReader(b *testing.B) {
	s := frames200(b, 100000)
	b.SetBytes(int64(len(s)) / 100000)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		r, err := NewFileReader(bytes.NewReader(s), ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for ; n < b.N; n++ {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkFramestreamReader is the baseline: golang-framestream, which the
// dnstap command uses.
func BenchmarkFramestreamReader(b *testing.B) {
	s := frames200(b, 100000)
	b.SetBytes(int64(len(s)) / 100000)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		r, err := framestream.NewReader(bytes.NewReader(s), &framestream.ReaderOptions{ContentTypes: [][]byte{[]byte(ct)}})
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 1<<16)
		for ; n < b.N; n++ {
			if _, err := r.ReadFrame(buf); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkWriter(b *testing.B) {
	f := bytes.Repeat([]byte{0x5a}, 200)
	w := NewWriter(io.Discard, ct)
	b.SetBytes(204)
	b.ReportAllocs()
	for b.Loop() {
		w.WriteFrame(f)
	}
	w.Close()
}

// BenchmarkReaderContinue reads as a pipeline stage reads its FIFO.
func BenchmarkReaderContinue(b *testing.B) {
	s := frames200(b, 100000)
	b.SetBytes(int64(len(s)) / 100000)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		r, err := NewFileReader(bytes.NewReader(s), ReaderOptions{ContentTypes: []string{ct}, Continue: true})
		if err != nil {
			b.Fatal(err)
		}
		for ; n < b.N; n++ {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// realFrames is a stream of the frames of the captures in testdata, over
// and over: DNS messages hold many zero bytes, unlike frames200.
func realFrames(b *testing.B, n int) []byte {
	files, _ := filepath.Glob("../../testdata/dns-violations/*.dnstap")
	var frames [][]byte
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		r, err := NewFileReader(f, ReaderOptions{})
		if err == nil {
			got, _ := readAll(r)
			for _, g := range got {
				frames = append(frames, []byte(g))
			}
		}
		f.Close()
	}
	if len(frames) == 0 {
		b.Skip("no captures")
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, ct)
	for i := range n {
		w.WriteFrame(frames[i%len(frames)])
	}
	w.Close()
	return buf.Bytes()
}

func benchmarkRead(b *testing.B, s []byte, n int, opts ReaderOptions) {
	b.SetBytes(int64(len(s)) / int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		r, err := NewFileReader(bytes.NewReader(s), opts)
		if err != nil {
			b.Fatal(err)
		}
		for ; i < b.N; i++ {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkReaderReal(b *testing.B) {
	benchmarkRead(b, realFrames(b, 100000), 100000, ReaderOptions{})
}

func BenchmarkReaderRealContinue(b *testing.B) {
	benchmarkRead(b, realFrames(b, 100000), 100000, ReaderOptions{ContentTypes: []string{ct}, Continue: true})
}
