package cat

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/tapir-edge/tapir/lib/blocklist"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/dnswire"
)

// RPZ says which names a Response Policy Zone would have matched: what
// blocking would have done, before anyone is blocked (--match-rpz).
type RPZ struct {
	exact, suffix map[string]bool
	counts        map[string]uint64
	name          []byte
}

// LoadRPZ reads an RPZ zone file. Bad records are returned, and skipped.
func LoadRPZ(path string) (*RPZ, []error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	entries, bad, err := blocklist.Parse(path, f, blocklist.RPZ)
	if err != nil {
		return nil, nil, err
	}
	z := &RPZ{exact: map[string]bool{}, suffix: map[string]bool{}, counts: map[string]uint64{}, name: make([]byte, 0, 256)}
	for _, e := range entries {
		if e.Suffix {
			z.suffix[e.Name] = true
		} else {
			z.exact[e.Name] = true
		}
	}
	return z, bad, nil
}

// rule returns the zone entry that matches qname: the name itself, or the
// longest "*." wildcard above it, as resolvers apply RPZ.
func (z *RPZ) rule(qname []byte) (string, bool) {
	if z.exact[string(qname)] {
		return string(qname), true
	}
	for i := 0; i < len(qname)-1; i++ {
		if qname[i] == '.' && z.suffix[string(qname[i+1:])] {
			return "*." + string(qname[i+1:]), true
		}
	}
	return "", false
}

// count notes the rule a dnstap message matches, if any.
func (z *RPZ) count(f *dnstap.Frame) bool {
	q, _, _, err := dnswire.Question(f.DNS(), z.name)
	z.name = q[:0]
	if err != nil {
		return false
	}
	r, ok := z.rule(q)
	if ok {
		z.counts[r]++
	}
	return ok
}

// report writes the counts per rule, most matched first.
func (z *RPZ) report(w interface{ WriteString(string) (int, error) }) {
	rules := make([]string, 0, len(z.counts))
	var total uint64
	for r, n := range z.counts {
		rules = append(rules, r)
		total += n
	}
	sort.Slice(rules, func(i, j int) bool {
		if z.counts[rules[i]] != z.counts[rules[j]] {
			return z.counts[rules[i]] > z.counts[rules[j]]
		}
		return rules[i] < rules[j]
	})
	for _, r := range rules {
		w.WriteString(fmt.Sprintf("%d\t%s\n", z.counts[r], strings.TrimSuffix(r, ".")+"."))
	}
	w.WriteString(fmt.Sprintf("%d\ttotal, %d rules matched\n", total, len(rules)))
}
