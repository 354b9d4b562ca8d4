# fish completion for tapir-rpz.
# Generated from the command line definitions of tapir-rpz; do not edit.
# Regenerate with: make completions

complete -c tapir-rpz -l log-format -x -a 'text json' -d 'diagnostics on stderr as FORMAT: text or json'
complete -c tapir-rpz -l log-level -x -a 'debug info warn error' -d 'least LEVEL logged: debug, info, warn or error'
complete -c tapir-rpz -s h -l help -d 'show help'
