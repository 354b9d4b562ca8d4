#!/usr/bin/env bash
# Runs the edge pipeline of the installed package against a real Unbound
# for a few seconds:
#
#   unbound --dnstap--> tapir-listen -> tapir-anon -> tapir-agg -> tapir-send
#
# each stage started as its installed unit in /usr/lib/systemd/system says,
# on a machine without systemd as PID 1 (CI's container); then checks with
# the installed tapir-cat that the archive tapir-send wrote holds the
# aggregates of the names Unbound was asked, and no client address.
#
# The emulation of systemd covers what these units use, and fails on what
# it does not understand rather than guess:
#   - ListenFIFO= (tapir-anon, -agg, -send.socket): the FIFO made with
#     SocketMode=, SocketUser=, SocketGroup=, PipeSize= and its directory
#     with DirectoryMode=, held open read-write (as systemd holds it) for the
#     whole run; the service gets it, opened O_RDWR|O_NONBLOCK, as its
#     stdin (StandardInput=socket) and as fd 3 with LISTEN_FDS=1.
#   - ListenStream= (tapir-listen.socket): systemd-socket-activate listens,
#     with FileDescriptorName=, and starts the service on the first
#     connection with LISTEN_FDS and LISTEN_PID; then SocketMode= and
#     SocketGroup= are applied to the socket.
#   - ExecStart= with $VAR (split at whitespace) and ${VAR} expanded from
#     Environment= and then EnvironmentFile= (which overrides it), the way
#     systemd does; User=, Group= (setpriv, keeping the PID), the user's
#     HOME, USER, LOGNAME, SHELL; NoNewPrivileges=; StateDirectory=; umask
#     0022 and the working directory /.
#   - Boot: systemd-tmpfiles --create of the package's tmpfiles.d file
#     (/run/tapir) before any socket, as sysinit.target comes before
#     sockets.target.
#   - Not emulated: the sandbox (ProtectSystem=, IPAddressDeny=,
#     SystemCallFilter= ...), Restart=, the journal (each stage logs to a
#     file, printed on failure).
#
# The operator's choices go in /etc/tapir/tapir.env, as the package's
# README says: here the archive destination (TAPIR_SEND_TO) encrypted to a
# test age recipient, and short histogram intervals. Unbound answers from
# local data only (never a query off loopback). At the end everything is
# stopped and removed, and tapir.env is restored, before test.sh goes on
# to remove and purge the package. Run as root, with the package installed.
set -euo pipefail

units=/usr/lib/systemd/system
env_file=/etc/tapir/tapir.env
stages=(listen anon agg send)
archive=/var/lib/tapir/archive
unbound_conf_snippet=/usr/share/doc/tapir-toolkit/resolvers/unbound-dnstap.conf
deadline=$((SECONDS + 60)) # the whole run; a stage that hangs fails it

step() { printf '== pipeline: %s\n' "$*"; }
fail() {
	printf 'FAIL: pipeline: %s\n' "$*" >&2
	show_logs
	exit 1
}
show_logs() {
	local f
	for f in "$work"/*.log; do
		[ -s "$f" ] || continue
		printf -- '--- %s (last 40 lines)\n' "${f##*/}" >&2
		tail -n 40 "$f" >&2
	done
}

