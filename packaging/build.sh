#!/usr/bin/env bash
# Builds packaging/dist/tapir-toolkit_VERSION_amd64.deb and
# tapir-toolkit-VERSION-1.x86_64.rpm (`make package`) with nfpm from the Go
# module proxy: the tools, built here stripped (-trimpath -s -w) into
# packaging/build/bin, man/, completions/, deploy/systemd/, the resolver
# configuration of deploy/resolvers/ and LICENSE.
#
#   GO      the go command (default go)
#   NFPM    the nfpm module to `go run` (default below)
#   VERSION the package version (default packaging/version.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
# v2.46 and newer need go.digitalxero.dev modules, which the Go module
# proxy does not serve; v2.45.0 builds from the proxy alone.
NFPM=${NFPM:-github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.0}
VERSION=${VERSION:-$(packaging/version.sh)}
TOOLS=(tapir-listen tapir-anon tapir-agg tapir-send tapir-enroll tapir-observe tapir-rpz tapir-cat)

stage=packaging/build/root
rm -rf packaging/build packaging/dist
umask 022
install -d "$stage/usr/bin" "$stage/usr/share/man/man1" \
	"$stage/usr/share/bash-completion/completions" \
	"$stage/usr/share/zsh/vendor-completions" \
	"$stage/usr/share/fish/vendor_completions.d" \
	"$stage/usr/lib/systemd/system" "$stage/usr/lib/tmpfiles.d" \
	"$stage/usr/share/doc/tapir-toolkit/resolvers" "$stage/usr/share/doc/tapir-toolkit/prometheus" \
	packaging/build/bin packaging/build/etc packaging/dist

# Without the symbol table and DWARF (-s -w): the package's binaries are
# for running; a developer's make build keeps them.
pkgs=()
for t in "${TOOLS[@]}"; do pkgs+=("./cmd/$t"); done
"$GO" build -trimpath -ldflags '-s -w' -o packaging/build/bin/ "${pkgs[@]}"
for t in "${TOOLS[@]}"; do
	install -m 0755 "packaging/build/bin/$t" "$stage/usr/bin/$t"
	install -m 0644 "completions/$t.bash" "$stage/usr/share/bash-completion/completions/$t"
	install -m 0644 "completions/_$t" "$stage/usr/share/zsh/vendor-completions/_$t"
	install -m 0644 "completions/$t.fish" "$stage/usr/share/fish/vendor_completions.d/$t.fish"
done
for m in man/*.1 man/*.5 man/*.7; do
	[ -e "$m" ] || continue
	sec=${m##*.}
	install -d "$stage/usr/share/man/man$sec"
	gzip -9n <"$m" >"$stage/usr/share/man/man$sec/$(basename "$m").gz"
	chmod 0644 "$stage/usr/share/man/man$sec/$(basename "$m").gz"
done
# Units: the binaries live in /usr/bin in the package.
for u in deploy/systemd/*.service deploy/systemd/*.socket deploy/systemd/*.timer deploy/systemd/*.path deploy/systemd/*.target; do
	[ -e "$u" ] || continue
	sed 's|/usr/local/bin/|/usr/bin/|g' "$u" >"$stage/usr/lib/systemd/system/$(basename "$u")"
	chmod 0644 "$stage/usr/lib/systemd/system/$(basename "$u")"
done
if grep -rl /usr/local "$stage/usr/lib/systemd/system" >&2; then
	echo "build.sh: the units above still name /usr/local" >&2
	exit 1
fi
install -m 0644 packaging/tmpfiles.conf "$stage/usr/lib/tmpfiles.d/tapir-toolkit.conf"
install -m 0644 LICENSE "$stage/usr/share/doc/tapir-toolkit/copyright"
# The resolver configuration the man pages print (tapir-listen(1),
# tapir-rpz(1)), as files to include.
for f in deploy/resolvers/*.conf deploy/resolvers/*.lua; do
	install -m 0644 "$f" "$stage/usr/share/doc/tapir-toolkit/resolvers/"
done
# The scrape configuration and alerts for the tools' --metrics.
install -m 0644 deploy/prometheus/*.yml "$stage/usr/share/doc/tapir-toolkit/prometheus/"
# The operator's settings: a conffile, kept on upgrade and remove.
if [ -e deploy/systemd/tapir.env ]; then
	install -m 0640 deploy/systemd/tapir.env packaging/build/etc/tapir.env
fi

export TAPIR_VERSION=$VERSION
echo "build.sh: tapir-toolkit $VERSION with $NFPM"
for packager in deb rpm; do
	"$GO" run "$NFPM" package --config packaging/nfpm.yaml --packager "$packager" --target packaging/dist/
done
ls -l packaging/dist/
