// Package aggrec talks to the DNS TAPIR aggregate receiver (aggrec): it
// turns a histogram record into the Parquet file the receiver takes and
// POSTs it, signed with an HTTP Message Signature (RFC 9421), over mutual
// TLS. Spooling and retrying are the caller's business; Send classifies
// every failure as permanent or temporary so the caller can decide.
package aggrec

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/tapir-edge/tapir/lib/record"
)

// ContentType is the media type of a histogram aggregate.
const ContentType = "application/vnd.apache.parquet"

// histogramData is one row of the DNS TAPIR histogram Parquet file, column
// for column as the DNS TAPIR edge (dnstapir/edm pkg/runner/histogram.go,
// type histogramData, with the labels of pkg/runner/session.go dnsLabels)
// writes it, in the same order:
//
//	start_time          INT64 TIMESTAMP(MICROS, UTC)  required
//	label0 … label9     BYTE_ARRAY STRING             optional (null when the name is shorter)
//	a_count … edm_status_bits, v4client_count, v6client_count
//	                    INT64 INT(64, unsigned)       required
//	v4client_count_hll, v6client_count_hll
//	                    BYTE_ARRAY                    optional (null when absent)
//
// The struct carries EDM's name so that the schema's root name matches too.
type histogramData struct {
	StartTime int64   `parquet:"start_time,timestamp(microsecond)"`
	Label0    *string `parquet:"label0"`
	Label1    *string `parquet:"label1"`
	Label2    *string `parquet:"label2"`
	Label3    *string `parquet:"label3"`
	Label4    *string `parquet:"label4"`
	Label5    *string `parquet:"label5"`
	Label6    *string `parquet:"label6"`
	Label7    *string `parquet:"label7"`
	Label8    *string `parquet:"label8"`
	Label9    *string `parquet:"label9"`

	ACount          uint64 `parquet:"a_count"`
	AAAACount       uint64 `parquet:"aaaa_count"`
	MXCount         uint64 `parquet:"mx_count"`
	NSCount         uint64 `parquet:"ns_count"`
	OtherTypeCount  uint64 `parquet:"other_type_count"`
	NonINCount      uint64 `parquet:"non_in_count"`
	OKCount         uint64 `parquet:"ok_count"`
	NXCount         uint64 `parquet:"nx_count"`
	FailCount       uint64 `parquet:"fail_count"`
	OtherRcodeCount uint64 `parquet:"other_rcode_count"`
	EDMStatusBits   uint64 `parquet:"edm_status_bits"`

	V4ClientCount uint64 `parquet:"v4client_count"`
	V6ClientCount uint64 `parquet:"v6client_count"`

	V4ClientCountHLLBytes []byte `parquet:"v4client_count_hll,optional"`
	V6ClientCountHLLBytes []byte `parquet:"v6client_count_hll,optional"`
}

// batchRows bounds the rows converted at once, so a histogram of a
// million rows does not need a second copy of itself in memory.
const batchRows = 4096

// Parquet returns the histogram as a Parquet file with the DNS TAPIR
// histogram schema, Snappy-compressed as the DNS TAPIR edge writes it.
func Parquet(h *record.Histogram) ([]byte, error) {
	var buf bytes.Buffer
	// A row costs well under 100 bytes once compressed; avoid regrowing.
	buf.Grow(1024 + 64*len(rowsOf(h)))
	if err := WriteParquet(&buf, h); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func rowsOf(h *record.Histogram) []record.Row {
	if h == nil {
		return nil
	}
	return h.Rows
}

// WriteParquet writes the histogram to w as Parquet (see [Parquet]).
func WriteParquet(w io.Writer, h *record.Histogram) error {
	if h == nil {
		return errors.New("aggrec: nil histogram")
	}
	if h.Start.IsZero() {
		return errors.New("aggrec: histogram has no start time")
	}
	start := h.Start.UnixMicro()
	pw := parquet.NewGenericWriter[histogramData](w, parquet.Compression(&parquet.Snappy))
	n := min(len(h.Rows), batchRows)
	batch := make([]histogramData, 0, n)
	// Label strings are pointed to, so keep them in a slice that lives as
	// long as the batch.
	labels := make([]string, 0, 10*n)
	for i := range h.Rows {
		r := &h.Rows[i]
		d := histogramData{
			StartTime:             start,
			ACount:                r.ACount,
			AAAACount:             r.AAAACount,
			MXCount:               r.MXCount,
			NSCount:               r.NSCount,
			OtherTypeCount:        r.OtherTypeCount,
			NonINCount:            r.NonINCount,
			OKCount:               r.OKCount,
			NXCount:               r.NXCount,
			FailCount:             r.FailCount,
			OtherRcodeCount:       r.OtherRcodeCount,
			EDMStatusBits:         r.EDMStatusBits,
			V4ClientCount:         r.V4ClientCount,
			V6ClientCount:         r.V6ClientCount,
			V4ClientCountHLLBytes: nilIfEmpty(r.V4ClientHLL),
			V6ClientCountHLLBytes: nilIfEmpty(r.V6ClientHLL),
		}
		dst := [10]**string{&d.Label0, &d.Label1, &d.Label2, &d.Label3, &d.Label4,
			&d.Label5, &d.Label6, &d.Label7, &d.Label8, &d.Label9}
		src := [10]string{r.Label0, r.Label1, r.Label2, r.Label3, r.Label4,
			r.Label5, r.Label6, r.Label7, r.Label8, r.Label9}
		for j, s := range src {
			if s == "" {
				continue // absent label: null, as EDM writes it
			}
			labels = append(labels, s)
			*dst[j] = &labels[len(labels)-1]
		}
		batch = append(batch, d)
		if len(batch) == cap(batch) {
			if _, err := pw.Write(batch); err != nil {
				return fmt.Errorf("aggrec: parquet: %w", err)
			}
			batch = batch[:0]
			labels = make([]string, 0, 10*n) // the old ones may still be referenced
		}
	}
	if len(batch) > 0 {
		if _, err := pw.Write(batch); err != nil {
			return fmt.Errorf("aggrec: parquet: %w", err)
		}
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("aggrec: parquet: %w", err)
	}
	return nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
