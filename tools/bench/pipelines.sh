#!/usr/bin/env bash
# Whole-pipeline benchmarks of the tapir tools, each beside the reference
# tool on the same input in the same run. `make bench` runs it after
# building bin/.
#
#  1. Socket in, file out: bin/dnstapgen, acting as resolvers, sends
#     BENCH_FRAMES frames to bin/tapir-listen, to fstrm_capture (fstrm-bin)
#     and to `dnstap -u` (golang-dnstap), over 1 and BENCH_CONNECTIONS
#     connections, and with the receiver pinned to core 0 (GOMAXPROCS=1)
#     and the generator to core 1. The rate is the frames in the output
#     over the time from the first connection to the receiver's FINISH;
#     "+exit" is how long the receiver then took to finish its file after
#     SIGTERM.
#  2. Reading a file: bin/tapir-cat --count and text output, beside
#     `dnstap -r FILE -q`. Skipped when bin/tapir-cat is missing.
#  3. Unbound at its limit: Unbound (2 threads, an auth-zone, dnstap client
#     queries and responses) sends to bin/tapir-listen, and in runs of their
#     own to fstrm_capture and `dnstap -u`, while dnsperf loads it at each
#     of BENCH_UNBOUND_QPS queries a second (0: as fast as it can); what
#     Unbound answered (unbound-control stats) times two is compared with
#     the frames the receiver wrote, and tapir-listen's drop counter.
#
# Needs the Debian packages fstrm-bin, golang-github-dnstap-golang-dnstap-cli,
# unbound and dnsperf; a part whose tools are missing is skipped with a note.
#
# Settings (environment):
#   BENCH_FRAMES=5000000       frames per run of part 1
#   BENCH_CONNECTIONS=4        connections of the multi-connection runs
#   BENCH_CAT_FRAMES=1000000   frames in the file of part 2
#   BENCH_UNBOUND_QPS="40000 65000 100000 0"   dnsperf rates of part 3
#   BENCH_UNBOUND_SECONDS=8    length of each dnsperf run
#   BENCH_ANON_FRAMES=2000000  frames in the file of part 2b (tapir-anon)
#   BENCH_ANON_CLIENTS=50000   distinct clients in it
#   BENCH_WELL_KNOWN=../shared/data/well-known-domains.txt   list of part 2c
#   BENCH_PARTS="listen cat anon agg unbound"  the parts to run
#   BIN=bin                    where the built tools are
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
FRAMES=${BENCH_FRAMES:-5000000}
CONNS=${BENCH_CONNECTIONS:-4}
CAT_FRAMES=${BENCH_CAT_FRAMES:-1000000}
UNBOUND_QPS=${BENCH_UNBOUND_QPS:-40000 65000 100000 0}
UNBOUND_SECONDS=${BENCH_UNBOUND_SECONDS:-8}
PARTS=${BENCH_PARTS:-listen cat anon agg unbound}
ANON_FRAMES=${BENCH_ANON_FRAMES:-2000000}
ANON_CLIENTS=${BENCH_ANON_CLIENTS:-50000}
PATH=$PATH:/usr/sbin:/sbin # Debian installs unbound in /usr/sbin

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tapir-bench.XXXXXX")
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

note() { printf '  note: %s\n' "$*"; }
die() {
	printf 'pipelines.sh: %s\n' "$*" >&2
	exit 1
}
now() { date +%s.%N; }
# calc EXPR: evaluate an arithmetic expression with awk (floats).
calc() { awk "BEGIN { printf \"%s\", $1 }" 2>/dev/null; }
have() { command -v "$1" >/dev/null 2>&1; }
wants() { [[ " $PARTS " == *" $1 "* ]]; }

