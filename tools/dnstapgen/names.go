package main

import (
	"math/rand/v2"
	"strings"
)

// popular is a built-in list of plausible, widely queried registered
// domains, most popular first. The generator builds its popularity list of
// names from these, their usual subdomains, random subdomains and made-up
// domains.
var popular = strings.Fields(`
google.com googleapis.com gstatic.com youtube.com facebook.com apple.com
microsoft.com amazonaws.com icloud.com akamaiedge.net doubleclick.net
instagram.com whatsapp.net cloudflare.com windowsupdate.com netflix.com
googlevideo.com office.com live.com msn.com bing.com amazon.com
tiktokcdn.com fbcdn.net twitter.com linkedin.com spotify.com yahoo.com
wikipedia.org github.com azure.com cloudfront.net akamai.net fastly.net
googletagmanager.com google-analytics.com googlesyndication.com
skype.com zoom.us slack.com dropbox.com adobe.com samsung.com
snapchat.com reddit.com pinterest.com ebay.com paypal.com twitch.tv
discord.com steamcontent.com xboxlive.com playstation.net nintendo.net
mozilla.org ubuntu.com debian.org cloudflare-dns.com digicert.com
letsencrypt.org sentry.io segment.io hotjar.com criteo.com
adnxs.com rubiconproject.com pubmatic.com taboola.com outbrain.com
bbc.co.uk theguardian.com nytimes.com cnn.com spiegel.de svt.se
aftonbladet.se dn.se expressen.se blocket.se bankid.com swish.nu
nordea.se seb.se handelsbanken.se swedbank.se klarna.com telia.se
tele2.se ica.se systembolaget.se skatteverket.se 1177.se postnord.se
sj.se polisen.se riksdagen.se krisinformation.se smhi.se
dnstapir.se sunet.se internetstiftelsen.se kth.se su.se uu.se lu.se
heise.de zalando.de bund.de gmx.net web.de t-online.de
lemonde.fr orange.fr free.fr leboncoin.fr nu.nl bol.com ing.nl
yle.fi iltalehti.fi dr.dk nrk.no vg.no finn.no
booking.com airbnb.com tripadvisor.com ryanair.com sas.se
stackoverflow.com medium.com wordpress.com wp.com tumblr.com
shopify.com salesforce.com hubspot.com zendesk.com atlassian.net
office365.com outlook.com sharepoint.com onedrive.com
`)

// prefixes are the usual first labels of names under a registered domain.
var prefixes = strings.Fields(`
www www api cdn static img images m mail login accounts auth ads
edge video assets app apps news s graph clients update updates push
connect play store media files secure id shop portal status metrics
`)

// The made-up registered domains are an adjective and a noun under a TLD.
var (
	adjectives = strings.Fields(`
blue red green quick bright silent north south little big happy clever
golden silver open smart swift urban nordic coastal rapid simple
`)
	nouns = strings.Fields(`
fox river cloud forest bridge harbor pixel rocket garden island
market studio signal beacon summit valley lantern anchor meadow orbit
`)
	tlds = strings.Fields(`com net org se de nl fr io co.uk eu info dk no fi`)
)

// cdnHosts are the targets of CNAME records: content delivery networks.
var cdnHosts = strings.Fields(`
edgekey.net akamaiedge.net cloudfront.net fastly.net azureedge.net
cdn.cloudflare.net edgesuite.net trafficmanager.net
`)

// labelChars are the characters of random labels.
const labelChars = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomLabel appends a random label of n characters to b.
func randomLabel(b []byte, r *rand.Rand, n int) []byte {
	for range n {
		b = append(b, labelChars[r.IntN(len(labelChars))])
	}
	return b
}

// madeUpDomain returns a registered domain such as "quickfox.se".
func madeUpDomain(r *rand.Rand) string {
	return adjectives[r.IntN(len(adjectives))] + nouns[r.IntN(len(nouns))] + "." + tlds[r.IntN(len(tlds))]
}

// nameList returns n distinct fully qualified names, most popular first:
// the built-in domains (chosen with a Zipf-like preference for the top of
// the list), their usual and random subdomains, and made-up domains.
func nameList(r *rand.Rand, n int) []string {
	pop := newZipf(len(popular), 1.0)
	seen := make(map[string]bool, n)
	names := make([]string, 0, n)
	for len(names) < n {
		var base string
		if r.Float64() < 0.8 {
			base = popular[pop.pick(r)]
		} else {
			base = madeUpDomain(r)
		}
		var name string
		switch p := r.Float64(); {
		case p < 0.35:
			name = base
		case p < 0.85:
			name = prefixes[r.IntN(len(prefixes))] + "." + base
		default:
			name = string(randomLabel(nil, r, 6+r.IntN(8))) + "." + base
		}
		name += "."
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// registered returns the registered domain (the zone) of a fully qualified
// name: its last two labels, or three under a two-letter TLD with a
// second-level "co" or "com" (co.uk), or the /24 or /32 zone of a reverse
// name.
func registered(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	n := len(labels)
	k := 2
	switch {
	case strings.HasSuffix(name, ".in-addr.arpa."):
		k = 5 // a /24: 2.0.192.in-addr.arpa.
	case strings.HasSuffix(name, ".ip6.arpa."):
		k = 10 // a /32: 8.b.d.0.1.0.0.2.ip6.arpa.
	case n >= 3 && len(labels[n-1]) == 2 && (labels[n-2] == "co" || labels[n-2] == "com"):
		k = 3
	}
	if len(labels) < k {
		k = len(labels)
	}
	return strings.Join(labels[len(labels)-k:], ".") + "."
}

// tld returns the last label of a fully qualified name, with its dot.
func tld(name string) string {
	s := strings.TrimSuffix(name, ".")
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return s + "."
}
