# bash completion for tapir-anon.
# Generated from the command line definitions of tapir-anon; do not edit.
# Regenerate with: make completions

_tapir_anon() {
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
	-k|--key-file|-r|--read|-i|--identity|-w|--write|--recipients-file)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	-m|--method)
		mapfile -t COMPREPLY < <(compgen -W 'cryptopan ipcrypt-pfx ipcrypt-deterministic ipcrypt-nd ipcrypt-ndx truncate' -- "$cur")
		return ;;
	--rotate)
		mapfile -t COMPREPLY < <(compgen -W 'never daily weekly' -- "$cur")
		return ;;
	--keep-messages)
		mapfile -t COMPREPLY < <(compgen -W 'both query response none' -- "$cur")
		return ;;
	--log-format)
		mapfile -t COMPREPLY < <(compgen -W 'text json' -- "$cur")
		return ;;
	--log-level)
		mapfile -t COMPREPLY < <(compgen -W 'debug info warn error' -- "$cur")
		return ;;
	--kdf|--salt|--cache-size|--v4-prefix|--v6-prefix|--set-identity|--set-version|--workers|--recipient|--metrics)
		COMPREPLY=()
		return ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W '-m --method -k --key-file --kdf --salt --rotate --cache-size --v4-prefix --v6-prefix --keep-ecs --keep-cookies --keep-ports --keep-identity --set-identity --keep-version --set-version --keep-extra --keep-unknown --keep-messages --workers -r --read -i --identity -w --write -z --zstd --recipient --recipients-file --metrics --log-format --log-level -h --help' -- "$cur")
		return
	fi
	compopt -o filenames 2>/dev/null
	mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

complete -F _tapir_anon tapir-anon