# wait_socket PATH PID: wait until a receiver listens on PATH.
wait_socket() {
	local i
	for i in $(seq 100); do
		[[ -S $1 ]] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# wait_quiet FILE: wait until FILE stops growing.
wait_quiet() {
	local size=-1 new
	while true; do
		new=$(stat -c %s "$1" 2>/dev/null || echo 0)
		[[ $new == "$size" ]] && return 0
		size=$new
		sleep 0.3
	done
}

# stop PID: SIGTERM a process we started and wait for it.
stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# logval FILE KEY: the last value of KEY=... in a log, as an integer
# (slog may print 1e+07).
logval() {
	grep -o "[ ]$2=[^ ]*" "$1" | tail -1 | cut -d= -f2 | awk '{ printf "%d", $1 }'
}

[[ -x $BIN/dnstapgen && -x $BIN/framecount ]] || die "build first: make build (no $BIN/dnstapgen or $BIN/framecount)"
count() { "$BIN/framecount" "$1" 2>>"$tmp/count.err" || true; }

echo "tapir pipeline benchmarks, $(nproc) cores, $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Other work on the machine skews every number: the load average at the
# end says whether there was any.
trap 'echo; echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"; cleanup' EXIT

# ---------------------------------------------------------------------------
# Part 1: socket in, file out.

# receive NAME CONNS PIN LABEL: one run of part 1; prints a table row.
receive() {
	local name=$1 k=$2 pin=$3 label=$4
	local sock=$tmp/recv.sock out=$tmp/recv.out log=$tmp/recv.log
	local pre=() gpre=()
	rm -f "$sock" "$out"
	if [[ $pin == 1 ]]; then
		pre=(taskset -c 0 env GOMAXPROCS=1)
		gpre=(taskset -c 1)
	fi
	case $name in
	tapir-listen) "${pre[@]}" "$BIN/tapir-listen" -u "$sock" -w "$out" 2>"$log" & ;;
	fstrm_capture) "${pre[@]}" fstrm_capture -t protobuf:dnstap.Dnstap -u "$sock" -w "$out" 2>"$log" & ;;
	dnstap) "${pre[@]}" dnstap -u "$sock" -w "$out" 2>"$log" & ;;
	esac
	local pid=$!
	pids+=("$pid")
	wait_socket "$sock" "$pid" || die "$name did not listen on $sock: $(cat "$log")"
	"${gpre[@]}" "$BIN/dnstapgen" -U "$sock" -n "$FRAMES" -c "$k" 2>"$tmp/gen.log" ||
		note "dnstapgen into $name failed: $(tail -1 "$tmp/gen.log")"
	local t0 secs got lost rate exit_s
	secs=$(grep -o ' seconds=[0-9.]*' "$tmp/gen.log" | tail -1 | cut -d= -f2)
	if [[ $name == dnstap ]]; then
		# dnstap exits on a signal without writing its last buffer:
		# let it write what it will first.
		wait_quiet "$out"
	fi
	t0=$(now)
	stop "$pid"
	exit_s=$(calc "$(now) - $t0")
	got=$(count "$out")
	lost=$((FRAMES - got))
	rate=$(calc "$got / $secs")
	local drops=""
	if [[ $name == tapir-listen ]]; then
		drops=$(logval "$log" dropped_frames_full)
	fi
	rm -f "$out"
	printf '%-14s %-16s %10d %8d %8.3f %7.3f %11.0f' "$name" "$label" "$got" "$lost" "$secs" "$exit_s" "$rate"
	echo "$rate" >"$tmp/rate.$name"
	if [[ $name != fstrm_capture && -s $tmp/rate.fstrm_capture ]]; then
		printf ' %6.2f' "$(calc "$rate / $(cat "$tmp/rate.fstrm_capture")")"
	else
		printf ' %6s' "1.00"
	fi
	[[ -n $drops && $drops != 0 ]] && printf '  (dropped %s)' "$drops"
	[[ $name == dnstap && $lost -gt 0 ]] && printf '  (tail never flushed)'
	echo
}

