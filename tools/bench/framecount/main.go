// Command framecount prints the number of data frames in Frame Streams
// files, plain or zstd-compressed, without decoding them. The benchmark
// script uses it to count what each receiver wrote, the same way for every
// receiver.
//
//	framecount FILE...
//
// It prints one count per file, followed by the file name when there are
// several. A file that ends early (no STOP frame, a frame cut short) is
// reported on stderr; its count is the frames read before that point, and
// the exit status is 3.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/stream"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: framecount FILE...")
		os.Exit(2)
	}
	status := 0
	for _, name := range os.Args[1:] {
		n, err := count(name)
		if len(os.Args) > 2 {
			fmt.Printf("%d %s\n", n, name)
		} else {
			fmt.Println(n)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "framecount: %s: %v\n", name, err)
			status = 3
		}
	}
	os.Exit(status)
}

// count returns the number of data frames in the named file, and the
// error that ended the reading early, if any.
func count(name string) (int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s, err := stream.NewReader(f, nil)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	r, err := fstrm.NewFileReader(s, fstrm.ReaderOptions{MaxFrameSize: 64 << 20})
	if err != nil {
		return 0, err
	}
	for {
		if _, err := r.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return r.Frames(), err
		}
	}
}
