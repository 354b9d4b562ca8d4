package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Explain says, in a few lines of text, what the zone does with a query
// name and why: the entry that matches it, the rule that decided, the
// sources that list the entry, and the other rules that fired. For a name
// without a decision it says which entries exist and why they decide
// nothing.
func (e *Engine) Explain(name string) string {
	var b strings.Builder
	k, err := entryKey(name)
	if err != nil {
		return fmt.Sprintf("%s: not a name: %v\n", name, err)
	}
	key, en, ok := e.lookup(name)
	if ok {
		fmt.Fprintf(&b, "%s: %s, by entry %s\n", k, e.action(en.rule), key)
		e.explainEntry(&b, key, en)
		return b.String()
	}
	fmt.Fprintf(&b, "%s: no decision\n", k)
	// Entries that exist but decide nothing: the name, and wildcards.
	cands := []string{k}
	for i := 0; i < len(k)-1 && !strings.HasPrefix(k, "*."); i++ {
		if k[i] == '.' {
			cands = append(cands, "*."+k[i+1:])
		}
	}
	for _, c := range cands {
		if en, ok := e.entries[c]; ok {
			fmt.Fprintf(&b, "entry %s:\n", c)
			e.explainEntry(&b, c, en)
		}
	}
	return b.String()
}

func (e *Engine) explainEntry(b *strings.Builder, key string, en entry) {
	claims := slices.Clone(en.claims)
	slices.SortFunc(claims, func(x, y claim) int {
		if c := strings.Compare(string(x.src.kind), string(y.src.kind)); c != 0 {
			return c
		}
		return strings.Compare(x.src.name, y.src.name)
	})
	for _, c := range claims {
		fmt.Fprintf(b, "  listed in %s by %s", c.src.kind, c.src.name)
		if c.src.local {
			fmt.Fprintf(b, " (local list, line %d)", c.line)
		} else {
			fmt.Fprintf(b, " (observation, tags %s, expires %s)", orNone(TagString(c.tags)),
				time.Unix(c.expires, 0).UTC().Format(time.RFC3339))
		}
		b.WriteByte('\n')
	}
	switch {
	case en.rule == ruleAllow:
		b.WriteString("  decided by: an allowlist entry, which always wins\n")
	case en.rule >= 0:
		r := &e.rules[en.rule]
		fmt.Fprintf(b, "  decided by: rule %q (%s)\n", r.String(), r.Where())
	default:
		if p, ok := e.coveredByAllow(key); ok {
			fmt.Fprintf(b, "  no decision: the allowlist suffix entry *.%s covers it and always wins\n", p)
		} else {
			b.WriteString("  no decision: no rule fired\n")
		}
	}
	for i := range e.rules {
		r := &e.rules[i]
		if int32(i) != en.rule && e.fires(r, en.claims) {
			fmt.Fprintf(b, "  also fired: rule %q (%s)\n", r.String(), r.Where())
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