[ "$(id -u)" = 0 ] || { echo "pipeline.sh: must run as root" >&2; exit 1; }
for c in unbound unbound-checkconf dig systemd-socket-activate systemd-tmpfiles setpriv perl age-keygen; do
	command -v "$c" >/dev/null || { echo "pipeline.sh: $c not found (.ci/setup installs it)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/tapir-pipeline.XXXXXX)

# --- cleanup: whatever happened, leave the machine as the package left it.
declare -A pid=()  # stage → PID
holders=()         # the processes that hold the FIFOs open
unbound_pid=
made=()            # paths this run made, removed at the end
env_saved=
cleanup() {
	local rc=$? p
	for p in "${pid[@]}" "${holders[@]}" $unbound_pid; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ -n "$env_saved" ]; then
		cp -p "$env_saved" "$env_file"
	fi
	for p in "${made[@]}"; do
		rm -rf "$p"
	done
	if ((rc == 0)); then
		rm -rf "$work"
	else
		echo "pipeline.sh: logs kept in $work" >&2
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- reading units
# unit_values FILE KEY: the values of KEY= in FILE, one a line, in order.
unit_values() {
	local line
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line#"${line%%[![:space:]]*}"}
		case $line in '#'* | ';'* | '') continue ;; esac
		[[ $line != *\\ ]] || fail "$1: continued lines are not emulated"
		if [[ $line == "$2="* ]]; then printf '%s\n' "${line#"$2="}"; fi
	done <"$1"
}
# unit_value FILE KEY: the value of KEY= that counts (the last).
unit_value() { unit_values "$@" | tail -n 1; }

