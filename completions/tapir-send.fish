# fish completion for tapir-send.
# Generated from the command line definitions of tapir-send; do not edit.
# Regenerate with: make completions

complete -c tapir-send -s t -l to -x -d 'deliver to URL'
complete -c tapir-send -s s -l spool -r -d 'keep undelivered records in DIR'
complete -c tapir-send -l spool-max -x -d 'at most BYTES in each destination\'s spool'
complete -c tapir-send -l status -d 'print what waits in the spool, per destination, and exit'
complete -c tapir-send -l json -d 'with --status, print JSON'
complete -c tapir-send -l drain -x -d 'after the input ends, deliver for up to DURATION'
complete -c tapir-send -l node -r -d 'the node directory DIR that tapir-enroll wrote: name, data key, TLS certificate and key, core URLs'
complete -c tapir-send -l name -x -d 'the node NAME, without --node'
complete -c tapir-send -l data-key -r -d 'the node\'s data key FILE'
complete -c tapir-send -l tls-cert -r -d 'the node\'s certificate FILE for mutual TLS'
complete -c tapir-send -l tls-key -r -d 'the node\'s TLS key FILE'
complete -c tapir-send -l ca-file -r -d 'trust the CA certificates in FILE besides the system\'s'
complete -c tapir-send -l insecure -d 'allow http:// destinations'
complete -c tapir-send -s r -l read -r -d 'read FILE instead of stdin'
complete -c tapir-send -s i -l identity -r -d 'age identity FILE to decrypt encrypted input'
complete -c tapir-send -l metrics -x -d 'serve Prometheus metrics on ADDR'
complete -c tapir-send -l log-format -x -a 'text json' -d 'diagnostics on stderr as FORMAT: text or json'
complete -c tapir-send -l log-level -x -a 'debug info warn error' -d 'least LEVEL logged: debug, info, warn or error'
complete -c tapir-send -s h -l help -d 'show help'