if wants listen; then
	echo
	echo "== 1. socket in, file out: $FRAMES frames from $BIN/dnstapgen -U =="
	receivers=(fstrm_capture tapir-listen)
	have fstrm_capture || { note "fstrm_capture missing (apt-get install fstrm-bin): tapir-listen alone, ratios against nothing"; receivers=(tapir-listen); }
	if have dnstap; then receivers+=(dnstap); else note "dnstap missing (golang-github-dnstap-golang-dnstap-cli): skipped"; fi
	have taskset || note "taskset missing: the one-core runs are not pinned"
	printf '%-14s %-16s %10s %8s %8s %7s %11s %6s\n' receiver run frames lost seconds +exit frames/s ratio
	for run in "1 0" "$CONNS 0" "1 1" "$CONNS 1"; do
		read -r k pin <<<"$run"
		label="$k conn"
		[[ $k != 1 ]] && label+="s"
		[[ $pin == 1 ]] && label+=", 1 core"
		rm -f "$tmp"/rate.*
		for r in "${receivers[@]}"; do
			receive "$r" "$k" "$pin" "$label"
		done
	done
	echo "  (frames: in the receiver's file; ratio: frames/s over fstrm_capture's in the same run; goal: tapir-listen >= 1,000,000 frames/s on one core)"
fi

# ---------------------------------------------------------------------------
# Part 2: reading a file.

# timed OUT CMD...: run CMD with stdout to OUT; prints the seconds taken.
timed() {
	local out=$1 t0
	shift
	t0=$(now)
	"$@" >"$out"
	calc "$(now) - $t0"
}

if wants cat; then
	echo
	echo "== 2. reading a file of $CAT_FRAMES frames =="
	file=$tmp/cat.fstrm
	"$BIN/dnstapgen" -n "$CAT_FRAMES" -w "$file" 2>/dev/null
	if [[ ! -x $BIN/tapir-cat ]]; then
		note "no $BIN/tapir-cat yet: part 2 skipped"
	elif ! have dnstap; then
		note "dnstap missing (golang-github-dnstap-golang-dnstap-cli): part 2 skipped"
	else
		printf '%-40s %10s %8s %11s %6s\n' command output seconds frames/s ratio
		# row WHAT SECONDS OUTPUT BASELINE_SECONDS
		row() {
			printf '%-40s %10s %8.3f %11.0f' "$1" "$3" "$2" "$(calc "$CAT_FRAMES / $2")"
			if [[ -n ${4:-} ]]; then printf ' %6.2f' "$(calc "$4 / $2")"; else printf ' %6s' "1.00"; fi
			echo
		}
		s_ref=$(timed "$tmp/ref.count" bash -c "dnstap -r '$file' -q 2>/dev/null | wc -l")
		row "dnstap -r FILE -q | wc -l" "$s_ref" "$(tr -d ' ' <"$tmp/ref.count")"
		if s=$(timed "$tmp/cat.count" "$BIN/tapir-cat" --count "$file" 2>"$tmp/cat.err"); then
			row "tapir-cat --count FILE" "$s" "$(cat "$tmp/cat.count")" "$s_ref"
		else
			note "tapir-cat --count failed: $(tail -1 "$tmp/cat.err")"
		fi
		s_ref=$(timed /dev/null bash -c "dnstap -r '$file' -q 2>/dev/null")
		row "dnstap -r FILE -q >/dev/null" "$s_ref" text
		if s=$(timed /dev/null "$BIN/tapir-cat" "$file" 2>"$tmp/cat.err"); then
			row "tapir-cat FILE >/dev/null" "$s" text "$s_ref"
		else
			note "tapir-cat FILE failed: $(tail -1 "$tmp/cat.err")"
		fi
		echo "  (ratio: how many times faster than the dnstap line above it; goal for --count: >= 5)"
	fi
	rm -f "$file"
fi

# ---------------------------------------------------------------------------
# Part 2b: tapir-anon on the realistic mix (many clients, Zipf-distributed),
# on one core, beside a plain copy of the same file by the dnstap command.

