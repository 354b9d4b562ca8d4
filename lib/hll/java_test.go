package hll_test

import (
	"bufio"
	"compress/gzip"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/lib/hll"
)

// TestJavaFixtures replays java-hll's generated integration tests
// (IntegrationTestGenerator: files v1_cumulative_*.csv.gz for log2m 10,
// regwidth 4, as github.com/segmentio/go-hll ships them under
// integration_tests/log2m-10_regwidth-4) from the directory named by
// HLL_JAVA_FIXTURES; it is skipped when that is unset, as the files are not
// part of this repository. Every added value must give java-hll's bytes and
// count; every union its count, and its bytes where the storage type agrees
// (java-hll does not record the sparse threshold it unions with).
func TestJavaFixtures(t *testing.T) {
	dir := os.Getenv("HLL_JAVA_FIXTURES")
	if dir == "" {
		t.Skip("HLL_JAVA_FIXTURES not set")
	}
	files, err := filepath.Glob(filepath.Join(dir, "v1_cumulative_*.csv.gz"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", dir, err)
	}
	// The generator hard-codes a sparse threshold of 850 registers.
	defer hll.SetSparseThreshold(850)()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			rows := readCSV(t, f)
			if strings.Contains(f, "_add_") {
				replayAdd(t, rows)
			} else {
				replayUnion(t, rows)
			}
		})
	}
}

func readCSV(t *testing.T, name string) [][]string {
	fh, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	var rows [][]string
	for sc.Scan() {
		rows = append(rows, strings.Split(sc.Text(), ","))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows[1:] // header
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(strings.TrimPrefix(s, `\x`))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkCount(t *testing.T, line int, s *hll.Sketch, want string) {
	w, err := strconv.ParseFloat(want, 64)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(w) {
		// Saturated registers: java-hll's large range correction takes
		// the log of a negative number. Estimate gives the raw estimate.
		if e := s.Estimate(); e < 1<<24 {
			t.Fatalf("line %d: saturated sketch estimates %v", line, e)
		}
		return
	}
	if got := s.Cardinality(); got != uint64(math.Ceil(w)) {
		t.Fatalf("line %d: cardinality %d, java %s", line, got, want)
	}
	if e := s.Estimate(); math.Abs(e-w) > 1e-12*math.Max(1, w) {
		t.Fatalf("line %d: estimate %v, java %s", line, e, want)
	}
}

func replayAdd(t *testing.T, rows [][]string) {
	var s hll.Sketch
	if err := s.UnmarshalBinary(unhex(t, rows[0][2])); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		v, err := strconv.ParseInt(r[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		s.AddHash(uint64(v))
		want := unhex(t, r[2])
		got, _ := s.MarshalBinary()
		if string(got) != string(want) {
			t.Fatalf("line %d: %s after adding %d\n got %x\nwant %x", i+2, s.Type(), v, got, want)
		}
		checkCount(t, i+2, &s, r[0])
	}
	t.Logf("%d adds, ends %v", len(rows), s.Type())
}

func replayUnion(t *testing.T, rows [][]string) {
	var acc hll.Sketch
	if err := acc.UnmarshalBinary(unhex(t, rows[0][1])); err != nil {
		t.Fatal(err)
	}
	same := 0
	for i, r := range rows {
		var o, want hll.Sketch
		if err := o.UnmarshalBinary(unhex(t, r[1])); err != nil {
			t.Fatalf("line %d: %v", i+2, err)
		}
		checkCount(t, i+2, &o, r[0])
		acc.Union(&o)
		if err := want.UnmarshalBinary(unhex(t, r[3])); err != nil {
			t.Fatalf("line %d: %v", i+2, err)
		}
		checkCount(t, i+2, &acc, r[2])
		if acc.Type() == want.Type() {
			same++
			got, _ := acc.MarshalBinary()
			if string(got) != string(unhex(t, r[3])) {
				t.Fatalf("line %d: union bytes differ", i+2)
			}
		}
	}
	t.Logf("%d unions, %d with java-hll's storage type and so its bytes", len(rows), same)
}
