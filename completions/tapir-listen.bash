# bash completion for tapir-listen.
# Generated from the command line definitions of tapir-listen; do not edit.
# Regenerate with: make completions

_tapir_listen() {
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
	-u|--unix|--tls-cert|--tls-key|--tls-client-ca|-w|--write|--recipients-file|--node|--trusted-jwks)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	--on-full)
		mapfile -t COMPREPLY < <(compgen -W 'drop block' -- "$cur")
		return ;;
	--log-format)
		mapfile -t COMPREPLY < <(compgen -W 'text json' -- "$cur")
		return ;;
	--log-level)
		mapfile -t COMPREPLY < <(compgen -W 'debug info warn error' -- "$cur")
		return ;;
	--socket-mode|--socket-group|-l|--listen|--tls|--timeout|--max-frame-size|-t|--types|--set-identity|--buffer|--recipient|--metrics|--mqtt)
		COMPREPLY=()
		return ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W '-u --unix --socket-mode --socket-group -l --listen --tls --tls-cert --tls-key --tls-client-ca --timeout --max-frame-size -t --types --set-identity --buffer --on-full -w --write -z --zstd --recipient --recipients-file --metrics --mqtt --node --trusted-jwks --insecure --log-format --log-level -h --help' -- "$cur")
		return
	fi
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

complete -F _tapir_listen tapir-listen
