package blocklist

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// entryList writes entries compactly: "name@line", "*.name@line".
func entryList(es []Entry) string {
	var s []string
	for _, e := range es {
		s = append(s, e.String()+"@"+fmt.Sprintf("%02d", e.Line))
	}
	return strings.Join(s, " ")
}

func badLines(bad []error) []int {
	var l []int
	for _, e := range bad {
		var le *LineError
		if !errors.As(e, &le) {
			panic("not a LineError")
		}
		if le.File != "list.txt" {
			panic("wrong file " + le.File)
		}
		l = append(l, le.Line)
	}
	return l
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		format  Format
		in      string
		want    string
		badLine []int
	}{
		{"plain", Plain, "# comment\n\nExample.com\nbad..name\n*.ads.example # tail\n.track.example.\n; also comment\nexample.com.\nbücher.example\r\ntwo names\n",
			"example.com.@03 *.ads.example.@05 *.track.example.@06 xn--bcher-kva.example.@09", []int{4, 10}},
		{"hosts", Hosts, "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n0.0.0.0 ads.example tracker.example # c\n# 0.0.0.0 off.example\n::  v6.example\n0.0.0.0\nnot-an-ip name.example\n0.0.0.0 ok.example bad_name!.example\n",
			"ads.example.@03 tracker.example.@03 v6.example.@05 ok.example.@08", []int{6, 7, 8}},
		{"csv", CSVColumn(1), "rank,domain,score\n1,Ads.Example,9\n2,\"quoted.example\",3\n3,bad..x,1\n# c\n4\n5,*.wild.example\n",
			"ads.example.@02 quoted.example.@03 *.wild.example.@07", []int{4, 6}},
		{"csv-no-header", CSV, "a.example,x\nb.example\n", "a.example.@01 b.example.@02", nil},
		{"rpz", RPZ, `$TTL 300 ; line 1
$ORIGIN rpz.tapir.
@ IN SOA ns.rpz.tapir. hostmaster.rpz.tapir. ( 1 3600 600
    86400 300 ) ; comment
  IN NS localhost.
bad.example CNAME .
*.bad.example CNAME .
nodata.example CNAME *.
drop.example.rpz.tapir. CNAME rpz-drop.
allowed.example CNAME rpz-passthru.
32.1.0.0.10.rpz-ip CNAME .
other.zone. CNAME .
bad..name CNAME .
walled.example A 192.0.2.1
 TXT "a ; quoted"
`, "bad.example.@06 *.bad.example.@07 nodata.example.@08 drop.example.@09 walled.example.@14", []int{10, 11, 12, 13}},
		{"rpz-unknown-origin", RPZ, "@ SOA ns. h. 1 2 3 4 5\n@ NS ns.\nx.test CNAME .\ny.test. CNAME .\n", "x.test.@03 y.test.@04", nil},
		{"rpz-origin", RPZ, "$ORIGIN rpz.example.\nx.test CNAME .\n$ORIGIN sub\ny CNAME .\n", "x.test.@02 y.sub.@04", nil},
		{"rpz-no-apex", RPZ, "x.test. CNAME .\n$INCLUDE other\n", "x.test.@01", []int{2}},
		{"adblock", Adblock, "[Adblock Plus 2.0]\n! comment\n||ads.example^\n||track.example^$third-party\n@@||good.example^\nexample.com##.banner\n||*.wild.example^\n|http://x/\n||bad..x^\n",
			"ads.example.@03 *.ads.example.@03 track.example.@04 *.track.example.@04 *.wild.example.@07", []int{5, 6, 8, 9}},
		{"auto-hosts", Auto, "# hosts\n0.0.0.0 a.example\n", "a.example.@02", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, bad, err := Parse("list.txt", strings.NewReader(tc.in), tc.format)
			if err != nil {
				t.Fatal(err)
			}
			if got := entryList(es); got != tc.want {
				t.Errorf("entries\n got %s\nwant %s", got, tc.want)
			}
			if got := badLines(bad); !reflect.DeepEqual(got, tc.badLine) {
				t.Errorf("bad lines %v, want %v: %v", got, tc.badLine, bad)
			}
		})
	}
}

func TestLineError(t *testing.T) {
	_, bad, _ := Parse("deny.txt", strings.NewReader("ok.example\nbad..example\n"), Plain)
	if len(bad) != 1 || !strings.HasPrefix(bad[0].Error(), "deny.txt:2: ") {
		t.Fatalf("bad = %v", bad)
	}
}

func TestLongLine(t *testing.T) {
	in := "a.example\n" + strings.Repeat("x", maxLineLen+10) + "\nb.example"
	es, bad, err := Parse("list.txt", strings.NewReader(in), Plain)
	if err != nil || len(es) != 2 || len(bad) != 1 || badLines(bad)[0] != 2 {
		t.Fatalf("entries %v, bad %v, err %v", es, bad, err)
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Format
	}{
		{"example.com\n", Plain},
		{"# a list\n\nexample.com\n*.x.example\n", Plain},
		{"# hosts\n127.0.0.1 localhost\n", Hosts},
		{":: x.example\n", Hosts},
		{"domain,score\n", CSV},
		{"$TTL 300\n", RPZ},
		{"; zone\n@ SOA ns. h. 1 2 3 4 5\n", RPZ},
		{"x.example CNAME .\n", RPZ},
		{"! adblock\n", Adblock},
		{"[Adblock Plus 2.0]\n", Adblock},
		{"||x.example^\n", Adblock},
		{"", Plain},
	} {
		if got := Sniff([]byte(tc.in)); got != tc.want {
			t.Errorf("Sniff(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestFormatString(t *testing.T) {
	for _, s := range []string{"auto", "plain", "hosts", "csv", "csv:3", "rpz", "adblock"} {
		f, err := ParseFormat(s)
		if err != nil || f.String() != s {
			t.Errorf("ParseFormat(%q) = %v, %v", s, f, err)
		}
	}
	if f, _ := ParseFormat("csv:3"); f.Kind() != CSV || f.Column() != 3 {
		t.Errorf("csv:3 = kind %v column %d", f.Kind(), f.Column())
	}
	for _, s := range []string{"csv:", "csv:-1", "json"} {
		if _, err := ParseFormat(s); err == nil {
			t.Errorf("ParseFormat(%q) succeeded", s)
		}
	}
}
