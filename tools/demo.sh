#!/usr/bin/env bash
# The quick start with no resolver: tapir-listen receives, on a unix socket,
# the frames of the bundled sample capture from bin/dnstapgen acting as a
# resolver (the same seed and options as testdata/sample.dnstap.zst), and
# tapir-cat shows what arrived. `make demo` runs it after building bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
dir=$(mktemp -d)
listen_pid=
cleanup() {
	[ -n "$listen_pid" ] && kill "$listen_pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

echo "== tapir-listen on $dir/dnstap.sock, writing $dir/capture.fstrm.zst"
"$BIN/tapir-listen" -u "$dir/dnstap.sock" -w "$dir/capture.fstrm.zst" --zstd 2>"$dir/listen.log" &
listen_pid=$!
for _ in $(seq 100); do [ -S "$dir/dnstap.sock" ] && break; sleep 0.05; done

echo "== a simulated resolver sends the sample's 20,000 frames"
"$BIN/dnstapgen" -U "$dir/dnstap.sock" -n 20000 --seed 1 --clients 200 --names 2000

kill -TERM "$listen_pid"
wait "$listen_pid"
listen_pid=
grep "counters at exit" "$dir/listen.log" | sed 's/^/   /'

echo "== the first messages, as dnstap -q prints them (tapir-cat)"
"$BIN/tapir-cat" "$dir/capture.fstrm.zst" | head -8

echo "== one response as JSON"
"$BIN/tapir-cat" --json --type CLIENT_RESPONSE "$dir/capture.fstrm.zst" | head -1

echo "== messages received, and NXDOMAIN responses among them"
printf '   %s messages, ' "$("$BIN/tapir-cat" --count "$dir/capture.fstrm.zst")"
printf '%s NXDOMAIN\n' "$("$BIN/tapir-cat" --count --rcode NXDOMAIN "$dir/capture.fstrm.zst")"

echo "== the whole edge pipeline on it: tapir-anon, then tapir-agg"
(umask 077; head -c 32 /dev/urandom >"$dir/anon.key")
"$BIN/tapir-anon" --log-level warn -k "$dir/anon.key" -r "$dir/capture.fstrm.zst" |
	"$BIN/tapir-agg" --log-level warn --well-known testdata/well-known-sample.txt --state "$dir/state" -w "$dir/records.fstrm"
echo "   messages from clients in 192.0.2.0/24: $("$BIN/tapir-cat" --count --client 192.0.2.0/24 "$dir/capture.fstrm.zst") before tapir-anon, $("$BIN/tapir-anon" --log-level error -k "$dir/anon.key" -r "$dir/capture.fstrm.zst" | "$BIN/tapir-cat" --count --client 192.0.2.0/24) after"
echo "   records: $("$BIN/tapir-cat" --count "$dir/records.fstrm") ($("$BIN/tapir-cat" --json "$dir/records.fstrm" | grep -c '"type":"new_qname"') new_qname events)"
echo "   a histogram row:"
"$BIN/tapir-cat" --json "$dir/records.fstrm" | grep '"type":"histogram"' | head -1 | sed 's/.*"rows":\[\({[^}]*}\).*/   \1/' | cut -c1-400

echo "== the capture is the bundled sample, frame for frame:"
if cmp -s <("$BIN/tapir-cat" --json "$dir/capture.fstrm.zst") <("$BIN/tapir-cat" --json testdata/sample.dnstap.zst); then
	echo "   identical"
else
	echo "   DIFFERENT" >&2
	exit 1
fi
