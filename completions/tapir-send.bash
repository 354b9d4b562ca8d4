# bash completion for tapir-send.
# Generated from the command line definitions of tapir-send; do not edit.
# Regenerate with: make completions

_tapir_send() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev= i
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD-1]}
	# bash splits --option=value into --option, = and value.
	if [[ $cur == = ]]; then
		cur=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		prev=${COMP_WORDS[COMP_CWORD-2]}
	fi
	for ((i = 1; i < COMP_CWORD; i++)); do
		if [[ ${COMP_WORDS[i]} == -- ]]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return
		fi
	done
	case $prev in
	--recipients-file|-s|--spool|--node|--data-key|--tls-cert|--tls-key|--ca-file|-r|--read|-i|--identity)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	--log-format)
		mapfile -t COMPREPLY < <(compgen -W 'text json' -- "$cur")
		return ;;
	--log-level)
		mapfile -t COMPREPLY < <(compgen -W 'debug info warn error' -- "$cur")
		return ;;
	-t|--to|--mqtt-topic|--rotate|--max-size|--keep-age|--keep-bytes|--recipient|--relay-buffer|--spool-max|--drain|--name|--metrics)
		COMPREPLY=()
		return ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W '-t --to --dnstap --mqtt-topic --rotate --max-size --keep-age --keep-bytes --no-zstd --recipient --recipients-file --relay-buffer -s --spool --spool-max --status --json --drain --node --name --data-key --tls-cert --tls-key --ca-file --insecure -r --read -i --identity --metrics --log-format --log-level -h --help' -- "$cur")
		return
	fi
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

complete -F _tapir_send tapir-send