if wants anon; then
	echo
	echo "== 2b. tapir-anon on $ANON_FRAMES frames from $ANON_CLIENTS clients, one core (GOMAXPROCS=1) =="
	file=$tmp/anon.fstrm
	"$BIN/dnstapgen" -n "$ANON_FRAMES" --seed 7 --clients "$ANON_CLIENTS" -w "$file" 2>/dev/null
	key=$tmp/anon.key
	(umask 077; head -c 32 /dev/urandom >"$key")
	if ! have dnstap; then
		note "dnstap missing: part 2b skipped"
	else
		printf '%-52s %8s %11s %6s\n' command seconds frames/s ratio
		arow() { printf '%-52s %8.3f %11.0f %6.2f\n' "$1" "$2" "$(calc "$ANON_FRAMES / $2")" "$(calc "$2 / $3")"; }
		s_ref=$(timed /dev/null taskset -c 0 dnstap -r "$file" -w /dev/null)
		arow "dnstap -r FILE -w /dev/null (plain copy)" "$s_ref" "$s_ref"
		for m in "cryptopan" "cryptopan --cache-size 0" "ipcrypt-pfx"; do
			# shellcheck disable=SC2086 # $m holds the method and its options
			s=$(timed /dev/null env GOMAXPROCS=1 taskset -c 0 "$BIN/tapir-anon" --log-level warn -k "$key" --workers 1 -m $m -r "$file" -w /dev/null)
			arow "tapir-anon -m $m" "$s" "$s_ref"
		done
		echo "  (ratio: time over the plain copy's; goal: cryptopan with its cache >= 1,000,000 frames/s and <= 2 times the copy)"
	fi
	rm -f "$file"
fi

# ---------------------------------------------------------------------------
# Part 2c: tapir-agg with the real 99,999-name list, one core, beside the
# plain copy; and its peak memory with about a million new names in one
# interval.

if wants agg; then
	echo
	echo "== 2c. tapir-agg on $ANON_FRAMES frames, one core (GOMAXPROCS=1) =="
	list=${BENCH_WELL_KNOWN:-../shared/data/well-known-domains.txt}
	if [[ ! -f $list ]]; then
		note "no well-known list at $list (BENCH_WELL_KNOWN): part 2c skipped"
	elif ! have dnstap; then
		note "dnstap missing: part 2c skipped"
	else
		file=$tmp/agg.fstrm
		"$BIN/dnstapgen" -n "$ANON_FRAMES" --seed 7 --clients "$ANON_CLIENTS" -w "$file" 2>/dev/null
		printf '%-52s %8s %11s %6s %9s\n' command seconds frames/s ratio "max RSS"
		grow() { printf '%-52s %8.3f %11.0f %6.2f %9s\n' "$1" "$2" "$(calc "$3 / $2")" "$(calc "$2 / $4")" "${5:-}"; }
		s_ref=$(timed /dev/null taskset -c 0 dnstap -r "$file" -w /dev/null)
		grow "dnstap -r FILE -w /dev/null (plain copy)" "$s_ref" "$ANON_FRAMES" "$s_ref"
		t0=$(now)
		env GOMAXPROCS=1 taskset -c 0 /usr/bin/time -f %M -o "$tmp/rss" "$BIN/tapir-agg" --log-level error --well-known "$list" -r "$file" -w /dev/null
		s=$(calc "$(now) - $t0")
		grow "tapir-agg --well-known (99,999 names)" "$s" "$ANON_FRAMES" "$s_ref" "$(($(cat "$tmp/rss") / 1024)) MiB"
		"$BIN/dnstapgen" -n 2200000 --seed 9 --new-names 0.97 --qps 100000 -w "$file" 2>/dev/null
		t0=$(now)
		env GOMAXPROCS=1 /usr/bin/time -f %M -o "$tmp/rss" "$BIN/tapir-agg" --log-level error --new-qname-rate 0 --interval 1h --well-known "$list" -r "$file" -w "$tmp/new.out"
		s=$(calc "$(now) - $t0")
		grow "tapir-agg, ~1,070,000 new names in 1 interval" "$s" 2200000 "$s_ref" "$(($(cat "$tmp/rss") / 1024)) MiB"
		echo "  (goal: >= 1,000,000 frames/s on one core; < 1 GiB resident with 10^6 names an interval)"
		rm -f "$file" "$tmp/new.out"
	fi
fi

# ---------------------------------------------------------------------------
# Part 3: Unbound at its limit.

# free_port: a port that nothing listens on now, TCP or UDP.
free_port() {
	local p
	while true; do
		p=$((20000 + RANDOM % 30000))
		if ! ss -Hlntu "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return
		fi
	done
}

