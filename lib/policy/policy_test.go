package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/blocklist"
	"github.com/tapir-edge/tapir/lib/dnsname"
)

const examplePolicy = `# actions: nxdomain nodata drop passthru tcp-only redirect:FQDN
deny action nxdomain                      # every denylist entry
deny source=core.tapir action drop        # per source
doubt sources>=2 action nxdomain
doubt tags>=3 action nodata
doubt tags-any=likelymalware,likelybotnetcc action redirect:Walled.Example
doubt source=local-doubt action tcp-only
`

func mustPolicy(t testing.TB, text string) *Policy {
	t.Helper()
	p, err := ParsePolicy("policy.txt", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParsePolicy(t *testing.T) {
	p := mustPolicy(t, examplePolicy)
	want := []string{
		"deny action nxdomain",
		"deny source=core.tapir action drop",
		"doubt sources>=2 action nxdomain",
		"doubt tags>=3 action nodata",
		"doubt tags-any=likelymalware,likelybotnetcc action redirect:walled.example.",
		"doubt source=local-doubt action tcp-only",
	}
	if len(p.Rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(p.Rules), len(want))
	}
	for i, w := range want {
		if got := p.Rules[i].String(); got != w {
			t.Errorf("rule %d = %q, want %q", i, got, w)
		}
		// A rule's text reads back as itself.
		if q := mustPolicy(t, p.Rules[i].String()); q.Rules[0].String() != w {
			t.Errorf("rule %q reads back as %q", w, q.Rules[0].String())
		}
	}
	if p.Rules[1].Where() != "policy.txt:3" {
		t.Errorf("Where = %s", p.Rules[1].Where())
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"deny", "policy.txt:1: no action"},
		{"\nblock action drop", "policy.txt:2: \"block\""},
		{"allow action passthru", "policy.txt:1: no allow rules"},
		{"deny action nxdomain extra", "after the action"},
		{"deny action refuse", "unknown action"},
		{"deny action redirect:", "redirect target"},
		{"deny action redirect:*.x.example", "redirect target"},
		{"doubt tags>=0 action drop", "from 1 to 1000"},
		{"doubt sources>=x action drop", "from 1 to 1000"},
		{"doubt tags-any=evil action drop", "unknown tag"},
		{"doubt colour=red action drop", "unknown condition"},
		{"doubt source= action drop", "no value"},
		{"doubt source=a source=b action drop", "given twice"},
		{"doubt foo action drop", "want source=NAME"},
		{"deny action", "action without an action"},
	} {
		_, err := ParsePolicy("policy.txt", strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
	// Every bad line is reported.
	_, err := ParsePolicy("p", strings.NewReader("x\ndeny action drop\ny\n"))
	if err == nil || !strings.Contains(err.Error(), "p:1:") || !strings.Contains(err.Error(), "p:3:") {
		t.Errorf("two bad lines: %v", err)
	}
	if p := mustPolicy(t, "doubt tags-any=64,badip action drop"); p.Rules[0].AnyTags != 68 {
		t.Errorf("tags-any=64,badip = %d", p.Rules[0].AnyTags)
	}
}

func entries(names ...string) []blocklist.Entry {
	var es []blocklist.Entry
	for i, n := range names {
		name, suffix, err := dnsname.Canonical(n)
		if err != nil {
			panic(err)
		}
		es = append(es, blocklist.Entry{Name: name, Suffix: suffix, Line: i + 1})
	}
	return es
}

var t0 = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

func obs(src string, kind Kind, tags uint32, ttl int64, names ...string) Observation {
	o := Observation{SrcName: src, MsgType: "observation", ListType: kind}
	for _, n := range names {
		o.Added = append(o.Added, Added{Name: n, TimeAdded: t0, TTL: ttl, TagMask: tags})
	}
	if err := o.Validate(); err != nil {
		panic(err)
	}
	return o
}

func decided(t *testing.T, e *Engine, name string) string {
	t.Helper()
	d, ok := e.Decide(name)
	if !ok {
		return "none"
	}
	s := d.Action.String()
	if d.Suffix {
		s += " (*." + d.Name + ")"
	}
	return s
}

func TestRules(t *testing.T) {
	e := New(mustPolicy(t, examplePolicy))
	e.SetList(Deny, "deny.txt", entries("bad.example", "*.ads.example", "both.example", "under.allowed.example", "allowed-exact.example"))
	e.SetList(Allow, "allow.txt", entries("both.example", "*.allowed.example", "allowed-exact.example"))
	e.Apply(obs("core.tapir", Deny, 0, 3600, "core-bad.example", "bad.example"), t0)
	e.Apply(obs("core.tapir", Doubt, TagNewName, 3600, "two.example", "tags.example"), t0)
	e.Apply(obs("other", Doubt, TagHighVolume|TagBadIP, 3600, "two.example", "tags.example"), t0)
	e.Apply(obs("other", Doubt, TagLikelyMalware, 3600, "malware.example", "tags2.example"), t0)
	e.Apply(obs("core.tapir", Allow, 0, 3600, "*.core-allowed.example"), t0)
	e.Apply(obs("core.tapir", Deny, 0, 3600, "x.core-allowed.example", "*.core-allowed.example"), t0)
	e.SetList(Doubt, "local-doubt", entries("local-doubt.example"))
	e.SetList(Doubt, "other", entries("two.example")) // a local list of the same name counts once

	for _, tc := range []struct{ name, want string }{
		{"bad.example", "drop"},      // local nxdomain, core.tapir drop: drop
		{"BAD.example.", "drop"},     // any case, trailing dot
		{"core-bad.example", "drop"}, // per source
		{"www.ads.example", "nxdomain (*.ads.example.)"},
		{"ads.example", "none"},                                    // a suffix is strict
		{"both.example", "passthru"},                               // allow beats deny, same entry
		{"under.allowed.example", "passthru (*.allowed.example.)"}, // allow suffix covers the deny
		{"allowed.example", "none"},
		{"allowed-exact.example", "passthru"},
		{"x.core-allowed.example", "passthru (*.core-allowed.example.)"}, // allow from the core
		{"two.example", "nxdomain"},                                      // sources>=2 (tags only 3 with "other": newname|highvolume|badip → nodata also fires)
		{"tags.example", "nxdomain"},                                     // 2 sources too
		{"malware.example", "redirect:walled.example."},
		{"tags2.example", "redirect:walled.example."},
		{"local-doubt.example", "tcp-only"},
		{"unlisted.example", "none"},
	} {
		if got := decided(t, e, tc.name); got != tc.want {
			t.Errorf("%s: %s, want %s\n%s", tc.name, got, tc.want, e.Explain(tc.name))
		}
	}
	ex := e.Explain("bad.example")
	for _, w := range []string{"drop", `rule "deny source=core.tapir action drop" (policy.txt:3)`,
		"also fired: rule \"deny action nxdomain\" (policy.txt:2)", "deny.txt (local list, line 1)", "core.tapir (observation"} {
		if !strings.Contains(ex, w) {
			t.Errorf("Explain(bad.example) lacks %q:\n%s", w, ex)
		}
	}
	ex = e.Explain("under.allowed.example")
	if !strings.Contains(ex, "allowlist entry, which always wins") {
		t.Errorf("Explain(under.allowed.example):\n%s", ex)
	}
	ex = e.Explain("allowed.example")
	if !strings.Contains(ex, "no decision") {
		t.Errorf("Explain(allowed.example):\n%s", ex)
	}
}

func TestTagsRule(t *testing.T) {
	e := New(mustPolicy(t, "doubt tags>=3 action nodata\ndoubt tags>=2 action tcp-only\n"))
	e.Apply(obs("a", Doubt, TagNewName|TagBadIP, 60, "x.example"), t0)
	if got := decided(t, e, "x.example"); got != "tcp-only" {
		t.Fatalf("2 tags: %s", got)
	}
	ch := e.Apply(obs("b", Doubt, TagCDNTracker, 60, "x.example"), t0)
	if got := decided(t, e, "x.example"); got != "nodata" {
		t.Fatalf("3 tags from 2 sources: %s", got)
	}
	if len(ch) != 1 || ch[0] != (Change{Name: "x.example.", Old: Action{Kind: TCPOnly}, New: Action{Kind: NoData}}) {
		t.Fatalf("changes %+v", ch)
	}
	// Default deny rule, and no doubt rule for a single tag.
	e.SetList(Deny, "d", entries("d.example"))
	if got := decided(t, e, "d.example"); got != "nxdomain" {
		t.Fatalf("built-in deny rule: %s", got)
	}
}

func TestAllowIncremental(t *testing.T) {
	e := New(nil)
	e.SetList(Deny, "deny", entries("a.x.example", "*.x.example", "x.example"))
	ch := e.Apply(obs("core", Allow, 0, 60, "*.x.example"), t0)
	// The deny wildcard becomes the allow's passthru; a.x.example leaves
	// the zone; x.example stays.
	want := []Change{
		{Name: "a.x.example.", Old: Action{Kind: NXDomain}},
		{Name: "x.example.", Suffix: true, Old: Action{Kind: NXDomain}, New: Action{Kind: Passthru}},
	}
	if !equalChanges(ch, want) {
		t.Fatalf("allow added: %+v", ch)
	}
	if early := e.Expire(t0.Add(59 * time.Second)); early != nil {
		t.Fatalf("expired early: %v", early)
	}
	names := e.Expire(t0.Add(60 * time.Second))
	if strings.Join(names, " ") != "a.x.example. *.x.example." {
		t.Fatalf("expiry: %v", names)
	}
	if got := decided(t, e, "a.x.example"); got != "nxdomain" {
		t.Fatalf("after expiry: %s", got)
	}
	if _, ok := e.NextExpiry(); ok {
		t.Fatal("an expiry left")
	}
}

func TestObservationRenewAndRemove(t *testing.T) {
	e := New(nil)
	e.Apply(obs("core", Deny, 0, 60, "r.example"), t0)
	e.Apply(Observation{SrcName: "core", ListType: Deny, Added: []Added{{Name: "r.example.", TimeAdded: t0, TTL: 120}}}, t0)
	if ch := e.ExpireChanges(t0.Add(90 * time.Second)); len(ch) != 0 {
		t.Fatalf("renewed entry expired: %+v", ch)
	}
	ch := e.Apply(Observation{SrcName: "core", ListType: Deny, Removed: []Removed{{Name: "r.example."}}}, t0)
	if len(ch) != 1 || ch[0].New.Kind != None {
		t.Fatalf("removal: %+v", ch)
	}
	// An entry that has expired already is not added.
	if ch := e.Apply(obs("core", Deny, 0, 10, "old.example"), t0.Add(time.Hour)); len(ch) != 0 {
		t.Fatalf("expired add: %+v", ch)
	}
	if e.Len() != 0 {
		t.Fatalf("%d entries left", e.Len())
	}
}

func TestSetListReplace(t *testing.T) {
	e := New(nil)
	e.SetList(Deny, "d", entries("a.example", "b.example"))
	ch := e.SetList(Deny, "d", entries("b.example", "c.example"))
	want := []Change{
		{Name: "a.example.", Old: Action{Kind: NXDomain}},
		{Name: "c.example.", New: Action{Kind: NXDomain}},
	}
	if !equalChanges(ch, want) {
		t.Fatalf("replace: %+v", ch)
	}
	e.SetList(Deny, "d", nil)
	if e.Len() != 0 || len(e.lists) != 0 || len(e.sources) != 0 {
		t.Fatalf("empty list left %d entries", e.Len())
	}
}

func TestActionCNAME(t *testing.T) {
	for _, tc := range []struct {
		a    Action
		want string
	}{
		{Action{Kind: NXDomain}, "."}, {Action{Kind: NoData}, "*."}, {Action{Kind: Drop}, "rpz-drop."},
		{Action{Kind: TCPOnly}, "rpz-tcp-only."}, {Action{Kind: Passthru}, "rpz-passthru."},
		{Action{Kind: Redirect, Target: "w.example."}, "w.example."}, {Action{}, ""},
	} {
		if got := tc.a.CNAME(); got != tc.want {
			t.Errorf("%v: %q", tc.a, got)
		}
	}
}

func equalChanges(a, b []Change) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
