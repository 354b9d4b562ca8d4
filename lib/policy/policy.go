// Package policy is the decision engine of tapir-rpz: it turns the
// operator's allow, deny and doubt lists and the core's observations,
// through the operator's policy, into one action for each name of the
// Response Policy Zone.
//
// # The policy file
//
// A policy file is text, one rule a line. A '#' starts a comment, on a line
// of its own or after a rule; blank lines are ignored. A rule is
//
//	KIND [CONDITION…] action ACTION
//
// KIND is deny (denylist entries) or doubt (doubtlist entries). The
// conditions, all of which must hold for the rule to fire:
//
//	source=NAME      only entries from this source: a local list's name (its
//	                 file) or an observation's src_name; without it, every
//	                 source of that kind
//	sources>=N       at least N distinct sources (of the rule's kind, and the
//	                 rule's source if it names one) list the entry
//	tags>=N          the entry's tags, the union of the tag bits that those
//	                 sources give it, count at least N
//	tags-any=T[,T…]  the entry has at least one of these tags
//
// Tags are newname (1), highvolume (2), badip (4), cdntracker (8),
// likelymalware (16), likelybotnetcc (32), or a decimal bit mask for the
// reserved bits. Local lists give no tags. The actions:
//
//	nxdomain         NXDOMAIN (CNAME .)
//	nodata           NODATA (CNAME *.)
//	drop             no answer at all (CNAME rpz-drop.)
//	tcp-only         answer over TCP only (CNAME rpz-tcp-only.)
//	redirect:FQDN    answer for a walled garden (CNAME FQDN)
//	passthru         answer as if there were no policy (CNAME rpz-passthru.)
//
// An example:
//
//	# every denylist entry, local or from the core
//	deny action nxdomain
//	deny source=dns-tapir action drop
//	doubt sources>=2 action nxdomain
//	doubt tags>=3 action nodata
//	doubt tags-any=likelymalware,likelybotnetcc action drop
//
// A policy without any deny rule has the rule "deny action nxdomain"; a
// policy without doubt rules ignores doubtlists.
//
// # How a decision is made
//
// Each entry of a list or an observation is a name, or a suffix ("*.name",
// every strict subdomain of name); a name and its suffix are separate
// entries of the zone. For each entry, in this fixed order:
//
//  1. If an allowlist, local or from the core, has the entry itself, the
//     decision is PASSTHRU, whatever else names it. The zone carries it, so
//     that it also beats wider wildcards of the zone (RPZ prefers an exact
//     name to a wildcard, and a longer wildcard to a shorter one) and the
//     resolver's later zones.
//  2. If an allowlist has a suffix entry that covers the entry (for a name,
//     a strict parent; for "*.name", name or a parent of it), the entry has
//     no decision: the allowlist's PASSTHRU wildcard in the zone covers it.
//  3. Otherwise every deny rule, then every doubt rule, is evaluated; when
//     several fire, the most restrictive action wins, and among rules with
//     that action the first in the file. No rule firing: no decision.
//
// The order of restrictiveness, most first: drop > nxdomain > nodata >
// tcp-only > redirect > passthru. DROP gives the client nothing; NXDOMAIN
// denies the name and all its data; NODATA denies the data but admits the
// name; TCP-ONLY still answers, to a client that retries over TCP (it stops
// spoofed-source abuse, not the client); REDIRECT answers, with the walled
// garden's address, so the client reaches something; PASSTHRU lets the
// query through.
package policy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strconv"
	"strings"

	"github.com/tapir-edge/tapir/lib/dnsname"
)

// Kind is the kind of a list: the list_type of an observation.
type Kind string

// The kinds of list.
const (
	Allow Kind = "allowlist"
	Deny  Kind = "denylist"
	Doubt Kind = "doubtlist"
)

// Valid reports whether k is one of the three kinds.
func (k Kind) Valid() bool { return k == Allow || k == Deny || k == Doubt }

// ActionKind is an RPZ action, in order of restrictiveness: a greater
// value is more restrictive.
type ActionKind uint8

// The actions. None is no decision: the name is not in the zone.
const (
	None ActionKind = iota
	Passthru
	Redirect
	TCPOnly
	NoData
	NXDomain
	Drop
)

