package policy

import (
	"container/heap"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tapir-edge/tapir/lib/blocklist"
)

// Engine holds the lists and observations and the decision for each entry.
// Its methods are not safe for concurrent use: the caller serialises them
// (tapir-rpz applies updates from one goroutine).
type Engine struct {
	rules []Rule
	// entries maps a key ("name." or "*.name.") to its state.
	entries map[string]entry
	// lists holds the keys of each local list, to replace it.
	lists map[srcID][]string
	// sources interns each source, so that claims hold a pointer.
	sources map[srcID]*source
	// allowSuffix counts, for a name, the allowlist suffix entries
	// "*.name." (one per source); a name with a count covers its
	// strict subdomains.
	allowSuffix map[string]int
	expiry      expiryHeap
}

type srcID struct {
	name  string
	kind  Kind
	local bool
}

// source is a list: a local file, or a core source's list of one kind.
type source struct{ srcID }

// claim is one source's listing of an entry.
type claim struct {
	src     *source
	tags    uint32
	line    int32 // line of a local list; 0 for an observation
	expires int64 // Unix seconds; 0 for a local list
}

// entry is the state of one key: who lists it, and its decision.
type entry struct {
	claims []claim
	// rule is the index of the deciding rule, or ruleNone, or
	// ruleAllow for an allowlist entry (PASSTHRU).
	rule int32
}

const (
	ruleNone  = -1
	ruleAllow = -2
)

// Change is a change of the decision for one zone entry. Old is the zero
// Action (None) for an entry that was not in the zone, New for one that
// leaves it.
type Change struct {
	Name     string // canonical, with a trailing dot
	Suffix   bool   // the wildcard "*.Name"
	Old, New Action
}

// Decision is the decision for one zone entry.
type Decision struct {
	Name   string
	Suffix bool
	Action Action
}

// New returns an engine with no lists that decides by policy p (nil:
// [DefaultPolicy]). A policy without deny rules gets the built-in rule
// "deny action nxdomain".
func New(p *Policy) *Engine {
	if p == nil {
		p = DefaultPolicy()
	}
	e := &Engine{
		rules:       slices.Clone(p.Rules),
		entries:     map[string]entry{},
		lists:       map[srcID][]string{},
		sources:     map[srcID]*source{},
		allowSuffix: map[string]int{},
	}
	if !slices.ContainsFunc(e.rules, func(r Rule) bool { return r.Kind == Deny }) {
		e.rules = append(e.rules, Rule{Kind: Deny, Action: Action{Kind: NXDomain}})
	}
	return e
}

func (e *Engine) source(id srcID) *source {
	s := e.sources[id]
	if s == nil {
		s = &source{id}
		e.sources[id] = s
	}
	return s
}

// update gathers the keys an operation touched, to decide them again.
type update struct {
	e *Engine
	// dirty maps each touched key to its decision before.
	dirty map[string]int32
	all   bool // an allowlist suffix changed: decide every key again
}

func (e *Engine) begin(n int) *update {
	return &update{e: e, dirty: make(map[string]int32, n)}
}

func (u *update) touch(key string) {
	if _, ok := u.dirty[key]; ok {
		return
	}
	if en, ok := u.e.entries[key]; ok {
		u.dirty[key] = en.rule
	} else {
		u.dirty[key] = ruleNone
	}
}

// set adds or replaces src's claim on key.
func (u *update) set(key string, c claim) {
	u.touch(key)
	en, ok := u.e.entries[key]
	if !ok {
		en.rule = ruleNone
	}
	for i := range en.claims {
		if en.claims[i].src == c.src {
			en.claims[i] = c
			u.e.entries[key] = en
			return
		}
	}
	en.claims = append(en.claims, c)
	u.e.entries[key] = en
	if c.src.kind == Allow && strings.HasPrefix(key, "*.") {
		u.e.allowSuffix[key[2:]]++
		u.all = true
	}
}

// drop removes src's claim on key, if it has one; with expires != 0 only
// if the claim expires then.
func (u *update) drop(key string, src *source, expires int64) {
	en, ok := u.e.entries[key]
	if !ok {
		return
	}
	i := slices.IndexFunc(en.claims, func(c claim) bool { return c.src == src })
	if i < 0 || expires != 0 && en.claims[i].expires != expires {
		return
	}
	u.touch(key)
	en.claims = slices.Delete(en.claims, i, i+1)
	u.e.entries[key] = en
	if src.kind == Allow && strings.HasPrefix(key, "*.") {
		n := key[2:]
		if u.e.allowSuffix[n]--; u.e.allowSuffix[n] <= 0 {
			delete(u.e.allowSuffix, n)
		}
		u.all = true
	}
}

