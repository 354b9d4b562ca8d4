package policy

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/blocklist"
)

// model is a naive reference: every list as a set, every decision
// computed from scratch by the documented semantics.
type model struct {
	rules []Rule
	// lists: (kind, source, local) → key → claim (tags, expiry)
	lists map[srcID]map[string]claim
}

func (m *model) decisions(now int64) map[string]Action {
	keys := map[string]bool{}
	for id, l := range m.lists {
		for k, c := range l {
			if id.local || c.expires > now {
				keys[k] = true
			}
		}
	}
	live := func(id srcID, k string) (claim, bool) {
		c, ok := m.lists[id][k]
		if !ok || !id.local && c.expires <= now {
			return claim{}, false
		}
		return c, true
	}
	out := map[string]Action{}
	for k := range keys {
		allowed, covered := false, false
		for id, l := range m.lists {
			if id.kind != Allow {
				continue
			}
			for ak := range l {
				if _, ok := live(id, ak); !ok {
					continue
				}
				if ak == k {
					allowed = true
				}
				if p, ok := strings.CutPrefix(ak, "*."); ok {
					name := strings.TrimPrefix(k, "*.")
					if strings.HasSuffix(name, "."+p) || strings.HasPrefix(k, "*.") && name == p {
						covered = true
					}
				}
			}
		}
		if allowed {
			out[k] = Action{Kind: Passthru}
			continue
		}
		if covered {
			continue
		}
		var best *Rule
		for i := range m.rules {
			r := &m.rules[i]
			names := map[string]bool{}
			var tags uint32
			for id := range m.lists {
				if id.kind != r.Kind || r.Source != "" && id.name != r.Source {
					continue
				}
				if c, ok := live(id, k); ok {
					names[id.name] = true
					tags |= c.tags
				}
			}
			fires := len(names) > 0 && len(names) >= r.MinSources && bits.OnesCount32(tags) >= r.MinTags &&
				(r.AnyTags == 0 || tags&r.AnyTags != 0)
			if fires && (best == nil || r.Action.Kind > best.Action.Kind) {
				best = r
			}
		}
		if best != nil {
			out[k] = best.Action
		}
	}
	return out
}

func decisionMap(e *Engine) map[string]Action {
	m := map[string]Action{}
	for _, d := range e.Decisions() {
		k := d.Name
		if d.Suffix {
			k = "*." + k
		}
		m[k] = d.Action
	}
	return m
}

func applyChanges(t *testing.T, m map[string]Action, ch []Change) {
	t.Helper()
	for _, c := range ch {
		k := c.Name
		if c.Suffix {
			k = "*." + k
		}
		if m[k] != c.Old {
			t.Fatalf("change %+v: the previous decision was %v", c, m[k])
		}
		if c.Old == c.New {
			t.Fatalf("change %+v changes nothing", c)
		}
		if c.New.Kind == None {
			delete(m, k)
		} else {
			m[k] = c.New
		}
	}
}

func compare(t *testing.T, step int, what string, got, want map[string]Action) {
	t.Helper()
	for k, a := range want {
		if got[k] != a {
			t.Fatalf("step %d (%s): %s is %v, want %v", step, what, k, got[k], a)
		}
	}
	for k, a := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("step %d (%s): %s is %v, want no decision", step, what, k, a)
		}
	}
}

