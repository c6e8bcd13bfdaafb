package main

import "strings"

func cmdCompletion(args []string) error {
	if len(args) != 1 || args[0] != "bash" {
		return &usageError{"supports only: oectl completion bash"}
	}
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	_, err := Stdout.Write([]byte(strings.ReplaceAll(bashCompletion, "@COMMANDS@", strings.Join(names, " "))))
	return err
}

// bashCompletion completes commands, status modes, and connection names for
// up/down from `oectl status dump` (silently nothing when the daemon is down).
const bashCompletion = `# bash completion for oectl                                    -*- shell-script -*-
_oectl() {
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "@COMMANDS@ --socket" -- "$cur"))
		return
	fi
	case "${COMP_WORDS[1]}" in
	status) COMPREPLY=($(compgen -W "--json dump" -- "$cur")) ;;
	up|down) COMPREPLY=($(compgen -W "$(oectl status dump 2>/dev/null | awk -F'\t' '$1=="conn"{print $2}')" -- "$cur")) ;;
	lookup|trace) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
	showhostkey) COMPREPLY=($(compgen -W "--ipseckey" -- "$cur")) ;;
	keygen)
		case "$prev" in
		--type) COMPREPLY=($(compgen -W "ed25519 rsa" -- "$cur")) ;;
		--out) COMPREPLY=($(compgen -f -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "--type --bits --out --force" -- "$cur")) ;;
		esac ;;
	completion) COMPREPLY=($(compgen -W "bash" -- "$cur")) ;;
	esac
}
complete -F _oectl oectl
`
