// Package record defines tapir records, the JSON objects that travel as
// frames of content type json:tapir.Record: histogram and new_qname from
// tapir-agg, observation from the core, stats. A record of an unknown type
// passes through every tool untouched.
package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// ContentType is the Frame Streams content type of a stream of records.
const ContentType = "json:tapir.Record"

// MaxFrameSize bounds a record when a stream is read. One histogram holds
// every row of its interval: about 300 bytes of JSON a row, so 30 MB for
// the whole 100,000-name list, 300 MB for a million rows.
const MaxFrameSize = 1 << 30

// Record types.
const (
	TypeHistogram   = "histogram"
	TypeNewQname    = "new_qname"
	TypeObservation = "observation"
	TypeStats       = "stats"
)

// Plausible reports whether b can be a record: a JSON object, which holds
// no zero byte. A reader that lost its place in a stream checks the first
// frame after it resynchronised with it (fstrm.ReaderOptions.Plausible).
func Plausible(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}' && bytes.IndexByte(b, 0) < 0
}

// Type returns the "type" member of a record without decoding the rest.
func Type(b []byte) (string, error) {
	var h struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", err
	}
	if h.Type == "" {
		return "", errors.New("record has no type")
	}
	return h.Type, nil
}

// NewQname is the first sighting of a name at this edge, in the DNS TAPIR
// event schema, version 0.
type NewQname struct {
	Type      string    `json:"type"` // "new_qname"
	Version   int       `json:"version"`
	Timestamp time.Time `json:"timestamp"` // start of the interval the message fell in
	Qname     string    `json:"qname"`
	Qtype     uint16    `json:"qtype"`
	Qclass    uint16    `json:"qclass"`
	Flags     uint16    `json:"flags"` // the DNS header word of the response
	Initiator string    `json:"initiator,omitempty"`
	Rdlength  int       `json:"rdlength,omitempty"`
}

// Histogram is one interval's counts per well-known domain.
type Histogram struct {
	Type     string    `json:"type"` // "histogram"
	Start    time.Time `json:"start"`
	Duration int64     `json:"duration"` // seconds
	// Partial marks an interval cut short: the input ended or the tool
	// was stopped before the interval did.
	Partial bool `json:"partial,omitempty"`
	// Overflow counts messages for domains beyond --max-domains.
	Overflow uint64 `json:"overflow,omitempty"`
	Rows     []Row  `json:"rows"`
}

// Row is one well-known domain's counts, with the DNS TAPIR histogram
// column names.
type Row struct {
	Label0          string `json:"label0,omitempty"`
	Label1          string `json:"label1,omitempty"`
	Label2          string `json:"label2,omitempty"`
	Label3          string `json:"label3,omitempty"`
	Label4          string `json:"label4,omitempty"`
	Label5          string `json:"label5,omitempty"`
	Label6          string `json:"label6,omitempty"`
	Label7          string `json:"label7,omitempty"`
	Label8          string `json:"label8,omitempty"`
	Label9          string `json:"label9,omitempty"`
	ACount          uint64 `json:"a_count"`
	AAAACount       uint64 `json:"aaaa_count"`
	MXCount         uint64 `json:"mx_count"`
	NSCount         uint64 `json:"ns_count"`
	OtherTypeCount  uint64 `json:"other_type_count"`
	NonINCount      uint64 `json:"non_in_count"`
	OKCount         uint64 `json:"ok_count"`
	NXCount         uint64 `json:"nx_count"`
	FailCount       uint64 `json:"fail_count"`
	OtherRcodeCount uint64 `json:"other_rcode_count"`
	EDMStatusBits   uint64 `json:"edm_status_bits"`
	V4ClientCount   uint64 `json:"v4client_count"`
	V6ClientCount   uint64 `json:"v6client_count"`
	V4ClientHLL     []byte `json:"v4client_count_hll,omitempty"` // hll-storage-spec v1, base64 in JSON
	V6ClientHLL     []byte `json:"v6client_count_hll,omitempty"`
}

// SetLabels sets label0…label9 from labels (label0 the TLD).
func (r *Row) SetLabels(l [10]string) {
	r.Label0, r.Label1, r.Label2, r.Label3, r.Label4 = l[0], l[1], l[2], l[3], l[4]
	r.Label5, r.Label6, r.Label7, r.Label8, r.Label9 = l[5], l[6], l[7], l[8], l[9]
}
