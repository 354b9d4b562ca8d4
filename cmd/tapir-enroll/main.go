// Command tapir-enroll enrolls an edge node with the DNS TAPIR node
// manager and keeps its certificate valid.
package main

import (
	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/enroll"
)

//go:generate go run -tags docs .

func main() { tool.Main(app(), manual) }

// flags are those of every command; each command takes its own, and any
// of them may also come before the command name.
func flags() []cli.Flag {
	fs := []cli.Flag{
		&cli.StringFlag{Name: "node", Aliases: []string{"n"}, Usage: "the node directory `DIR` (keys, certificates, node.json)", TakesFile: true},
		&cli.StringFlag{Name: "nodeman-ca", Usage: "trust the node manager's TLS certificate if it chains to a CA in `FILE` (PEM), instead of the system's CAs", TakesFile: true},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the request (URL, JWS, CSR) on stdout instead of sending it; write nothing"},
		&cli.DurationFlag{Name: "lifetime", Usage: "ask for a certificate valid for `DURATION`", DefaultText: "the node manager's"},

		&cli.StringFlag{Name: "credentials", Aliases: []string{"c"}, Usage: "the enrollment credentials `FILE` from the node manager (JSON, mode 0600)", Category: "Enroll", TakesFile: true},
		&cli.StringFlag{Name: "data-key-type", Value: enroll.KeyEd25519, Usage: "data key `TYPE`: ed25519 or p256", Category: "Enroll"},
		&cli.BoolFlag{Name: "keep-credentials", Usage: "do not remove the credentials file after enrolling", Category: "Enroll"},

		&cli.BoolFlag{Name: "if-needed", Usage: "renew only when two thirds of the certificate's lifetime have passed", Category: "Renew"},
		&cli.BoolFlag{Name: "reuse-key", Usage: "keep the TLS key instead of making a fresh one", Category: "Renew"},
		&cli.StringFlag{Name: "reload-command", Usage: "after a renewal, run `COMMAND` with /bin/sh, for programs other than the tapir tools that use the certificate", Category: "Renew"},

		&cli.BoolFlag{Name: "json", Usage: "print the status as JSON", Category: "Status"},
	}
	return fs
}

// pick returns fresh flags: the common ones and those of category cat.
func pick(cat string) []cli.Flag {
	var out []cli.Flag
	for _, f := range flags() {
		c := f.(cli.CategorizableFlag).GetCategory()
		if c == "" || c == cat {
			out = append(out, f)
		}
	}
	return out
}

func app() *cli.App {
	return &cli.App{
		Name:  "tapir-enroll",
		Usage: "enroll a node with the DNS TAPIR node manager and renew its certificate",
		UsageText: `tapir-enroll enroll --credentials FILE --node DIR [options]
tapir-enroll renew --node DIR [--if-needed] [--reload-command COMMAND] [options]
tapir-enroll status --node DIR [--json]`,
		Description: `tapir-enroll turns the enrollment credentials that the DNS TAPIR core
issues for a node into a working node directory, and keeps the node's
certificate valid. The other tools read the directory with --node DIR.

enroll: generates the node's data key (Ed25519, or ECDSA P-256 with
--data-key-type p256), which signs what the node sends to the core, and its
TLS key (ECDSA P-256), and writes both (mode 0600) before anything is sent.
It then sends the node manager a request signed twice, by the enrollment
key of the credentials file and by the new data key, with the data key's
public half and a certificate signing request for the TLS key. From the
answer it writes the certificate, the CA certificate, the core's trusted
keys and node.json, last. It then removes the credentials file, whose key
the node manager accepts only once (--keep-credentials keeps it).

Run again after a success, enroll does nothing and says so. Run again after
it was interrupted, it uses the keys it wrote; if the node manager says the
node is already enrolled (the answer was lost), it checks that the node
manager holds the local data key and fetches the configuration and a
certificate, instead of failing.

renew: asks for a new certificate, signed by the data key, with a fresh TLS
key (or the same with --reuse-key); with --if-needed only once two thirds
of the current certificate's lifetime have passed, so it can run hourly
from a timer. The new certificate must be for the new key and chain to the
CA before it replaces the old one. tapir-send and tapir-observe need
no reload: each new connection uses the certificate the node directory
holds then. --reload-command runs a command after a renewal, for other
programs that use the certificate.

status: prints the node's name, core URLs, and the certificate's validity
and time to expiry; with --json as JSON. Its exit code says whether
renewal is due (6) or the certificate has expired (7).

Options may be given before or after the command name (the Diagnostics
options only before it). A clock that
differs by more than 60 s from the node manager's (its Date header) is
warned about: it refuses requests more than 300 s old.`,
		Flags:  flags(),
		Action: noCommand,
		Commands: []*cli.Command{
			{Name: "enroll", Usage: "enroll the node with a credentials file", Flags: pick("Enroll"), Action: enrollAction},
			{Name: "renew", Usage: "renew the node's certificate", Flags: pick("Renew"), Action: renewAction},
			{Name: "status", Usage: "show the node and its certificate", Flags: pick("Status"), Action: statusAction},
		},
	}
}

