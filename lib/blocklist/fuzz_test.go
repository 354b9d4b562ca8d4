package blocklist

import (
	"errors"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/lib/dnsname"
)

// FuzzParse checks, for any input in any format, that Parse does not
// panic, that every entry is canonical and unique and names a line of the
// input, and that every bad line is a *LineError within the input.
func FuzzParse(f *testing.F) {
	f.Add(uint8(Plain), "example.com\n*.ads.example\n# c\nbad..x\n")
	f.Add(uint8(Hosts), "127.0.0.1 localhost\n0.0.0.0 a.example b.example\n")
	f.Add(uint8(CSV), "domain,score\nx.example,1\n")
	f.Add(uint8(RPZ), "$ORIGIN rpz.tapir.\n@ SOA ns. h. (1 2\n 3 4 5)\nx CNAME .\n*.y CNAME *.\n")
	f.Add(uint8(Adblock), "! c\n||ads.example^$third-party\n@@||ok.example^\n")
	f.Add(uint8(Auto), "bücher.example\n")
	f.Fuzz(func(t *testing.T, format uint8, in string) {
		ff := Format(format) % (Adblock + 1)
		if ff == CSV {
			ff = CSVColumn(int(format / 8))
		}
		es, bad, err := Parse("f", strings.NewReader(in), ff)
		if err != nil {
			t.Fatalf("error reading a string: %v", err)
		}
		lines := strings.Count(in, "\n") + 1
		seen := map[Entry]bool{}
		for _, e := range es {
			name, suffix, err := dnsname.Canonical(e.Name)
			if err != nil || suffix || name != e.Name {
				t.Fatalf("entry %+v is not canonical: %q %v %v", e, name, suffix, err)
			}
			k := Entry{Name: e.Name, Suffix: e.Suffix}
			if seen[k] {
				t.Fatalf("duplicate entry %+v", e)
			}
			seen[k] = true
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("entry %+v: line out of 1..%d", e, lines)
			}
		}
		for _, b := range bad {
			var le *LineError
			if !errors.As(b, &le) || le.File != "f" || le.Line < 1 || le.Line > lines {
				t.Fatalf("bad line report %v", b)
			}
		}
	})
}