// finish decides the touched keys (or all keys) again and returns the
// changes, sorted by name, then exact before suffix.
func (u *update) finish() []Change {
	e := u.e
	var changes []Change
	check := func(key string, old int32) {
		en, ok := e.entries[key]
		r := int32(ruleNone)
		if ok {
			r = e.decide(key, en.claims)
		}
		if ok && len(en.claims) == 0 {
			delete(e.entries, key)
		} else if ok && en.rule != r {
			en.rule = r
			e.entries[key] = en
		}
		if oa, na := e.action(old), e.action(r); oa != na {
			name, suffix := splitKey(key)
			changes = append(changes, Change{Name: name, Suffix: suffix, Old: oa, New: na})
		}
	}
	if u.all {
		for key, old := range u.dirty {
			if _, ok := e.entries[key]; !ok {
				check(key, old)
			}
		}
		for key, en := range e.entries {
			old, ok := u.dirty[key]
			if !ok {
				old = en.rule
			}
			check(key, old)
		}
	} else {
		for key, old := range u.dirty {
			check(key, old)
		}
	}
	slices.SortFunc(changes, func(a, b Change) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return boolCmp(a.Suffix, b.Suffix)
	})
	return changes
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func splitKey(key string) (name string, suffix bool) {
	if n, ok := strings.CutPrefix(key, "*."); ok {
		return n, true
	}
	return key, false
}

func (e *Engine) action(rule int32) Action {
	switch {
	case rule == ruleAllow:
		return Action{Kind: Passthru}
	case rule >= 0:
		return e.rules[rule].Action
	}
	return Action{}
}

// coveredByAllow reports whether an allowlist suffix entry covers key:
// for "name." a strict parent of name, for "*.name." name or a parent.
func (e *Engine) coveredByAllow(key string) (parent string, ok bool) {
	if len(e.allowSuffix) == 0 {
		return "", false
	}
	name, suffix := splitKey(key)
	if suffix && e.allowSuffix[name] > 0 {
		return name, true
	}
	for i := 0; i < len(name)-1; i++ {
		if name[i] == '.' {
			p := name[i+1:]
			if p != "" && e.allowSuffix[p] > 0 {
				return p, true
			}
		}
	}
	return "", false
}

// decide returns the deciding rule for a key with these claims.
func (e *Engine) decide(key string, claims []claim) int32 {
	if len(claims) == 0 {
		return ruleNone
	}
	for _, c := range claims {
		if c.src.kind == Allow {
			return ruleAllow
		}
	}
	if _, ok := e.coveredByAllow(key); ok {
		return ruleNone
	}
	best := int32(ruleNone)
	for i := range e.rules {
		r := &e.rules[i]
		if best >= 0 && e.rules[best].Action.Kind >= r.Action.Kind {
			continue // cannot win
		}
		if e.fires(r, claims) {
			best = int32(i)
		}
	}
	return best
}

func (e *Engine) fires(r *Rule, claims []claim) bool {
	var tags uint32
	n := 0
	for i, c := range claims {
		if c.src.kind != r.Kind || r.Source != "" && c.src.name != r.Source {
			continue
		}
		tags |= c.tags
		// Count distinct source names: a local list and a core source
		// of the same name count once.
		dup := false
		for _, d := range claims[:i] {
			if d.src.kind == r.Kind && d.src.name == c.src.name {
				dup = true
				break
			}
		}
		if !dup {
			n++
		}
	}
	return r.fires(n, tags)
}

// SetList replaces the local list of this kind from source (its name:
// the file) with entries, and returns the changes of decisions. An empty
// list removes the source.
func (e *Engine) SetList(kind Kind, source string, entries []blocklist.Entry) []Change {
	if !kind.Valid() {
		panic(fmt.Sprintf("policy: SetList of kind %q", kind))
	}
	id := srcID{name: source, kind: kind, local: true}
	src := e.source(id)
	u := e.begin(len(entries))
	keys := make([]string, 0, len(entries))
	for _, en := range entries {
		key := en.Name
		if en.Suffix {
			key = "*." + en.Name
		}
		if _, dup := u.dirty[key]; dup {
			continue
		}
		keys = append(keys, key)
		u.set(key, claim{src: src, line: int32(en.Line)})
	}
	// Until now the keys touched are the new list's: drop the rest.
	for _, key := range e.lists[id] {
		if _, ok := u.dirty[key]; !ok {
			u.drop(key, src, 0)
		}
	}
	if len(keys) == 0 {
		delete(e.lists, id)
		delete(e.sources, id)
	} else {
		e.lists[id] = keys
	}
	return u.finish()
}

// Apply applies an observation, validated ([Observation.Validate]), at
// time now: its added names join (or renew, with new tags and expiry) the
// list of its source and list type, its removed names leave it. An added
// name that has already expired at now is removed instead.
func (e *Engine) Apply(o Observation, now time.Time) []Change {
	src := e.source(srcID{name: o.SrcName, kind: o.ListType})
	u := e.begin(len(o.Added) + len(o.Removed))
	for _, r := range o.Removed {
		u.drop(r.Name, src, 0)
	}
	for _, a := range o.Added {
		exp := expiry(a)
		if exp <= now.Unix() {
			u.drop(a.Name, src, 0)
			continue
		}
		u.set(a.Name, claim{src: src, tags: a.TagMask, expires: exp})
		heap.Push(&e.expiry, expiryItem{at: exp, key: a.Name, src: src})
	}
	return u.finish()
}

