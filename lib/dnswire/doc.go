// Package dnswire reads the few parts of a DNS message in wire format
// (RFC 1035 section 4) that tapir tools need for every message: the header
// and the first question. It allocates nothing, so that a filter can look at
// every message of a busy resolver; for anything more, unpack the message
// with github.com/miekg/dns.
package dnswire
