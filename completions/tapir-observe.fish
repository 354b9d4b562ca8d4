# fish completion for tapir-observe.
# Generated from the command line definitions of tapir-observe; do not edit.
# Regenerate with: make completions

complete -c tapir-observe -l broker -l mqtt -x -d 'the core\'s MQTT broker and the node\'s topic, as URL mqtts://HOST[:PORT]/TOPIC'
complete -c tapir-observe -l node -r -d 'the node directory DIR tapir-enroll wrote: name, TLS certificate and key, CA, trusted keys'
complete -c tapir-observe -l trusted-jwks -r -d 'verify observations with the keys in FILE instead of the node\'s trusted-jwks.json'
complete -c tapir-observe -l insecure -d 'allow mqtt:// without TLS'
complete -c tapir-observe -s w -l write -r -d 'write to FILE instead of stdout'
complete -c tapir-observe -s z -l zstd -d 'compress the output with zstd'
complete -c tapir-observe -l recipient -x -d 'encrypt the output to age RECIPIENT'
complete -c tapir-observe -l recipients-file -r -d 'encrypt the output to the age recipients in FILE'
complete -c tapir-observe -l metrics -x -d 'serve Prometheus metrics on ADDR'
complete -c tapir-observe -l log-format -x -a 'text json' -d 'diagnostics on stderr as FORMAT: text or json'
complete -c tapir-observe -l log-level -x -a 'debug info warn error' -d 'least LEVEL logged: debug, info, warn or error'
complete -c tapir-observe -s h -l help -d 'show help'
