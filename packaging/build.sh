#!/usr/bin/env bash
# Builds packaging/dist/tapir-toolkit_VERSION_amd64.deb from bin/ (make
# build first; `make package` does), man/, completions/, lib/systemd/ and
# LICENSE, with nfpm from the Go module proxy.
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
TOOLS=(tapir-listen tapir-anon tapir-agg tapir-send tapir-enroll tapir-rpz tapir-cat)

stage=packaging/build/root
rm -rf packaging/build packaging/dist
umask 022
install -d "$stage/usr/bin" "$stage/usr/share/man/man1" \
	"$stage/usr/share/bash-completion/completions" \
	"$stage/usr/share/zsh/vendor-completions" \
	"$stage/usr/share/fish/vendor_completions.d" \
	"$stage/usr/lib/systemd/system" \
	"$stage/usr/share/doc/tapir-toolkit" \
	packaging/build/etc packaging/dist

for t in "${TOOLS[@]}"; do
	[ -x "bin/$t" ] || { echo "build.sh: bin/$t missing: run make build" >&2; exit 1; }
	install -m 0755 "bin/$t" "$stage/usr/bin/$t"
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
for u in lib/systemd/*.service lib/systemd/*.socket lib/systemd/*.timer lib/systemd/*.path lib/systemd/*.target; do
	[ -e "$u" ] || continue
	sed 's|/usr/local/bin/|/usr/bin/|g' "$u" >"$stage/usr/lib/systemd/system/$(basename "$u")"
	chmod 0644 "$stage/usr/lib/systemd/system/$(basename "$u")"
done
if grep -rl /usr/local "$stage/usr/lib/systemd/system" >&2; then
	echo "build.sh: the units above still name /usr/local" >&2
	exit 1
fi
install -m 0644 LICENSE "$stage/usr/share/doc/tapir-toolkit/copyright"
# The operator's settings: a conffile, kept on upgrade and remove.
if [ -e lib/systemd/tapir.env ]; then
	install -m 0640 lib/systemd/tapir.env packaging/build/etc/tapir.env
fi

export TAPIR_VERSION=$VERSION
echo "build.sh: tapir-toolkit $VERSION with $NFPM"
"$GO" run "$NFPM" package --config packaging/nfpm.yaml --packager deb --target packaging/dist/
ls -l packaging/dist/*.deb