# cpu_ticks PID: user and system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# unbound_setup DIR: the zone, configuration and query file of part 3.
unbound_setup() {
	local dir=$1 port cport i
	port=$(free_port)
	cport=$(free_port)
	echo "$port" >"$dir/port"
	cat >"$dir/zone.db" <<-'EOF'
		$ORIGIN example.test.
		$TTL 300
		@	SOA	ns.example.test. hostmaster.example.test. 1 3600 600 86400 300
		@	NS	ns.example.test.
		@	A	192.0.2.1
		@	AAAA	2001:db8::1
		@	MX	10 mail.example.test.
		ns	A	192.0.2.53
		www	A	192.0.2.80
		www	AAAA	2001:db8::80
		mail	A	192.0.2.25
		txt	TXT	"benchmark"
		alias	CNAME	www.example.test.
		*.wild	A	192.0.2.99
	EOF
	# As in lib/testkit/unboundtest: answers from an auth-zone only,
	# everything else refused, no network. so-rcvbuf keeps bursts of
	# dnsperf's queries from overflowing the socket.
	cat >"$dir/unbound.conf" <<-EOF
		server:
		    verbosity: 1
		    num-threads: 2
		    interface: 127.0.0.1@$port
		    so-reuseport: yes
		    so-rcvbuf: 4m
		    so-sndbuf: 4m
		    num-queries-per-thread: 4096
		    access-control: 127.0.0.0/8 allow
		    do-daemonize: no
		    username: ""
		    chroot: ""
		    directory: "$dir"
		    pidfile: "$dir/unbound.pid"
		    logfile: "$dir/unbound.log"
		    use-syslog: no
		    module-config: "iterator"
		    local-zone: "." refuse
		    local-zone: "example.test." transparent
		auth-zone:
		    name: "example.test."
		    zonefile: "$dir/zone.db"
		    for-upstream: yes
		    for-downstream: no
		    fallback-enabled: no
		remote-control:
		    control-enable: yes
		    control-interface: 127.0.0.1
		    control-port: $cport
		    control-use-cert: no
		dnstap:
		    dnstap-enable: yes
		    dnstap-socket-path: "$dir/dnstap.sock"
		    dnstap-send-identity: yes
		    dnstap-send-version: yes
		    dnstap-log-client-query-messages: yes
		    dnstap-log-client-response-messages: yes
	EOF
	unbound-checkconf "$dir/unbound.conf" >/dev/null || die "unbound-checkconf rejects $dir/unbound.conf"
	# Names in the zone, answered from the cache after the first query,
	# names that do not exist, and wildcard names.
	for i in $(seq 2000); do
		case $((i % 8)) in
		0) echo "www.example.test A" ;;
		1) echo "www.example.test AAAA" ;;
		2) echo "example.test MX" ;;
		3) echo "alias.example.test A" ;;
		4) echo "txt.example.test TXT" ;;
		5) echo "nx$i.example.test A" ;;
		*) echo "h$i.wild.example.test A" ;;
		esac
	done >"$dir/queries"
}

