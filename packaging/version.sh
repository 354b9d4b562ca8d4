#!/bin/sh
# Prints the package version: the nearest tag (v1.2.3 → 1.2.3, with
# +gitN.gSHA after it for N commits past the tag), or 0.0.0~gitSHA when
# the repository has no tag yet.
set -eu
cd "$(dirname "$0")/.."
if v=$(git describe --tags 2>/dev/null); then
	v=${v#v}
	# 1.2.3-4-gabcdef0 → 1.2.3+git4.gabcdef0 (sorts after 1.2.3, before 1.2.4)
	v=$(printf '%s\n' "$v" | sed -E 's/-([0-9]+)-g([0-9a-f]+)$/+git\1.g\2/')
	case $v in
	[0-9]*) ;;
	*) v="0.0.0~$v" ;; # a tag that is not a version number
	esac
else
	v="0.0.0~git$(git describe --always 2>/dev/null || echo unknown)"
fi
# Only characters a Debian version may hold.
printf '%s\n' "$v" | tr -c 'A-Za-z0-9.+~\n' '.'
