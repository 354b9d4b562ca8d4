package aggrec

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/tapir-edge/tapir/lib/record"
)

// testHistogram returns a histogram of n rows with varied label depths,
// counts and HLL columns present and absent.
func testHistogram(n int) *record.Histogram {
	h := &record.Histogram{
		Type:     record.TypeHistogram,
		Start:    time.Date(2026, 5, 28, 12, 34, 0, 0, time.UTC),
		Duration: 60,
	}
	for i := range n {
		var r record.Row
		var l [10]string
		l[0] = "se"
		l[1] = fmt.Sprintf("name%d", i)
		for d := 2; d < 2+i%9; d++ {
			l[d] = fmt.Sprintf("l%d", d)
		}
		r.SetLabels(l)
		base := uint64(i) * 100
		r.ACount, r.AAAACount, r.MXCount, r.NSCount = base+1, base+2, base+3, base+4
		r.OtherTypeCount, r.NonINCount, r.OKCount, r.NXCount = base+5, base+6, base+7, base+8
		r.FailCount, r.OtherRcodeCount, r.EDMStatusBits = base+9, base+10, uint64(1+i%2)
		r.V4ClientCount, r.V6ClientCount = base+11, 1<<63+uint64(i) // beyond int64: unsigned must survive
		if i%3 == 0 {
			r.V4ClientHLL = []byte{0x14, 0x8b, byte(i), byte(i >> 8)}
		}
		if i%5 == 0 {
			r.V6ClientHLL = []byte{0x14, 0x8b, 0xff, byte(i)}
		}
		h.Rows = append(h.Rows, r)
	}
	return h
}

// The facts below come from dnstapir/edm pkg/runner/histogram.go (type
// histogramData, written with parquet-go and Snappy) and
// pkg/runner/session.go (dnsLabels: *string, so optional).
func TestParquetSchema(t *testing.T) {
	b, err := Parquet(testHistogram(3))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	type col struct {
		name     string
		kind     parquet.Kind
		optional bool
		logical  string
	}
	var want []col
	want = append(want, col{"start_time", parquet.Int64, false, "TIMESTAMP(isAdjustedToUTC=true,unit=MICROS)"})
	for i := range 10 {
		want = append(want, col{fmt.Sprintf("label%d", i), parquet.ByteArray, true, "STRING"})
	}
	for _, n := range []string{"a_count", "aaaa_count", "mx_count", "ns_count", "other_type_count",
		"non_in_count", "ok_count", "nx_count", "fail_count", "other_rcode_count", "edm_status_bits",
		"v4client_count", "v6client_count"} {
		want = append(want, col{n, parquet.Int64, false, "INT(64,false)"})
	}
	want = append(want, col{"v4client_count_hll", parquet.ByteArray, true, ""},
		col{"v6client_count_hll", parquet.ByteArray, true, ""})

	fields := f.Schema().Fields()
	if len(fields) != len(want) {
		t.Fatalf("schema has %d columns, want %d:\n%s", len(fields), len(want), f.Schema())
	}
	for i, fl := range fields {
		w := want[i]
		got := col{fl.Name(), fl.Type().Kind(), fl.Optional(), ""}
		if lt := fl.Type().LogicalType(); lt != nil {
			got.logical = lt.String()
		}
		if got != w {
			t.Errorf("column %d: got %+v, want %+v", i, got, w)
		}
		if fl.Repeated() || (!fl.Optional() && !fl.Required()) {
			t.Errorf("column %s: repetition wrong", fl.Name())
		}
	}
	// The timestamp must be UTC-adjusted microseconds, checked on the
	// Thrift metadata itself.
	ts := f.Metadata().Schema[1]
	tt, ok := ts.LogicalType.Value.(*format.TimestampType)
	if ts.Name != "start_time" || !ok || !tt.IsAdjustedToUTC {
		t.Fatalf("start_time metadata: %+v", ts)
	}
	if _, ok := tt.Unit.Value.(*format.MicroSeconds); !ok {
		t.Errorf("start_time unit %v, want MICROS", tt.Unit.String())
	}
	// Absent labels and HLLs are nulls, not empty values: in testHistogram(3)
	// row i has 2+i%9 labels, the v4 and v6 HLLs only in row 0.
	wantNulls := map[string]int64{"label0": 0, "label1": 0, "label2": 1, "label3": 2, "label4": 3,
		"v4client_count_hll": 2, "v6client_count_hll": 2, "a_count": 0}
	for i, cc := range f.RowGroups()[0].ColumnChunks() {
		name := fields[i].Name()
		w, ok := wantNulls[name]
		if !ok {
			continue
		}
		var nulls int64
		pages := cc.Pages()
		for {
			p, err := pages.ReadPage()
			if err != nil {
				break
			}
			nulls += p.NumNulls()
			parquet.Release(p)
		}
		pages.Close()
		if nulls != w {
			t.Errorf("column %s: %d nulls, want %d", name, nulls, w)
		}
	}
	for _, rg := range f.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if c.MetaData.Codec != format.Snappy {
				t.Errorf("column %v compressed with %v, want SNAPPY", c.MetaData.PathInSchema, c.MetaData.Codec)
			}
		}
	}
}

func TestParquetRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 7, batchRows + 3} {
		h := testHistogram(n)
		b, err := Parquet(h)
		if err != nil {
			t.Fatal(err)
		}
		checkParquet(t, b, h)
	}
}

// checkParquet reads b back with parquet-go and compares it with h.
func checkParquet(t testing.TB, b []byte, h *record.Histogram) {
	t.Helper()
	rows, err := parquet.Read[histogramData](bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(h.Rows) {
		t.Fatalf("read %d rows, want %d", len(rows), len(h.Rows))
	}
	for i, d := range rows {
		if got := time.UnixMicro(d.StartTime).UTC(); !got.Equal(h.Start) {
			t.Fatalf("row %d: start_time %v, want %v", i, got, h.Start)
		}
		var r record.Row
		var l [10]string
		for j, p := range []*string{d.Label0, d.Label1, d.Label2, d.Label3, d.Label4,
			d.Label5, d.Label6, d.Label7, d.Label8, d.Label9} {
			if p != nil {
				if *p == "" {
					t.Fatalf("row %d: label%d is an empty string, want null", i, j)
				}
				l[j] = *p
			}
		}
		r.SetLabels(l)
		r.ACount, r.AAAACount, r.MXCount, r.NSCount = d.ACount, d.AAAACount, d.MXCount, d.NSCount
		r.OtherTypeCount, r.NonINCount, r.OKCount, r.NXCount = d.OtherTypeCount, d.NonINCount, d.OKCount, d.NXCount
		r.FailCount, r.OtherRcodeCount, r.EDMStatusBits = d.FailCount, d.OtherRcodeCount, d.EDMStatusBits
		r.V4ClientCount, r.V6ClientCount = d.V4ClientCount, d.V6ClientCount
		r.V4ClientHLL, r.V6ClientHLL = d.V4ClientCountHLLBytes, d.V6ClientCountHLLBytes
		want := h.Rows[i]
		want.V4ClientHLL, want.V6ClientHLL = nilIfEmpty(want.V4ClientHLL), nilIfEmpty(want.V6ClientHLL)
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, r, want)
		}
	}
}

func TestParquetRefuses(t *testing.T) {
	if _, err := Parquet(nil); err == nil {
		t.Error("nil histogram accepted")
	}
	if _, err := Parquet(&record.Histogram{Type: record.TypeHistogram, Duration: 60}); err == nil {
		t.Error("histogram without start accepted")
	}
}

func BenchmarkParquet1000(b *testing.B) {
	h := testHistogram(1000)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		p, err := Parquet(h)
		if err != nil {
			b.Fatal(err)
		}
		size = len(p)
	}
	b.ReportMetric(float64(size), "file-bytes")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "histograms/s")
}
