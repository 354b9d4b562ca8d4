package blocklist

import (
	"bytes"
	"net/netip"
	"strings"
)

// Sniff guesses the format of a list from its first bytes (a few lines are
// enough; a partial last line is ignored). The guess, from the first lines
// that are not blank or comments:
//
//   - Adblock if a line starts with "||", "@@" or "[Adblock", or the
//     comments start with '!';
//   - RPZ if a line starts with "$ORIGIN" or "$TTL", or has an SOA or
//     CNAME field;
//   - Hosts if a line is an IP address and a name;
//   - CSV, column 0, if a line has a comma;
//   - Plain otherwise.
//
// A CSV list with the name in another column must be named by the caller.
func Sniff(head []byte) Format {
	if i := bytes.LastIndexByte(head, '\n'); i >= 0 && i < len(head)-1 {
		head = head[:i+1]
	}
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	lines := 0
	for l := range strings.SplitSeq(string(head), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		switch {
		case strings.HasPrefix(l, "||"), strings.HasPrefix(l, "@@"), strings.HasPrefix(l, "[Adblock"),
			strings.HasPrefix(l, "!"):
			return Adblock
		case strings.HasPrefix(l, "#"), strings.HasPrefix(l, ";"):
			continue
		case strings.HasPrefix(l, "$ORIGIN"), strings.HasPrefix(l, "$TTL"):
			return RPZ
		}
		fields := strings.Fields(l)
		for _, f := range fields[1:] {
			if u := strings.ToUpper(f); u == "SOA" || u == "CNAME" {
				return RPZ
			}
		}
		if _, err := netip.ParseAddr(fields[0]); err == nil && len(fields) >= 2 {
			return Hosts
		}
		if strings.Contains(l, ",") {
			return CSV
		}
		if lines++; lines >= 20 {
			break
		}
	}
	return Plain
}
