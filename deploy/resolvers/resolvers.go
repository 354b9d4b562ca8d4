// Package resolvers holds the resolver configuration the manual gives: one
// file per resolver and purpose, embedded here so that the man pages print
// these very files and the tests start real resolvers with them. The
// package installs them in /usr/share/doc/tapir-toolkit/resolvers.
//
// The files use fixed addresses and paths (the constants below), those of
// the systemd units; a test, like an operator with another layout, puts
// its own in their place with [Vars.Fill].
package resolvers

import (
	"embed"
	"fmt"
	"strings"
)

//go:embed *.conf *.lua
var files embed.FS

// The addresses and paths the files use.
const (
	Socket      = "/run/tapir/dnstap.sock" // tapir-listen.socket
	TCPHost     = "192.0.2.53"             // a tapir-listen -l on another machine
	TCPPort     = "6000"
	PrimaryHost = "127.0.0.1" // tapir-rpz serve --listen
	PrimaryPort = "5353"
	ZoneFile    = "/var/lib/tapir-zone/rpz.zone" // tapir-rpz --zone-file
)

// A Snippet is one file, with the sentence that introduces it.
type Snippet struct {
	File  string
	Title string
}

// Dnstap is how each resolver sends dnstap to tapir-listen.
var Dnstap = []Snippet{
	{"unbound-dnstap.conf", "Unbound (unbound.conf), on the same machine:"},
	{"unbound-dnstap-tcp.conf", "Unbound on another machine, to tapir-listen -l 192.0.2.53:6000 (use --tls, and dnstap-tls: yes, across networks you do not trust):"},
	{"bind-dnstap.conf", "BIND (named.conf, inside options { }):"},
	{"knot-dnstap.conf", "Knot Resolver (kresd.conf):"},
	{"pdns-recursor-dnstap.lua", "PowerDNS Recursor (lua-config-file); its dnstap holds only the queries it sends out and the answers it gets, not its clients' (dnsdist in front can log those):"},
	{"dnsdist-dnstap.lua", "dnsdist, in front of any resolver (dnsdist.conf):"},
}

// RPZ is how each resolver takes the zone from tapir-rpz serve.
var RPZ = []Snippet{
	{"unbound-rpz.conf", "Unbound (unbound.conf):"},
	{"bind-rpz-options.conf", "BIND (named.conf), inside options { }:"},
	{"bind-rpz-zone.conf", "and beside options:"},
	{"knot-rpz.conf", "Knot Resolver (kresd.conf) reads the zone from a file, which tapir-rpz serve --zone-file /var/lib/tapir-zone/rpz.zone keeps current; kresd rereads the file when it changes, with no restart. It does not start without the file, or without the package lua-cqueues (which the watch needs), and it ignores redirect rules:"},
	{"pdns-recursor-rpz.lua", "PowerDNS Recursor (lua-config-file):"},
}

// Monitor is how each resolver logs what the zone would block, and blocks
// nothing (the resolver's side of monitor mode; tapir-rpz --monitor is
// the zone's).
var Monitor = []Snippet{
	{"unbound-monitor.conf", "Unbound, in place of its file above:"},
	{"bind-monitor.conf", "BIND, inside options { } in place of the response-policy above:"},
	{"knot-monitor.conf", "Knot Resolver, in place of its file above; it logs each rule it would apply, but never a PASSTHRU rule, so give it the zone without --monitor:"},
	{"pdns-recursor-monitor.lua", "PowerDNS Recursor, in place of its file above; it logs no line for a hit, but counts it (rec_control get policy-result-noaction):"},
}

// Text is the file's content. It panics if there is no such file, which
// is a bug that the package's tests catch.
func Text(file string) string {
	b, err := files.ReadFile(file)
	if err != nil {
		panic(fmt.Sprintf("resolvers: %v", err))
	}
	return string(b)
}

// Section is the snippets as man page text: each title, then its file
// indented (shown verbatim).
func Section(intro string, snippets []Snippet) string {
	var b strings.Builder
	b.WriteString(intro)
	for _, s := range snippets {
		b.WriteString("\n\n")
		b.WriteString(s.Title)
		b.WriteString("\n\n")
		for _, l := range strings.Split(strings.TrimRight(Text(s.File), "\n"), "\n") {
			b.WriteString(" ")
			b.WriteString(l)
			b.WriteString("\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// Vars are the addresses and paths to use in place of the constants; an
// empty one leaves its constant alone.
type Vars struct {
	Socket      string
	TCPHost     string
	TCPPort     string
	PrimaryHost string
	PrimaryPort string
	ZoneFile    string
}

// Fill is text with v's addresses and paths in place of the constants.
func (v Vars) Fill(text string) string {
	var pairs []string
	for _, p := range [][2]string{
		{Socket, v.Socket}, {TCPHost, v.TCPHost}, {TCPPort, v.TCPPort},
		{PrimaryHost, v.PrimaryHost}, {PrimaryPort, v.PrimaryPort}, {ZoneFile, v.ZoneFile},
	} {
		if p[1] != "" {
			pairs = append(pairs, p[0], p[1])
		}
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// Fill reads file and fills it in with v.
func Fill(file string, v Vars) string { return v.Fill(Text(file)) }