var actionNames = [...]string{None: "none", Passthru: "passthru", Redirect: "redirect",
	TCPOnly: "tcp-only", NoData: "nodata", NXDomain: "nxdomain", Drop: "drop"}

// Action is a decision for a name. The zero Action is no decision.
type Action struct {
	Kind ActionKind
	// Target is the walled-garden name of a Redirect: canonical, with a
	// trailing dot. Empty for the other kinds.
	Target string
}

// String returns the action as the policy file writes it.
func (a Action) String() string {
	if a.Kind == Redirect {
		return "redirect:" + a.Target
	}
	if int(a.Kind) < len(actionNames) {
		return actionNames[a.Kind]
	}
	return "ActionKind(" + strconv.Itoa(int(a.Kind)) + ")"
}

// CNAME returns the target of the RPZ record that carries the action:
// "." (NXDOMAIN), "*." (NODATA), "rpz-drop.", "rpz-tcp-only.",
// "rpz-passthru.", or the redirect's target; "" for None.
func (a Action) CNAME() string {
	switch a.Kind {
	case NXDomain:
		return "."
	case NoData:
		return "*."
	case Drop:
		return "rpz-drop."
	case TCPOnly:
		return "rpz-tcp-only."
	case Passthru:
		return "rpz-passthru."
	case Redirect:
		return a.Target
	}
	return ""
}

// ParseAction reads an action as the policy file writes it.
func ParseAction(s string) (Action, error) {
	if t, ok := strings.CutPrefix(s, "redirect:"); ok {
		name, suffix, err := dnsname.Canonical(t)
		if err != nil || suffix {
			if err == nil {
				err = errors.New("a wildcard")
			}
			return Action{}, fmt.Errorf("redirect target %q: %v", t, err)
		}
		return Action{Kind: Redirect, Target: name}, nil
	}
	for k, n := range actionNames {
		if n == s && ActionKind(k) != None && ActionKind(k) != Redirect {
			return Action{Kind: ActionKind(k)}, nil
		}
	}
	return Action{}, fmt.Errorf("unknown action %q: want nxdomain, nodata, drop, tcp-only, redirect:FQDN or passthru", s)
}

// Tag bits of an observation's tag_mask.
const (
	TagNewName        = 1
	TagHighVolume     = 2
	TagBadIP          = 4
	TagCDNTracker     = 8
	TagLikelyMalware  = 16
	TagLikelyBotnetCC = 32
)

var tagNames = []struct {
	name string
	bit  uint32
}{
	{"newname", TagNewName}, {"highvolume", TagHighVolume}, {"badip", TagBadIP},
	{"cdntracker", TagCDNTracker}, {"likelymalware", TagLikelyMalware}, {"likelybotnetcc", TagLikelyBotnetCC},
}

// TagString returns the tag names of mask, joined with commas; reserved
// bits are written as one decimal number.
func TagString(mask uint32) string {
	var s []string
	for _, t := range tagNames {
		if mask&t.bit != 0 {
			s = append(s, t.name)
			mask &^= t.bit
		}
	}
	if mask != 0 {
		s = append(s, strconv.FormatUint(uint64(mask), 10))
	}
	return strings.Join(s, ",")
}

func parseTags(s string) (uint32, error) {
	var m uint32
	for t := range strings.SplitSeq(s, ",") {
		found := false
		for _, n := range tagNames {
			if n.name == t {
				m |= n.bit
				found = true
			}
		}
		if found {
			continue
		}
		v, err := strconv.ParseUint(t, 10, 32)
		if err != nil || v == 0 {
			return 0, fmt.Errorf("unknown tag %q: want newname, highvolume, badip, cdntracker, likelymalware, likelybotnetcc or a bit mask", t)
		}
		m |= uint32(v)
	}
	return m, nil
}

// Rule is one rule of a policy.
type Rule struct {
	Kind       Kind   // Deny or Doubt
	Source     string // only entries from this source; "" for all
	MinSources int    // sources>=N; 0 if not given
	MinTags    int    // tags>=N; 0 if not given
	AnyTags    uint32 // tags-any; 0 if not given
	Action     Action
	File       string // where the rule was read
	Line       int    // 0 for a built-in rule
}

