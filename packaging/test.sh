#!/usr/bin/env bash
# Installs the package make package built (packaging/dist/*.deb) with dpkg,
# checks the tools, man pages, units, user and directories from the
# installed paths, runs the edge pipeline from the installed units against
# a real Unbound (packaging/pipeline.sh), then purges it and checks that it
# is gone; and lists the .rpm (rpm -qpi, -qpl). Run as root on a Debian
# machine (CI); make package-test builds the packages first.
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=tapir-toolkit
tools=(tapir-listen tapir-anon tapir-agg tapir-send tapir-enroll tapir-observe tapir-rpz tapir-cat)
step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root (it installs $pkg with dpkg)"
command -v dpkg >/dev/null || fail "dpkg not found: a Debian machine is needed"
shopt -s nullglob
debs=(packaging/dist/"$pkg"_*_amd64.deb)
shopt -u nullglob
[ "${#debs[@]}" = 1 ] || fail "want exactly one packaging/dist/${pkg}_*_amd64.deb, found ${#debs[@]}: run make package"
deb=${debs[0]}
shopt -s nullglob
rpms=(packaging/dist/"$pkg"-*.x86_64.rpm)
shopt -u nullglob
[ "${#rpms[@]}" = 1 ] || fail "want exactly one packaging/dist/${pkg}-*.x86_64.rpm, found ${#rpms[@]}: run make package"
rpm=${rpms[0]}

step "make install DESTDIR=... PREFIX=/opt/tapir: the files, and units that name /opt/tapir/bin"
dest=$(mktemp -d)
make -s install DESTDIR="$dest" PREFIX=/opt/tapir >/dev/null || fail "make install"
for t in "${tools[@]}"; do
	[ -x "$dest/opt/tapir/bin/$t" ] || fail "make install: bin/$t missing"
	[ -f "$dest/opt/tapir/share/man/man1/$t.1" ] || fail "make install: man page of $t missing"