var manual = tool.Manual{
	Examples: []tool.Example{
		{Text: "Enroll with the credentials file the core sent:",
			Command: "tapir-enroll enroll -c /etc/tapir/edge-17.credentials.json -n /var/lib/tapir/node"},
		{Text: "See what would be sent, without sending it:",
			Command: "tapir-enroll enroll -c edge-17.credentials.json -n /tmp/node --dry-run"},
		{Text: "Renew if due (what tapir-enroll-renew.timer runs, hourly):",
			Command: "tapir-enroll renew -n /var/lib/tapir/node --if-needed"},
		{Text: "Check the certificate from a monitoring script:",
			Command: "tapir-enroll status -n /var/lib/tapir/node --json"},
	},
	Sections: [][2]string{
		{"WORKED EXAMPLE", `The core's operator creates the node and sends its credentials out of band, a JSON file like:

 {"name": "edge-17.isp.example",
  "key": {"kty": "oct", "kid": "6650c0ffee", "alg": "HS256", "k": "..."},
  "nodeman_url": "https://nodeman.dnstapir.example"}

Keep it secret (mode 0600) and enroll:

 install -m 0600 edge-17.json /etc/tapir/credentials.json
 tapir-enroll enroll -c /etc/tapir/credentials.json -n /var/lib/tapir/node
 tapir-enroll status -n /var/lib/tapir/node

The node directory now holds node.json (name, node manager, aggregate receiver and MQTT broker URLs, MQTT topics, and the names of the other files), data-key.jwk and tls.key (mode 0600), tls.crt, ca.crt and trusted-jwks.json. Keep the certificate valid with the timer:

 systemctl enable --now tapir-enroll-renew.timer

and run the pipeline with the node directory:

 tapir-listen -u /run/tapir/dnstap.sock | tapir-anon -k /etc/tapir/anon.key | tapir-agg --well-known /etc/tapir/well-known.txt --state /var/lib/tapir/agg | tapir-send --node /var/lib/tapir/node --to aggrec --to broker --spool /var/lib/tapir/spool`},
		{"FILES", `In the node directory: node.json, written last; data-key.jwk, the data key as a private JWK whose kid is the node name (0600); tls.key, the TLS client key, PKCS #8 PEM (0600); tls.crt, the client certificate and its intermediates; ca.crt, the CA certificate; trusted-jwks.json, the core's public keys. A renewal writes tls.crt.new and tls.key.new and renames them; an interrupted one is completed or undone by the next run.`},
		{"PROTOCOL", `POST /api/v1/node/NAME/enroll with a JWS in general JSON serialisation signed by the enrollment key (HS256 for an oct key, EdDSA for OKP) and by the data key (EdDSA or ES256), over {timestamp, x509_csr, x509_lifetime, public_key}; POST /api/v1/node/NAME/renew signed by the data key, over {timestamp, x509_csr, x509_lifetime}; GET /api/v1/node/NAME/public_key, configuration and certificate to recover an enrollment. Like the node manager's own client, tapir-enroll resolves these paths against the host of nodeman_url: a path in the URL is not kept.`},
		{"STATUS EXIT CODES", `Besides the codes below, status exits with 6 when renewal is due (two thirds of the certificate's lifetime have passed) and 7 when the certificate has expired. enroll and renew exit with 4 when the node manager refuses (400, 401, 403, 404, 422: bad or used credentials, unknown node), so that a script does not retry, and with 5 when it cannot be reached or fails (5xx), so that a script retries later.`},
	},
	SeeAlso: []string{"tapir-send(1)", "tapir-listen(1)", "systemd.timer(5)"},
}
