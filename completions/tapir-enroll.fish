# fish completion for tapir-enroll.
# Generated from the command line definitions of tapir-enroll; do not edit.
# Regenerate with: make completions

complete -c tapir-enroll -s n -l node -r -d 'the node directory DIR'
complete -c tapir-enroll -l nodeman-ca -r -d 'trust the node manager\'s TLS certificate if it chains to a CA in FILE, instead of the system\'s CAs'
complete -c tapir-enroll -l dry-run -d 'print the request on stdout instead of sending it'
complete -c tapir-enroll -l lifetime -x -d 'ask for a certificate valid for DURATION'
complete -c tapir-enroll -s c -l credentials -r -d 'the enrollment credentials FILE from the node manager'
complete -c tapir-enroll -l data-key-type -x -a 'ed25519 p256' -d 'data key TYPE: ed25519 or p256'
complete -c tapir-enroll -l keep-credentials -d 'do not remove the credentials file after enrolling'
complete -c tapir-enroll -l if-needed -d 'renew only when two thirds of the certificate\'s lifetime have passed'
complete -c tapir-enroll -l reuse-key -d 'keep the TLS key instead of making a fresh one'
complete -c tapir-enroll -l reload-command -x -d 'after a renewal, run COMMAND with /bin/sh, for programs other than the tapir tools that use the certificate'
complete -c tapir-enroll -l json -d 'print the status as JSON'
complete -c tapir-enroll -l log-format -x -a 'text json' -d 'diagnostics on stderr as FORMAT: text or json'
complete -c tapir-enroll -l log-level -x -a 'debug info warn error' -d 'least LEVEL logged: debug, info, warn or error'
complete -c tapir-enroll -s h -l help -d 'show help'
