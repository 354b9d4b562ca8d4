package rpzzone

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

func rule(name string, suffix bool, a Action, target string) *Rule {
	return &Rule{Name: name, Suffix: suffix, Action: a, Target: target}
}

func add(r *Rule) Change { return Change{Name: r.Name, Suffix: r.Suffix, New: r} }
func del(r *Rule) Change { return Change{Name: r.Name, Suffix: r.Suffix, Old: r} }

func fixedNow(unix int64) func() time.Time {
	return func() time.Time { return time.Unix(unix, 0) }
}

// allActions is a rule of every kind.
func allActions() []Change {
	return []Change{
		add(rule("nx.example.com.", false, NXDOMAIN, "")),
		add(rule("nx.example.com.", true, NXDOMAIN, "")),
		add(rule("nodata.example.com.", false, NODATA, "")),
		add(rule("drop.example.net.", true, DROP, "")),
		add(rule("pass.example.org.", false, PASSTHRU, "")),
		add(rule("tcp.example.org.", false, TCPONLY, "")),
		add(rule("redir.example.com.", false, REDIRECT, "walled.garden.example.")),
	}
}

func TestWriteTo(t *testing.T) {
	z, err := Open("", Options{Now: fixedNow(1000)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := z.Apply(allActions())
	if err != nil {
		t.Fatal(err)
	}
	if s != 1001 {
		t.Fatalf("serial %d, want 1001", s)
	}
	var b bytes.Buffer
	if _, err := z.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	want := `$ORIGIN rpz.tapir.
$TTL 60
@	SOA	localhost. hostmaster.localhost. 1001 3600 600 864000 60
@	NS	localhost.
drop.example.net	CNAME	rpz-drop.
nodata.example.com	CNAME	*.
nx.example.com	CNAME	.
*.nx.example.com	CNAME	.
pass.example.org	CNAME	rpz-passthru.
redir.example.com	CNAME	walled.garden.example.
tcp.example.org	CNAME	rpz-tcp-only.
`
	// drop.example.net is a suffix rule.
	want = strings.Replace(want, "drop.example.net\t", "*.drop.example.net\t", 1)
	if got := b.String(); got != want {
		t.Fatalf("zone:\n%s\nwant:\n%s", got, want)
	}
	// Deterministic.
	var b2 bytes.Buffer
	z.WriteTo(&b2)
	if b2.String() != b.String() {
		t.Fatal("two writes differ")
	}
}

func TestNamedCheckzone(t *testing.T) {
	checkzone := tooltest.Need(t, "named-checkzone")
	z, err := Open("", Options{Origin: "rpz.test.example."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Apply(allActions()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rpz.zone")
	if err := z.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(checkzone, "rpz.test.example.", path).CombinedOutput()
	if err != nil {
		t.Fatalf("named-checkzone: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "OK") {
		t.Fatalf("named-checkzone: %s", out)
	}
	t.Logf("named-checkzone: %s", strings.TrimSpace(string(out)))
}

// TestNamedCheckconfRPZ has BIND's named-checkconf -z load the zone as a
// response-policy zone (the same configuration and zone loading code as
// named). Starting named itself is not tested: it is not installed here.
func TestNamedCheckconfRPZ(t *testing.T) {
	checkconf := tooltest.Need(t, "named-checkconf")
	dir := t.TempDir()
	z, _ := Open("", Options{})
	if _, err := z.Apply(allActions()); err != nil {
		t.Fatal(err)
	}
	zf := filepath.Join(dir, "rpz.zone")
	if err := z.WriteFile(zf); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(conf, []byte(`options { directory "`+dir+`"; response-policy { zone "rpz.tapir"; }; };
zone "rpz.tapir" { type primary; file "`+zf+`"; };
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(checkconf, "-z", conf).CombinedOutput()
	if err != nil {
		t.Fatalf("named-checkconf -z: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "rpz.tapir/IN: loaded serial") {
		t.Fatalf("named-checkconf -z: %s", out)
	}
	t.Logf("named-checkconf -z: %s", strings.TrimSpace(string(out)))
}

func TestApplyRules(t *testing.T) {
	z, _ := Open("", Options{Now: fixedNow(5)})
	a := rule("a.example.", false, NXDOMAIN, "")
	s1, err := z.Apply([]Change{add(a)})
	if err != nil || s1 != 6 {
		t.Fatalf("Apply: %d %v", s1, err)
	}
	// Nothing changes: no new serial.
	if s, err := z.Apply([]Change{{Name: a.Name, Old: a, New: a}}); err != nil || s != s1 {
		t.Fatalf("no-op Apply: %d %v", s, err)
	}
	// Old must match.
	if _, err := z.Apply([]Change{add(a)}); !errors.Is(err, ErrConflict) {
		t.Fatalf("adding twice: %v", err)
	}
	b := rule("a.example.", false, DROP, "")
	if _, err := z.Apply([]Change{{Name: a.Name, Old: rule("a.example.", false, NODATA, ""), New: b}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("wrong old: %v", err)
	}
	// All or nothing.
	c := rule("c.example.", false, DROP, "")
	if _, err := z.Apply([]Change{add(c), add(a)}); err == nil {
		t.Fatal("conflicting call accepted")
	}
	if _, ok := z.Rule("c.example.", false); ok {
		t.Fatal("partial Apply")
	}
	for _, bad := range []Change{
		add(rule("Upper.example.", false, DROP, "")),
		add(rule("noDot", false, DROP, "")),
		add(rule("r.example.", false, REDIRECT, "")),
		add(rule("r.example.", false, REDIRECT, "not-fqdn")),
		add(rule("r.example.", false, DROP, "x.example.")),
		add(rule("r.example.", false, Action(42), "")),
		{Name: "r.example.", New: rule("other.example.", false, DROP, "")},
	} {
		if _, err := z.Apply([]Change{bad}); err == nil {
			t.Errorf("accepted %+v", bad.New)
		}
	}
	s2, err := z.Apply([]Change{{Name: a.Name, Old: a, New: b}, del(b)})
	if err == nil {
		t.Fatalf("same name twice accepted: %d", s2)
	}
	s2, err = z.Apply([]Change{{Name: a.Name, Old: a, New: b}})
	if err != nil || s2 != s1+1 {
		t.Fatalf("modify: %d %v", s2, err)
	}
	if r, _ := z.Rule("a.example.", false); r != *b {
		t.Fatalf("rule %+v", r)
	}
}

func TestSerialWraps(t *testing.T) {
	z, _ := Open(t.TempDir(), Options{Now: fixedNow(0xFFFFFFFE)})
	var last uint32 = z.Serial()
	for i := range 4 {
		r := rule("w.example.", false, Action(i%2), "")
		var old *Rule
		if i > 0 {
			old = rule("w.example.", false, Action((i-1)%2), "")
		}
		s, err := z.Apply([]Change{{Name: r.Name, Old: old, New: r}})
		if err != nil {
			t.Fatal(err)
		}
		if !serialLess(last, s) {
			t.Fatalf("serial %d does not follow %d", s, last)
		}
		last = s
	}
	if last != 2 {
		t.Fatalf("serial %d after wrapping, want 2", last)
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	z, err := Open(dir, Options{Now: fixedNow(100), JournalSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	var serials []uint32
	for i := range 7 {
		r := rule(string(rune('a'+i))+".example.", i%2 == 0, DROP, "")
		s, err := z.Apply([]Change{add(r)})
		if err != nil {
			t.Fatal(err)
		}
		serials = append(serials, s)
	}
	want := z.Rules()
	last := z.Serial()

	// "Crash": open the state again without closing anything.
	z2, err := Open(dir, Options{Now: fixedNow(1), JournalSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if z2.Serial() != last {
		t.Fatalf("reopened at serial %d, want %d", z2.Serial(), last)
	}
	if got := z2.Rules(); !equalRules(got, want) {
		t.Fatalf("rules after reopening:\n%v\nwant\n%v", got, want)
	}
	// The journal survives: IXFR from the last 4 serials.
	z2.mu.RLock()
	for _, from := range serials[2:6] {
		if z2.diffLocked(from) == nil {
			t.Errorf("no IXFR from %d after reopening", from)
		}
	}
	if z2.diffLocked(serials[0]) != nil {
		t.Errorf("IXFR from %d, older than the journal", serials[0])
	}
	z2.mu.RUnlock()
	s, err := z2.Apply([]Change{add(rule("z.example.", false, NXDOMAIN, ""))})
	if err != nil || !serialLess(last, s) {
		t.Fatalf("next serial %d after %d: %v", s, last, err)
	}

	// A crash after the serial was written but before the change was
	// journaled: the next serial is still past the one handed out.
	handedOut := s + 1
	if err := os.WriteFile(filepath.Join(dir, "serial"), []byte(itoa(handedOut)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	z3, err := Open(dir, Options{JournalSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !serialLess(handedOut, z3.Serial()) {
		t.Fatalf("serial %d after a lost change at %d", z3.Serial(), handedOut)
	}
	if _, ok := z3.Rule("z.example.", false); !ok {
		t.Fatal("lost a journaled rule")
	}
	z3.mu.RLock()
	if z3.diffLocked(s) != nil {
		t.Error("IXFR across a lost serial")
	}
	z3.mu.RUnlock()
	s4, err := z3.Apply([]Change{del(rule("z.example.", false, NXDOMAIN, ""))})
	if err != nil || !serialLess(z3.Serial()-1, s4) {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "journal", "*.j"))
	if len(files) > 4 {
		t.Errorf("%d journal files, want at most 4", len(files))
	}
}

func itoa(v uint32) string {
	var b [10]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

func equalRules(a, b []Rule) bool {
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