// String returns the rule as a policy file writes it.
func (r *Rule) String() string {
	var b strings.Builder
	if r.Kind == Deny {
		b.WriteString("deny")
	} else {
		b.WriteString("doubt")
	}
	if r.Source != "" {
		b.WriteString(" source=" + r.Source)
	}
	if r.MinSources > 0 {
		fmt.Fprintf(&b, " sources>=%d", r.MinSources)
	}
	if r.MinTags > 0 {
		fmt.Fprintf(&b, " tags>=%d", r.MinTags)
	}
	if r.AnyTags != 0 {
		b.WriteString(" tags-any=" + TagString(r.AnyTags))
	}
	b.WriteString(" action " + r.Action.String())
	return b.String()
}

// Where returns "file:line" of the rule, or "built-in".
func (r *Rule) Where() string {
	if r.Line == 0 {
		return "built-in"
	}
	return fmt.Sprintf("%s:%d", r.File, r.Line)
}

// fires reports whether the rule fires for an entry that these sources
// (names, distinct) list with the union of tags.
func (r *Rule) fires(sources int, tags uint32) bool {
	return sources > 0 && sources >= r.MinSources &&
		bits.OnesCount32(tags) >= r.MinTags &&
		(r.AnyTags == 0 || tags&r.AnyTags != 0)
}

// Policy is a parsed policy file.
type Policy struct {
	Rules []Rule
}

// DefaultPolicy returns the policy of an empty file: "deny action
// nxdomain".
func DefaultPolicy() *Policy { return &Policy{} }

// LoadPolicy reads the policy file at path.
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	return ParsePolicy(path, f)
}

// ParsePolicy reads a policy from r; name (a file name) is used in the
// errors. Every bad line is reported, each as "file:line: reason", joined
// into one error; a policy with a bad line is refused as a whole, since a
// half-read policy could block what the operator meant to let through.
func ParsePolicy(name string, r io.Reader) (*Policy, error) {
	p := &Policy{}
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		rule, err := parseRule(fields)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %v", name, line, err))
			continue
		}
		rule.File, rule.Line = name, line
		p.Rules = append(p.Rules, rule)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s:%d: %w", name, line+1, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func parseRule(f []string) (Rule, error) {
	var r Rule
	switch f[0] {
	case "deny":
		r.Kind = Deny
	case "doubt":
		r.Kind = Doubt
	case "allow":
		return r, errors.New("no allow rules: an allowlist entry always wins, without a rule")
	default:
		return r, fmt.Errorf("%q: a rule starts with deny or doubt", f[0])
	}
	seen := map[string]bool{}
	for i := 1; i < len(f); i++ {
		w := f[i]
		if w == "action" {
			if i+1 >= len(f) {
				return r, errors.New("action without an action")
			}
			if i+2 < len(f) {
				return r, fmt.Errorf("%q after the action", strings.Join(f[i+2:], " "))
			}
			a, err := ParseAction(f[i+1])
			if err != nil {
				return r, err
			}
			r.Action = a
			return r, nil
		}
		var key, val string
		var ok bool
		if key, val, ok = strings.Cut(w, ">="); ok {
			key += ">="
		} else if key, val, ok = strings.Cut(w, "="); !ok {
			return r, fmt.Errorf("%q: want source=NAME, sources>=N, tags>=N, tags-any=TAGS or action ACTION", w)
		}
		if seen[key] {
			return r, fmt.Errorf("%s given twice", strings.TrimRight(key, ">="))
		}
		seen[key] = true
		if val == "" {
			return r, fmt.Errorf("%q: no value", w)
		}
		switch key {
		case "source":
			r.Source = val
		case "sources>=", "tags>=":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 1000 {
				return r, fmt.Errorf("%q: want a number from 1 to 1000", w)
			}
			if key == "tags>=" {
				r.MinTags = n
			} else {
				r.MinSources = n
			}
		case "tags-any":
			m, err := parseTags(val)
			if err != nil {
				return r, err
			}
			r.AnyTags = m
		default:
			return r, fmt.Errorf("unknown condition %q: want source=, sources>=, tags>= or tags-any=", key)
		}
	}
	return r, errors.New("no action: a rule ends with \"action ACTION\"")
}
