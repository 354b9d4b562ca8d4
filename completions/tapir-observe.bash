# bash completion for tapir-observe.
# Generated from the command line definitions of tapir-observe; do not edit.
# Regenerate with: make completions

_tapir_observe() {
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
	--node|--trusted-jwks|-w|--write|--recipients-file)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	--log-format)
		mapfile -t COMPREPLY < <(compgen -W 'text json' -- "$cur")
		return ;;
	--log-level)
		mapfile -t COMPREPLY < <(compgen -W 'debug info warn error' -- "$cur")
		return ;;
	--broker|--mqtt|--recipient|--metrics)
		COMPREPLY=()
		return ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W '--broker --mqtt --node --trusted-jwks --insecure -w --write -z --zstd --recipient --recipients-file --metrics --log-format --log-level -h --help' -- "$cur")
		return
	fi
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

complete -F _tapir_observe tapir-observe