# unbound_run DIR RECEIVER QPS: one run of part 3 with a fresh Unbound and
# receiver; prints a table row.
unbound_run() {
	local dir=$1 name=$2 qps=$3
	local sock=$dir/dnstap.sock out=$dir/dnstap.out log=$dir/recv.log
	local rpid upid port limit=() rc0 rc1 uc0 uc1 answered lostq queries got drops=0 msgs
	port=$(cat "$dir/port")
	rm -f "$sock" "$out" "$dir/unbound.log"
	case $name in
	tapir-listen) "$BIN/tapir-listen" -u "$sock" -w "$out" 2>"$log" & ;;
	fstrm_capture) fstrm_capture -t protobuf:dnstap.Dnstap -u "$sock" -w "$out" 2>"$log" & ;;
	dnstap) dnstap -u "$sock" -w "$out" 2>"$log" & ;;
	esac
	rpid=$!
	pids+=("$rpid")
	wait_socket "$sock" "$rpid" || die "$name did not listen on $sock: $(cat "$log")"
	unbound -d -c "$dir/unbound.conf" 2>"$dir/unbound.err" &
	upid=$!
	pids+=("$upid")
	for _ in $(seq 100); do
		grep -q 'start of service' "$dir/unbound.log" 2>/dev/null && break
		kill -0 "$upid" 2>/dev/null || die "unbound did not start: $(cat "$dir/unbound.err" "$dir/unbound.log" 2>/dev/null)"
		sleep 0.1
	done
	sleep 0.3 # for Unbound's dnstap connection
	[[ $qps != 0 ]] && limit=(-Q "$qps")
	rc0=$(cpu_ticks "$rpid") uc0=$(cpu_ticks "$upid")
	dnsperf -s 127.0.0.1 -p "$port" -d "$dir/queries" -l "$UNBOUND_SECONDS" \
		-c 32 -T 1 -q 2000 "${limit[@]}" >"$dir/dnsperf.out" 2>&1 ||
		note "dnsperf failed: $(tail -3 "$dir/dnsperf.out")"
	rc1=$(cpu_ticks "$rpid") uc1=$(cpu_ticks "$upid")
	answered=$(awk '/Queries completed:/ { print $3 }' "$dir/dnsperf.out")
	lostq=$(awk '/Queries lost:/ { print $3 }' "$dir/dnsperf.out")
	# Unbound hands its dnstap queue on within a second, and drops what
	# is still queued when it stops.
	sleep 1.5
	queries=$(unbound-control -c "$dir/unbound.conf" stats_noreset | awk -F= '$1 == "total.num.queries" { print $2 }')
	stop "$upid"
	[[ $name == dnstap ]] && wait_quiet "$out" # it never writes its last buffer
	stop "$rpid"
	got=$(count "$out")
	[[ $name == tapir-listen ]] && drops=$(logval "$log" dropped_frames_full)
	msgs=$((2 * queries))
	printf '%-6s %-14s %8d %6d %9d %9d %9d %7d %7d %9.0f %6.0f %8.0f\n' \
		"$([[ $qps == 0 ]] && echo max || echo "$qps")" "$name" "$answered" "$lostq" "$queries" \
		"$msgs" "$got" $((msgs - got)) "$drops" "$(calc "$got / $UNBOUND_SECONDS")" \
		"$(calc "100 * ($rc1 - $rc0) / $hz / $UNBOUND_SECONDS")" "$(calc "100 * ($uc1 - $uc0) / $hz / $UNBOUND_SECONDS")"
	rm -f "$out"
}

if wants unbound; then
	echo
	echo "== 3. Unbound (2 threads) -> receiver, loaded by dnsperf for ${UNBOUND_SECONDS}s a run =="
	missing=""
	for c in unbound unbound-control unbound-checkconf dnsperf ss getconf; do
		have "$c" || missing+=" $c"
	done
	if [[ -n $missing ]]; then
		note "missing:$missing (apt-get install unbound dnsperf iproute2): part 3 skipped"
	else
		dir=$tmp/unbound
		mkdir -p "$dir"
		unbound_setup "$dir"
		hz=$(getconf CLK_TCK)
		receivers=(tapir-listen)
		if have fstrm_capture; then receivers=(fstrm_capture tapir-listen); fi
		if have dnstap; then receivers+=(dnstap); fi
		printf '%-6s %-14s %8s %6s %9s %9s %9s %7s %7s %9s %6s %8s\n' \
			qps receiver answered lost_q unbound_q 'msgs(x2)' frames missing dropped 'frames/s' 'recv%' 'unbound%'
		for qps in $UNBOUND_QPS; do
			for r in "${receivers[@]}"; do
				unbound_run "$dir" "$r" "$qps"
			done
		done
		echo "  (qps: dnsperf's target rate; answered, lost_q: dnsperf's counts; unbound_q: Unbound's"
		echo "   total.num.queries; msgs(x2): a CLIENT_QUERY and a CLIENT_RESPONSE each; frames: in the"
		echo "   receiver's file; missing: msgs(x2) - frames; dropped: tapir-listen's dropped_frames_full;"
		echo "   frames/s: frames over the run time; recv%, unbound%: CPU used in the run, 100 = one core."
		echo "   Frames missing without drops in the receiver were lost in Unbound's own dnstap queue.)"
	fi
fi
