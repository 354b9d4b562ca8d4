package policy_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/tapir-edge/tapir/lib/blocklist"
	"github.com/tapir-edge/tapir/lib/policy"
)

func Example() {
	pol, err := policy.ParsePolicy("policy.conf", strings.NewReader(`
deny action nxdomain
doubt tags-any=likelymalware action drop
`))
	if err != nil {
		panic(err)
	}
	e := policy.New(pol)

	deny, bad, _ := blocklist.Parse("deny.txt", strings.NewReader("ads.example\n*.tracker.example\n"), blocklist.Auto)
	allow, _, _ := blocklist.Parse("allow.txt", strings.NewReader("ok.tracker.example\n"), blocklist.Plain)
	fmt.Println(len(bad), "bad lines")
	e.SetList(policy.Deny, "deny.txt", deny)
	e.SetList(policy.Allow, "allow.txt", allow)

	o, err := policy.DecodeObservation([]byte(`{"type":"observation","src_name":"dns-tapir","msg_type":"observation",
		"list_type":"doubtlist","added":[{"name":"evil.example","time_added":"2026-05-01T09:00:00Z","ttl":3600,"tag_mask":16}]}`))
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range e.Apply(o, now) {
		fmt.Printf("change %s: %v -> %v\n", c.Name, c.Old, c.New)
	}
	for _, d := range e.Decisions() {
		name := d.Name
		if d.Suffix {
			name = "*." + name
		}
		fmt.Printf("%s CNAME %s\n", name, d.Action.CNAME())
	}
	fmt.Println(e.Expire(now.Add(time.Hour)))
	// Output:
	// 0 bad lines
	// change evil.example.: none -> drop
	// ads.example. CNAME .
	// evil.example. CNAME rpz-drop.
	// ok.tracker.example. CNAME rpz-passthru.
	// *.tracker.example. CNAME .
	// [evil.example.]
}