# env_assignments_file FILE: KEY=VALUE lines of an EnvironmentFile=
# (comments, blank lines, quoted values; not escapes or continued lines).
env_assignments_file() {
	local line k v
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line#"${line%%[![:space:]]*}"}
		case $line in '#'* | ';'* | '') continue ;; esac
		[[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]] ||
			fail "$1: not KEY=VALUE: $line"
		k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
		v=${v%"${v##*[![:space:]]}"}
		if [[ $v =~ ^\"(.*)\"$ || $v =~ ^\'(.*)\'$ ]]; then v=${BASH_REMATCH[1]}; fi
		[[ $v != *[\\\"\']* ]] || fail "$1: quotes or backslashes inside $k are not emulated"
		printf '%s=%s\n' "$k" "$v"
	done <"$1"
}

# env_assignments_directive VALUE: the KEY=VALUE words of Environment=.
env_assignments_directive() {
	local s=$1 a
	while :; do
		s=${s#"${s%%[![:space:]]*}"}
		[ -n "$s" ] || break
		if [[ $s == \"* ]]; then
			s=${s#\"}
			[[ $s == *\"* ]] || fail "Environment=$1: unbalanced quotes"
			a=${s%%\"*} s=${s#*\"}
		else
			a=${s%%[[:space:]]*} s=${s#"$a"}
		fi
		[[ $a =~ ^[A-Za-z_][A-Za-z0-9_]*= && $a != *[\\\']* ]] || fail "Environment=$1: cannot read $a"
		printf '%s\n' "$a"
	done
}

# service_env UNIT: sets ENV (KEY → VALUE) and ENV_KEYS (in order) to the
# environment systemd gives the service: its defaults and the user's, then
# Environment=, then EnvironmentFile= (later ones override earlier).
declare -A ENV
ENV_KEYS=()
setenv() {
	[ -n "${ENV[$1]+set}" ] || ENV_KEYS+=("$1")
	ENV[$1]=$2
}
service_env() {
	local unit=$1 user a f optional
	ENV=() ENV_KEYS=()
	setenv PATH /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
	user=$(unit_value "$unit" User)
	if [ -n "$user" ]; then
		IFS=: read -r _ _ _ _ _ home shell < <(getent passwd "$user") || fail "$unit: no user $user"
		setenv HOME "$home"
		setenv USER "$user"
		setenv LOGNAME "$user"
		setenv SHELL "$shell"
	fi
	while IFS= read -r f; do
		while IFS= read -r a; do setenv "${a%%=*}" "${a#*=}"; done < <(env_assignments_directive "$f")
	done < <(unit_values "$unit" Environment)
	while IFS= read -r f; do
		optional=
		if [[ $f == -* ]]; then optional=1 f=${f#-}; fi
		if [ ! -e "$f" ]; then
			[ -n "$optional" ] || fail "$unit: EnvironmentFile=$f missing"
			continue
		fi
		while IFS= read -r a; do setenv "${a%%=*}" "${a#*=}"; done < <(env_assignments_file "$f")
	done < <(unit_values "$unit" EnvironmentFile)
}

# exec_argv UNIT: sets ARGV to ExecStart= with the variables of ENV
# expanded: a word that is $VAR alone becomes the value's words (none if
# empty), ${VAR} anywhere is replaced by the value.
ARGV=()
exec_argv() {
	local unit=$1 line word parts
	local -a words
	[ "$(unit_values "$unit" ExecStart | wc -l)" = 1 ] || fail "$unit: want one ExecStart="
	line=$(unit_value "$unit" ExecStart)
	case $line in [-@+!:]*) fail "$unit: ExecStart= prefixes are not emulated: $line" ;; esac
	[[ $line != *[\\\"\']* ]] || fail "$unit: quotes in ExecStart= are not emulated"
	read -ra words <<<"$line"
	ARGV=()
	for word in "${words[@]}"; do
		if [[ $word =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
			read -ra parts <<<"${ENV[${BASH_REMATCH[1]}]-}"
			ARGV+=("${parts[@]}")
			continue
		fi
		[[ $word != *'$$'* ]] || fail "$unit: \$\$ is not emulated"
		while [[ $word =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
			word=${word/"${BASH_REMATCH[0]}"/"${ENV[${BASH_REMATCH[1]}]-}"}
		done
		[[ $word != *'$'* ]] || fail "$unit: cannot expand $word"
		ARGV+=("$word")
	done
}

# --- sockets
# socket_dir SOCKETUNIT PATH: the parent directory, made as systemd makes
# it (root's, with DirectoryMode=, default 0755) unless it is there.
socket_dir() {
	local dir mode
	dir=$(dirname "$2")
	[ -d "$dir" ] && return
	mode=$(unit_value "$1" DirectoryMode)
	install -d -m "${mode:-0755}" "$dir"
	made+=("$dir")
}

# socket_owner SOCKETUNIT PATH: SocketMode=, SocketUser=, SocketGroup=.
socket_owner() {
	local mode user group
	mode=$(unit_value "$1" SocketMode) user=$(unit_value "$1" SocketUser) group=$(unit_value "$1" SocketGroup)
	chmod "${mode:-0666}" "$2"
	chown "${user:-root}:${group:-root}" "$2"
}

# fifo_socket UNIT: the FIFO of a ListenFIFO= unit, held open.
fifo_socket() {
	local sock=$units/tapir-$1.socket fifo
	fifo=$(unit_value "$sock" ListenFIFO)
	[ -n "$fifo" ] || fail "$sock: no ListenFIFO="
	socket_dir "$sock" "$fifo"
	[ ! -e "$fifo" ] || [ -p "$fifo" ] || fail "$fifo exists and is not a FIFO"
	[ -p "$fifo" ] || { mkfifo "$fifo" && made+=("$fifo"); }
	socket_owner "$sock" "$fifo"
	sleep infinity <>"$fifo" >/dev/null 2>&1 &
	holders+=($!)
	pipe_size "$sock" "$fifo"
}

# pipe_size SOCKETUNIT FIFO: PipeSize= (F_SETPIPE_SZ), checked.
pipe_size() {
	local size bytes got
	size=$(unit_value "$1" PipeSize)
	[ -n "$size" ] || return 0
	case $size in
	*K) bytes=$((${size%K} * 1024)) ;;
	*M) bytes=$((${size%M} * 1024 * 1024)) ;;
	*[!0-9]*) fail "$1: PipeSize=$size is not emulated" ;;
	*) bytes=$size ;;
	esac
	got=$(perl -MFcntl -e 'sysopen(my $f, $ARGV[0], O_RDWR|O_NONBLOCK) or die "$ARGV[0]: $!\n";
		defined(fcntl($f, 1031, $ARGV[1] + 0)) or die "F_SETPIPE_SZ $ARGV[0]: $!\n";
		print fcntl($f, 1032, 0) + 0, "\n"' "$2" "$bytes") || fail "PipeSize=$size on $2"
	((got >= bytes)) || fail "$2: pipe size $got, want $bytes"
}

# fifo_pending PATH: bytes written to the FIFO and not yet read.
fifo_pending() {
	perl -MFcntl -e 'sysopen(my $f, $ARGV[0], O_RDWR|O_NONBLOCK) or die "$ARGV[0]: $!\n";
		my $n = pack("L", 0); ioctl($f, 0x541B, $n) or die "FIONREAD $ARGV[0]: $!\n";
		print unpack("L", $n), "\n"' "$1"
}

# --- services
# start_stage NAME: tapir-NAME.service, with its socket.
start_stage() {
	local name=$1 svc=$units/tapir-$1.service sock=$units/tapir-$1.socket
	local user group d stream fifo fdname envv k
	local -a priv launcher
	[ -f "$svc" ] && [ -f "$sock" ] || fail "tapir-$name.service or .socket missing in $units"
	service_env "$svc"
	exec_argv "$svc"
	user=$(unit_value "$svc" User) group=$(unit_value "$svc" Group)
	for d in $(unit_values "$svc" StateDirectory); do
		if [ ! -d "/var/lib/$d" ]; then
			install -d -m 0755 "/var/lib/$d"
			made+=("/var/lib/$d")
		fi
		chown "${user:-root}:${group:-root}" "/var/lib/$d"
	done
	priv=("$(command -v setpriv)")
	if [ -n "$user" ]; then
		priv+=(--reuid="$user" --regid="${group:-$user}" --init-groups)
	fi
	[ "$(unit_value "$svc" NoNewPrivileges)" != yes ] || priv+=(--no-new-privs)
	envv=()
	for k in "${ENV_KEYS[@]}"; do envv+=("$k=${ENV[$k]}"); done

	stream=$(unit_value "$sock" ListenStream) fifo=$(unit_value "$sock" ListenFIFO)
	if [ -n "$stream" ]; then
		[ "$(unit_value "$svc" StandardInput)" = "" ] || fail "$svc: StandardInput= with ListenStream= is not emulated"
		socket_dir "$sock" "$stream"
		rm -f "$stream"
		fdname=$(unit_value "$sock" FileDescriptorName)
		launcher=("$(command -v systemd-socket-activate)" -l "$stream" --fdname="${fdname:-tapir-$name.socket}")
	elif [ -n "$fifo" ]; then
		[ "$(unit_value "$svc" StandardInput)" = socket ] || fail "$svc: a ListenFIFO= service without StandardInput=socket is not emulated"
		# fd 0 and fd 3 the FIFO (not close-on-exec: $^F), LISTEN_* for fd 3.
		launcher=("$(command -v perl)" -MFcntl -MPOSIX -e '$^F = 3;
			my ($path, $name) = splice(@ARGV, 0, 2);
			sysopen(my $f, $path, O_RDWR|O_NONBLOCK|O_NOCTTY) or die "$path: $!\n";
			for my $fd (0, 3) { POSIX::dup2(fileno($f), $fd) or die "dup2: $!\n" if fileno($f) != $fd }
			@ENV{qw(LISTEN_FDS LISTEN_PID LISTEN_FDNAMES)} = (1, $$, $name);
			exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n"' "$fifo" "tapir-$name.socket")
	else
		fail "$sock: neither ListenStream= nor ListenFIFO="
	fi
	(
		cd /
		umask 0022
		exec env -i "${launcher[@]}" /usr/bin/env "${envv[@]}" "${priv[@]}" -- "${ARGV[@]}"
	) </dev/null >>"$work/tapir-$name.log" 2>&1 &
	pid[$name]=$!
	printf '   tapir-%s (pid %s, as %s): %s\n' "$name" "$!" "${user:-root}" "${ARGV[*]}"
	if [ -n "$stream" ]; then
		until [ -S "$stream" ]; do
			kill -0 "${pid[$name]}" 2>/dev/null || fail "systemd-socket-activate for tapir-$name exited"
			((SECONDS < deadline)) || fail "no socket $stream"
			sleep 0.05
		done
		made+=("$stream") # RemoveOnStop=yes
		socket_owner "$sock" "$stream"
	fi
}

# stop_stage NAME: SIGTERM, as systemctl stop sends (KillSignal=); the
# stage must exit 0 in time.
stop_stage() {
	local name=$1 p=${pid[$1]} rc=0
	kill -TERM "$p" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$p" 2>/dev/null && fail "tapir-$name did not exit within 10s of SIGTERM"
	wait "$p" || rc=$?
	unset "pid[$name]"
	((rc == 0)) || fail "tapir-$name exited $rc at SIGTERM"
}

# wait_drained FIFO: until the next stage has read everything written to it.
wait_drained() {
	until [ "$(fifo_pending "$1")" = 0 ]; do
		((SECONDS < deadline)) || fail "$1: $(fifo_pending "$1") bytes never read"
		sleep 0.05
	done
}

# running_as NAME EXE USER: the stage's process is EXE, run by USER.
running_as() {
	local p=${pid[$1]} exe uid
	exe=$(readlink "/proc/$p/exe") || fail "tapir-$1 (pid $p) is not running"
	[ "$exe" = "$2" ] || fail "pid $p of tapir-$1 is $exe, want $2"
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$p/status")
	[ "$uid" = "$(id -u "$3")" ] || fail "tapir-$1 runs as uid $uid, want $3"
}

# --- the operator's part, as the README says
step "the operator's files: anon.key, well-known-domains.txt, tapir.env (archive to an age recipient)"
[ -f "$env_file" ] || fail "$env_file (the package's conffile) missing"
[ -f "$unbound_conf_snippet" ] || fail "$unbound_conf_snippet missing (a dpkg path-exclude of /usr/share/doc?)"
for f in /etc/tapir/anon.key /etc/tapir/well-known-domains.txt /run/tapir/dnstap.sock $archive; do
	[ ! -e "$f" ] || fail "$f is there already: not a clean machine"
done
env_saved=$work/tapir.env.package
cp -p "$env_file" "$env_saved"
made+=(/etc/tapir/anon.key /etc/tapir/well-known-domains.txt)
(umask 077 && head -c 32 /dev/urandom >/etc/tapir/anon.key)
chown tapir /etc/tapir/anon.key
printf '%s\n' '# the core would distribute this list' example.test. .example.test. >/etc/tapir/well-known-domains.txt
chmod 0644 /etc/tapir/well-known-domains.txt
(umask 077 && age-keygen -o "$work/analyst.key" 2>/dev/null)
recipient=$(age-keygen -y "$work/analyst.key")
{
	cat "$env_saved"
	printf '%s\n' "# packaging/pipeline.sh: an archive only (no core in CI), short intervals" \
		"TAPIR_SEND_TO=--to file://$archive/" \
		"TAPIR_SEND_ARGS=--recipient $recipient" \
		'TAPIR_AGG_ARGS="--interval 2s --late 1s"'
} >"$env_file"

step "boot: systemd-tmpfiles --create tapir-toolkit.conf"
systemd-tmpfiles --create tapir-toolkit.conf || fail "systemd-tmpfiles --create tapir-toolkit.conf"
[ "$(stat -c '%a %U:%G' /run/tapir 2>&1)" = "755 root:root" ] ||
	fail "/run/tapir is $(stat -c '%a %U:%G' /run/tapir 2>&1), want 755 root:root"

step "the sockets: ListenStream= and ListenFIFO= of tapir-listen, -anon, -agg, -send.socket"
for s in anon agg send; do fifo_socket "$s"; done

step "the services, each as its unit says"
for s in send agg anon listen; do start_stage "$s"; done
sock=$(unit_value "$units/tapir-listen.socket" ListenStream)
[ "$(stat -c '%a %G' "$sock")" = "660 unbound" ] || fail "$sock is $(stat -c '%a %G' "$sock"), want 660 unbound"

# --- Unbound, with the package's dnstap configuration, on loopback only
step "Unbound with $unbound_conf_snippet"
port=
for _ in 1 2 3 4 5; do
	p=$((20000 + RANDOM % 40000))
	cat >"$work/unbound.conf" <<EOF
# packaging/pipeline.sh: Unbound answers from local data only, on loopback,
# and never queries anyone; its dnstap is the package's file as installed.
server:
	verbosity: 1
	interface: 127.0.0.1@$p
	so-reuseport: no
	access-control: 127.0.0.0/8 allow
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$work"
	pidfile: "$work/unbound.pid"
	logfile: "$work/unbound.log"
	use-syslog: no
	module-config: "iterator"
	do-not-query-localhost: yes
	local-zone: "." refuse
	local-zone: "example.test." static
	local-data: "example.test. 300 IN A 192.0.2.1"
	local-data: "www.example.test. 300 IN A 192.0.2.2"
	local-data: "mail.example.test. 300 IN A 192.0.2.3"
	local-zone: "fresh.test." static
	local-data: "first.fresh.test. 300 IN A 192.0.2.10"
	local-data: "second.fresh.test. 300 IN A 192.0.2.11"
	local-data: "third.fresh.test. 300 IN A 192.0.2.12"
remote-control:
	control-enable: no
include: "$unbound_conf_snippet"
EOF
	unbound-checkconf "$work/unbound.conf" >"$work/unbound-checkconf.log" 2>&1 || fail "unbound-checkconf: $(cat "$work/unbound-checkconf.log")"
	: >"$work/unbound.log"
	unbound -d -c "$work/unbound.conf" >>"$work/unbound.log" 2>&1 &
	unbound_pid=$!
	for ((i = 0; i < 100; i++)); do
		dig -p "$p" @127.0.0.1 +tries=1 +time=1 +short example.test A >/dev/null 2>&1 && { port=$p; break; }
		kill -0 "$unbound_pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$port" ] && break
	kill "$unbound_pid" 2>/dev/null || true
	wait "$unbound_pid" 2>/dev/null || true
	unbound_pid=
done
[ -n "$port" ] || fail "Unbound did not answer on 127.0.0.1 (5 ports tried)"
printf '   unbound (pid %s) on 127.0.0.1@%s\n' "$unbound_pid" "$port"

# Unbound connects to the socket; systemd-socket-activate starts tapir-listen.
for ((i = 0; ; i++)); do
	[ "$(readlink "/proc/${pid[listen]}/exe" 2>/dev/null)" = /usr/bin/tapir-listen ] && break
	((i < 100)) || fail "tapir-listen was not activated by Unbound's dnstap connection"
	sleep 0.05
done
for s in "${stages[@]}"; do running_as "$s" "/usr/bin/tapir-$s" tapir; done

step "queries: 401 in three seconds, to well-known and new names; tapir-anon, then tapir-agg restarted between"
# Each restart is a systemctl restart: SIGTERM (the stage stops at a frame
# boundary of its FIFO, having handled all it took), then a new process
# that joins the stream where the old one stopped. Nothing may be lost.
: >"$work/queries"
for n in $(seq 100); do
	printf '%s A\n' www.example.test mail.example.test first.fresh.test second.fresh.test >>"$work/queries"
done
echo 'third.fresh.test A' >>"$work/queries" # asked only after both restarts
for part in 1 2 3; do
	dig -p "$port" @127.0.0.1 +tries=1 +time=2 -f <(sed -n "$(((part - 1) * 134 + 1)),$((part * 134))p" "$work/queries") >"$work/dig-$part.out" 2>&1 ||
		fail "dig: $(tail -n 3 "$work/dig-$part.out")"
	case $part in
	1) restarted=anon ;;
	2) restarted=agg ;;
	3) restarted= ;;
	esac
	if [ -n "$restarted" ]; then
		stop_stage "$restarted"
		start_stage "$restarted"
	fi
	sleep 1
done
answers=$(cat "$work"/dig-*.out | grep -c 'status: NOERROR' || true)
((answers == 401)) || fail "Unbound answered $answers of 401 queries with NOERROR"
for s in anon agg; do
	grep -q 'continuing a stream begun before this process' "$work/tapir-$s.log" ||
		fail "the restarted tapir-$s did not say it joined the stream"
done

step "stop in order (SIGTERM): listen, anon, agg, send"
stop_stage listen
wait_drained "$(unit_value "$units/tapir-anon.socket" ListenFIFO)"
stop_stage anon
wait_drained "$(unit_value "$units/tapir-agg.socket" ListenFIFO)"
stop_stage agg
wait_drained "$(unit_value "$units/tapir-send.socket" ListenFIFO)"
# An archive is not spooled: tapir-send writes each record to it as it
# reads it, and completes the file at SIGTERM. It has read everything;
# give it a moment to write the last record.
sleep 0.5
stop_stage send
kill "$unbound_pid" 2>/dev/null || true
wait "$unbound_pid" 2>/dev/null || true
unbound_pid=

step "the archive, read with /usr/bin/tapir-cat and the analyst's identity"
shopt -s nullglob
files=("$archive"/*)
shopt -u nullglob
((${#files[@]})) || fail "no file in $archive"
/usr/bin/tapir-cat --json -i "$work/analyst.key" -r "${files[@]}" >"$work/archive.json" 2>"$work/tapir-cat.log" ||
	fail "tapir-cat of ${files[*]}: $(cat "$work/tapir-cat.log")"
if /usr/bin/tapir-cat --count -r "${files[0]}" >/dev/null 2>&1; then
	fail "tapir-cat read ${files[0]} without the identity: the archive is not encrypted"
fi
histograms=$(grep -c '"type":"histogram"' "$work/archive.json" || true)
new=$(grep -c '"type":"new_qname"' "$work/archive.json" || true)
printf '   %s file(s): %s histogram and %s new_qname records\n' "${#files[@]}" "$histograms" "$new"
((histograms > 0)) || fail "no histogram record in the archive"
((new > 0)) || fail "no new_qname record in the archive"
# All that tapir-agg wrote (its counters at exit, summed over its two
# runs), no more, no less.
want_h=0 want_n=0 runs=0
while IFS= read -r agg; do
	[[ $agg =~ \ histograms=([0-9]+) ]] || fail "no histograms= in: $agg"
	want_h=$((want_h + BASH_REMATCH[1]))
	[[ $agg =~ \ new_qnames=([0-9]+) ]] || fail "no new_qnames= in: $agg"
	want_n=$((want_n + BASH_REMATCH[1]))
	runs=$((runs + 1))
done < <(grep 'counters at exit' "$work/tapir-agg.log")
((runs == 2)) || fail "tapir-agg logged counters at exit $runs times, want 2 (one restart)"
((histograms == want_h && new == want_n)) ||
	fail "the archive holds $histograms histogram and $new new_qname records; tapir-agg wrote $want_h and $want_n"
# New names: each fresh one once; the well-known ones never.
for name in first.fresh.test. second.fresh.test. third.fresh.test.; do
	n=$(grep -F '"type":"new_qname"' "$work/archive.json" | grep -cF "\"qname\":\"$name\"" || true)
	((n == 1)) || fail "$n new_qname records of $name, want 1"
done
if grep -F '"type":"new_qname"' "$work/archive.json" | grep -qF 'example.test.'; then
	fail "a new_qname record of a well-known name"
fi
# Histograms: the 200 queries for www. and mail.example.test, counted in
# the rows of the suffix entry .example.test. (edm_status_bits 2), across
# both restarts: not one lost, not one twice.
count=$(perl -MJSON::PP -ne '$r = decode_json($_); next unless $r->{type} eq "histogram";
	for (@{$r->{rows}}) { $n += $_->{a_count} if $_->{label0} eq "test" && $_->{label1} eq "example" && $_->{edm_status_bits} == 2 }
	END { print $n + 0 }' "$work/archive.json")
((count == 200)) || fail "the histograms count $count A queries under .example.test, want 200"
printf '   .example.test: %s A queries in the histograms; first., second. and third.fresh.test: new_qname\n' "$count"
if grep -Eq '127\.0\.0\.1|"::1"|7f000001' "$work/archive.json"; then
	fail "the archive holds the client address 127.0.0.1"
fi

step "PASS: the installed units run the edge pipeline"
