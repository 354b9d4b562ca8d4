# fish completion for tapir-cat.
# Generated from the command line definitions of tapir-cat; do not edit.
# Regenerate with: make completions

complete -c tapir-cat -s r -l read -r -d 'read FILE instead of stdin'
complete -c tapir-cat -s i -l identity -r -d 'age identity FILE to decrypt encrypted input'
complete -c tapir-cat -s j -l json -d 'print one JSON object per line per message'
complete -c tapir-cat -s y -l yaml -d 'print one YAML document per message'
complete -c tapir-cat -s c -l count -d 'print only the number of messages that match'
complete -c tapir-cat -l match-rpz -r -d 'print how many messages each rule of the RPZ zone FILE would have matched'
complete -c tapir-cat -l time -x -a 'dnstap rfc3339 unix' -d 'time FORMAT of the text output: dnstap, rfc3339 or unix'
complete -c tapir-cat -s n -l qname -x -d 'keep questions for NAME or names under it'
complete -c tapir-cat -l client -x -d 'keep messages whose client is ADDR or in the prefix ADDR/BITS'
complete -c tapir-cat -s t -l type -x -d 'keep messages of these TYPES: dnstap message types or record types'
complete -c tapir-cat -l rcode -x -d 'keep responses with this RCODE'
complete -c tapir-cat -l since -x -d 'keep messages at or after TIME'
complete -c tapir-cat -l until -x -d 'keep messages before TIME'
complete -c tapir-cat -l log-format -x -a 'text json' -d 'diagnostics on stderr as FORMAT: text or json'
complete -c tapir-cat -l log-level -x -a 'debug info warn error' -d 'least LEVEL logged: debug, info, warn or error'
complete -c tapir-cat -s h -l help -d 'show help'