// expiry returns when an added name expires, in Unix seconds; at least 1,
// as 0 marks a claim that does not expire.
func expiry(a Added) int64 {
	return max(a.TimeAdded.Unix()+a.TTL, 1)
}

// ExpireChanges removes the observations that have expired at now
// (time_added + ttl <= now) and returns the changes of decisions.
func (e *Engine) ExpireChanges(now time.Time) []Change {
	u := e.begin(0)
	t := now.Unix()
	for len(e.expiry) > 0 && e.expiry[0].at <= t {
		it := heap.Pop(&e.expiry).(expiryItem)
		u.drop(it.key, it.src, it.at) // a no-op if the claim was renewed
	}
	return u.finish()
}

// Expire is ExpireChanges, returning the entries whose decision changed:
// "name." or "*.name.".
func (e *Engine) Expire(now time.Time) (changed []string) {
	for _, c := range e.ExpireChanges(now) {
		if c.Suffix {
			changed = append(changed, "*."+c.Name)
		} else {
			changed = append(changed, c.Name)
		}
	}
	return changed
}

// NextExpiry returns when the next observation expires, if any does: the
// time to call Expire.
func (e *Engine) NextExpiry() (time.Time, bool) {
	if len(e.expiry) == 0 {
		return time.Time{}, false
	}
	return time.Unix(e.expiry[0].at, 0), true
}

// Decisions returns every entry of the zone (every entry with a decision),
// sorted by name, the exact name before its wildcard.
func (e *Engine) Decisions() []Decision {
	d := make([]Decision, 0, len(e.entries))
	for key, en := range e.entries {
		if en.rule == ruleNone {
			continue
		}
		name, suffix := splitKey(key)
		d = append(d, Decision{Name: name, Suffix: suffix, Action: e.action(en.rule)})
	}
	slices.SortFunc(d, func(a, b Decision) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return boolCmp(a.Suffix, b.Suffix)
	})
	return d
}

// Len returns the number of entries in the zone.
func (e *Engine) Len() int {
	n := 0
	for _, en := range e.entries {
		if en.rule != ruleNone {
			n++
		}
	}
	return n
}

// lookup finds the zone entry that applies to a query name as a resolver
// does: the name itself, else the longest wildcard "*.parent". A name
// "*.x" asks for that wildcard entry itself.
func (e *Engine) lookup(name string) (key string, en entry, ok bool) {
	k, err := entryKey(name)
	if err != nil {
		return "", entry{}, false
	}
	if en, ok := e.entries[k]; ok && en.rule != ruleNone {
		return k, en, true
	}
	if strings.HasPrefix(k, "*.") {
		return "", entry{}, false
	}
	for i := 0; i < len(k)-1; i++ {
		if k[i] == '.' {
			w := "*." + k[i+1:]
			if en, ok := e.entries[w]; ok && en.rule != ruleNone {
				return w, en, true
			}
		}
	}
	return "", entry{}, false
}

// Decide returns the decision that applies to a query name: the zone entry
// a resolver would match (the name, else the longest wildcard above it).
// ok is false if none does. Decide("*.x") returns the wildcard entry of x.
func (e *Engine) Decide(name string) (d Decision, ok bool) {
	key, en, ok := e.lookup(name)
	if !ok {
		return Decision{}, false
	}
	n, suffix := splitKey(key)
	return Decision{Name: n, Suffix: suffix, Action: e.action(en.rule)}, true
}

type expiryItem struct {
	at  int64
	key string
	src *source
}

type expiryHeap []expiryItem

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryItem)) }
func (h *expiryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// Observations returns the observations in force at now, one per source
// and list type, each name with the rest of its life (time_added now, ttl
// until it expires). Applied to an engine with the same lists, in any
// order, they give the decisions this engine has: a journal of
// observations can be compacted to them.
func (e *Engine) Observations(now time.Time) []Observation {
	t := now.Truncate(time.Second)
	bySrc := map[*source]*Observation{}
	for key, en := range e.entries {
		for _, c := range en.claims {
			if c.src.local || c.expires <= t.Unix() {
				continue
			}
			o := bySrc[c.src]
			if o == nil {
				o = &Observation{Type: "observation", SrcName: c.src.name, MsgType: "observation", ListType: c.src.kind, Timestamp: t}
				bySrc[c.src] = o
			}
			o.Added = append(o.Added, Added{Name: key, TimeAdded: t, TTL: c.expires - t.Unix(), TagMask: c.tags})
		}
	}
	out := make([]Observation, 0, len(bySrc))
	for _, o := range bySrc {
		slices.SortFunc(o.Added, func(a, b Added) int { return strings.Compare(a.Name, b.Name) })
		o.Removed = []Removed{}
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b Observation) int {
		if c := strings.Compare(a.SrcName, b.SrcName); c != 0 {
			return c
		}
		return strings.Compare(string(a.ListType), string(b.ListType))
	})
	return out
}