done
for f in deploy/systemd/*.service deploy/systemd/*.socket deploy/systemd/*.timer deploy/resolvers/*.conf deploy/prometheus/alerts.yml; do
	case $f in
	deploy/systemd/*) [ -f "$dest/opt/tapir/lib/systemd/system/${f##*/}" ] || fail "make install: ${f##*/} missing" ;;
	deploy/resolvers/*) cmp -s "$f" "$dest/opt/tapir/share/doc/tapir-toolkit/resolvers/${f##*/}" || fail "make install: ${f##*/}" ;;
	deploy/prometheus/*) cmp -s "$f" "$dest/opt/tapir/share/doc/tapir-toolkit/prometheus/${f##*/}" || fail "make install: ${f##*/}" ;;
	esac
done
if grep -l /usr/local/bin "$dest"/opt/tapir/lib/systemd/system/*; then fail "make install: units above name /usr/local/bin"; fi
grep -q 'ExecStart=/opt/tapir/bin/tapir-send ' "$dest/opt/tapir/lib/systemd/system/tapir-send.service" || fail "make install: tapir-send.service does not run /opt/tapir/bin/tapir-send"
[ -f "$dest/etc/tapir/tapir.env" ] || fail "make install: /etc/tapir/tapir.env missing"
rm -rf "$dest"

installed() { dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; }
if dpkg-query -W "$pkg" >/dev/null 2>&1; then
	step "purging the $pkg left by an earlier run"
	dpkg --purge "$pkg" >/dev/null
fi

step "dpkg -i $deb"
dpkg -i "$deb" || fail "dpkg -i $deb"
installed || fail "$pkg is not installed after dpkg -i"
step "dpkg -i again (upgrade path: postinst with the user already there)"
dpkg -i "$deb" >/dev/null || fail "second dpkg -i $deb"

step "the tools run from /usr/bin"
for t in "${tools[@]}"; do
	[ -x "/usr/bin/$t" ] || fail "/usr/bin/$t missing"
	"/usr/bin/$t" --help >/dev/null || fail "/usr/bin/$t --help exited $?"
done
out=$(/usr/bin/tapir-listen --help) || fail "tapir-listen --help"
grep -q tapir-listen <<<"$out" || fail "tapir-listen --help does not name the tool"

step "man pages"
page=$(man -w tapir-listen) || fail "man -w tapir-listen finds no page"
[ "$page" = /usr/share/man/man1/tapir-listen.1.gz ] || fail "man -w tapir-listen: $page, want /usr/share/man/man1/tapir-listen.1.gz"
text=$(MANWIDTH=80 MAN_KEEP_FORMATTING= man -P cat tapir-listen 2>/dev/null) || fail "man tapir-listen does not render"
grep -qi 'tapir-listen' <<<"$text" || fail "man tapir-listen rendered without the tool's name"
for t in "${tools[@]}"; do
	[ -f "/usr/share/man/man1/$t.1.gz" ] || fail "/usr/share/man/man1/$t.1.gz missing"
	[ -f "/usr/share/bash-completion/completions/$t" ] || fail "bash completion for $t missing"
	[ -f "/usr/share/zsh/vendor-completions/_$t" ] || fail "zsh completion for $t missing"
	[ -f "/usr/share/fish/vendor_completions.d/$t.fish" ] || fail "fish completion for $t missing"
done
[ -f /usr/share/doc/$pkg/copyright ] || fail "/usr/share/doc/$pkg/copyright missing"
for f in deploy/resolvers/*.conf deploy/resolvers/*.lua; do
	cmp -s "$f" "/usr/share/doc/$pkg/resolvers/${f##*/}" || fail "/usr/share/doc/$pkg/resolvers/${f##*/} missing or not $f"
done
for f in deploy/prometheus/*.yml; do
	cmp -s "$f" "/usr/share/doc/$pkg/prometheus/${f##*/}" || fail "/usr/share/doc/$pkg/prometheus/${f##*/} missing or not $f"
done
for t in "${tools[@]}"; do
	# No symbol table (go build -ldflags -s).
	if LC_ALL=C grep -qaF .symtab "/usr/bin/$t"; then fail "/usr/bin/$t is not stripped"; fi
done

step "systemd units"
units=/usr/lib/systemd/system
[ -f $units/tapir-listen.socket ] && [ -f $units/tapir-listen.service ] || fail "tapir-listen units missing in $units"
if grep -l /usr/local $units/tapir-* >&2; then fail "installed units still name /usr/local"; fi
systemd-analyze verify $units/tapir-listen.socket $units/tapir-listen.service ||
	fail "systemd-analyze verify tapir-listen.socket tapir-listen.service"
systemd-analyze verify $units/tapir-*.service $units/tapir-*.socket $units/tapir-*.timer ||
	fail "systemd-analyze verify of every tapir unit"

step "user, group and directories"
id tapir || fail "no user tapir"
getent group tapir >/dev/null || fail "no group tapir"
[ "$(stat -c '%a %U:%G' /etc/tapir)" = "750 root:tapir" ] || fail "/etc/tapir is $(stat -c '%a %U:%G' /etc/tapir), want 750 root:tapir"
if [ ! -L /var/lib/tapir ]; then
	[ "$(stat -c '%a %U:%G' /var/lib/tapir)" = "750 tapir:tapir" ] || fail "/var/lib/tapir is $(stat -c '%a %U:%G' /var/lib/tapir), want 750 tapir:tapir"
fi

step "the edge pipeline from the installed units"
packaging/pipeline.sh || fail "packaging/pipeline.sh"

step "dpkg --remove keeps /etc/tapir and what is in /var/lib/tapir; purge then leaves only what the operator put there"
state=/var/lib/tapir
[ ! -L $state ] || state=$(readlink -f $state)
touch "$state/operator-data"
dpkg --remove "$pkg" >/dev/null || fail "dpkg --remove $pkg"
[ ! -e /usr/bin/tapir-listen ] || fail "/usr/bin/tapir-listen still there after remove"
[ -f /etc/tapir/tapir.env ] || fail "/etc/tapir/tapir.env (a conffile) gone after remove, before purge"
dpkg --purge "$pkg" >/dev/null || fail "dpkg --purge $pkg (after remove)"
[ -f "$state/operator-data" ] || fail "purge removed a file the operator put in $state"
rm -f "$state/operator-data"
[ ! -e /etc/tapir ] || fail "/etc/tapir still there after purge: $(ls -A /etc/tapir | tr '\n' ' ')"

step "dpkg -i, then dpkg --purge $pkg"
dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb (after purge)"
dpkg --purge "$pkg" || fail "dpkg --purge $pkg"
! dpkg-query -W "$pkg" >/dev/null 2>&1 || fail "$pkg still known to dpkg after purge"
for t in "${tools[@]}"; do
	[ ! -e "/usr/bin/$t" ] || fail "/usr/bin/$t still there after purge"
	[ ! -e "/usr/share/man/man1/$t.1.gz" ] || fail "man page of $t still there after purge"
done
[ ! -e $units/tapir-listen.service ] || fail "$units/tapir-listen.service still there after purge"
# Empty, so purge removes them; what an operator put there would stay.
[ ! -e /etc/tapir ] || fail "/etc/tapir still there after purge: $(ls -A /etc/tapir | tr '\n' ' ')"
[ ! -e /var/lib/tapir ] || fail "/var/lib/tapir still there after purge: $(ls -A /var/lib/tapir | tr '\n' ' ')"

step "the .rpm: rpm -qpi, rpm -qpl"
if command -v rpm >/dev/null; then
	info=$(rpm -qpi "$rpm") || fail "rpm -qpi $rpm"
	for want in "Name *: $pkg" "Architecture: x86_64" "License *: BSD-2-Clause"; do
		grep -Eq "^$want" <<<"$info" || fail "rpm -qpi $rpm: no line $want"$'\n'"$info"
	done
	list=$(rpm -qpl "$rpm") || fail "rpm -qpl $rpm"
	# The same files as the .deb.
	for f in $(dpkg-deb -c "$deb" | awk '$1 ~ /^-/ { print substr($6, 2) }'); do
		grep -qxF "$f" <<<"$list" || fail "$f is in the .deb, not in the .rpm"
	done
	n=$(grep -c . <<<"$list")
	((n > 50)) || fail "rpm -qpl $rpm: only $n files"
	reqs=$(rpm -qpR "$rpm") || fail "rpm -qpR $rpm"
	grep -qx 'shadow-utils' <<<"$reqs" || fail "the .rpm does not require shadow-utils: $reqs"
	grep -E '^(Name|Version|Release|Architecture|Size) *:' <<<"$info"
else
	fail "rpm not found (.ci/setup installs it)"
fi

step "PASS: $deb installs, works and purges; $rpm lists"