// TestIncrementalMatchesFull applies random sequences of list updates,
// observations and expiries. After each, the returned changes applied to
// the previous decisions must give the engine's full decision set, which
// must equal the reference model's, in which no allowed entry is denied.
func TestIncrementalMatchesFull(t *testing.T) {
	pol := mustPolicy(t, `
deny action nxdomain
deny source=c1 action drop
doubt sources>=2 action nodata
doubt tags>=2 action tcp-only
doubt tags-any=likelymalware action redirect:walled.example
doubt source=l2 tags-any=badip action nxdomain
`)
	labels := []string{"a", "b", "c"}
	randKey := func(r *rand.Rand) string {
		n := 1 + r.IntN(3)
		var parts []string
		for range n {
			parts = append(parts, labels[r.IntN(len(labels))])
		}
		k := strings.Join(parts, ".") + ".example."
		if r.IntN(3) == 0 {
			k = "*." + k
		}
		return k
	}
	kinds := []Kind{Allow, Deny, Doubt}
	steps := 300
	if testing.Short() {
		steps = 50
	}
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		e := New(pol)
		m := &model{rules: e.rules, lists: map[srcID]map[string]claim{}}
		now := t0
		prev := map[string]Action{}
		locals := map[srcID][]blocklist.Entry{}
		for step := range steps {
			var ch []Change
			var what string
			switch r.IntN(4) {
			case 0: // replace a local list
				id := srcID{name: []string{"l1", "l2"}[r.IntN(2)], kind: kinds[r.IntN(3)], local: true}
				var es []blocklist.Entry
				l := map[string]claim{}
				for range r.IntN(6) {
					k := randKey(r)
					name, suffix := splitKey(k)
					es = append(es, blocklist.Entry{Name: name, Suffix: suffix, Line: 1})
					l[k] = claim{}
				}
				m.lists[id] = l
				locals[id] = es
				ch = e.SetList(id.kind, id.name, es)
				what = fmt.Sprintf("SetList %v %d", id, len(es))
			case 1, 2: // an observation
				id := srcID{name: []string{"c1", "c2", "l2"}[r.IntN(3)], kind: kinds[r.IntN(3)]}
				o := Observation{SrcName: id.name, ListType: id.kind}
				l := m.lists[id]
				if l == nil {
					l = map[string]claim{}
					m.lists[id] = l
				}
				for range r.IntN(3) {
					k := randKey(r)
					o.Removed = append(o.Removed, Removed{Name: k})
					delete(l, k)
				}
				for range r.IntN(4) {
					k := randKey(r)
					a := Added{Name: k, TimeAdded: now.Add(-time.Duration(r.IntN(50)) * time.Second),
						TTL: int64(r.IntN(120)), TagMask: uint32(r.IntN(64))}
					o.Added = append(o.Added, a)
					if exp := expiry(a); exp > now.Unix() {
						l[k] = claim{tags: a.TagMask, expires: exp}
					} else {
						delete(l, k)
					}
				}
				ch = e.Apply(o, now)
				what = fmt.Sprintf("Apply %v", id)
			case 3:
				now = now.Add(time.Duration(r.IntN(40)) * time.Second)
				ch = e.ExpireChanges(now)
				what = "Expire"
			}
			applyChanges(t, prev, ch)
			full := decisionMap(e)
			compare(t, step, what+" incremental vs full", prev, full)
			compare(t, step, what+" engine vs model", full, m.decisions(now.Unix()))
			// Allowlist beats deny: every allowed entry is PASSTHRU.
			for id, l := range m.lists {
				if id.kind != Allow {
					continue
				}
				for k, c := range l {
					if (id.local || c.expires > now.Unix()) && full[k].Kind != Passthru {
						t.Fatalf("step %d: allowed %s is %v", step, k, full[k])
					}
				}
			}
			// A journal compacted to Observations gives the same
			// decisions, now and as they expire.
			c := New(pol)
			for id, es := range locals {
				c.SetList(id.kind, id.name, es)
			}
			for _, o := range e.Observations(now) {
				if err := o.Validate(); err != nil {
					t.Fatalf("step %d: compacted observation: %v", step, err)
				}
				c.Apply(o, now)
			}
			compare(t, step, what+" compacted vs full", decisionMap(c), full)
			later := now.Add(time.Duration(r.IntN(100)) * time.Second)
			c.ExpireChanges(later)
			compare(t, step, what+" compacted, expired later, vs model", decisionMap(c), m.decisions(later.Unix()))
		}
	}
}
