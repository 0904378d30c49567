# shellcheck shell=bash
# What the scripts in scripts/ and scripts/bench/ share. Sourced, never run:
#
#   PROG=coord-start
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"       # scripts/
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"    # scripts/bench/
#
# PROG names the script in messages ("PROG: ..." on stderr). Defines ROOT,
# the repository root, and functions only: sourcing it changes nothing else.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# ---- messages ---------------------------------------------------------------

# Prints "PROG: MESSAGE" on stderr.
say() {
    echo "$PROG: $*" >&2
}

# Prints "PROG: MESSAGE" on stderr and exits 1.
die() {
    say "$@"
    exit 1
}

# ---- time -------------------------------------------------------------------

# Microseconds / milliseconds since the epoch, for deadlines (bash 5:
# EPOCHREALTIME; the decimal mark follows the locale).
now_us() { echo "${EPOCHREALTIME//[.,]/}"; }
now_ms() {
    local t="${EPOCHREALTIME//[.,]/}"
    echo $((t / 1000))
}

# ---- processes --------------------------------------------------------------

# The one-letter state of PID (R, S, T = stopped, Z, ...; X if gone).
proc_state() {
    sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null || echo X
}

# True while PID runs: an exited child stays a zombie until it is waited
# for, so `kill -0` alone would not notice it has gone.
alive() {
    local state
    state="$(proc_state "$1")"
    [[ "$state" != "Z" && "$state" != "X" ]]
}

# True if PID is a live (not zombie) process whose command line contains
# PROGRAM (runnel-coord, runnel-broker): never signal a reused pid.
is_program() {
    local pid="$1" program="$2"
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
    alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$program"
}
is_coord() { is_program "$1" runnel-coord; }
is_broker() { is_program "$1" runnel-broker; }

# SIGTERMs every PID given (empty ones skipped), waits up to 30 s for them
# all (SIGKILL after that) and reaps those that are our children.
stop_pids() {
    local pid deadline=$(($(now_ms) + 30 * 1000))
    for pid in "$@"; do
        if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for pid in "$@"; do
        [[ -n "$pid" ]] || continue
        while alive "$pid"; do
            (($(now_ms) < deadline)) || kill -KILL "$pid" 2>/dev/null || true
            sleep 0.1
        done
        wait "$pid" 2>/dev/null || true
    done
}

# ---- pid files (broker-start/-stop, coord-start/-stop) ----------------------

# Before a start: dies if PIDFILE names a running PROGRAM, else removes a
# stale PIDFILE. DIR and STOP_SCRIPT (broker-stop.sh ...) go in the message.
check_pidfile() {
    local program="$1" pidfile="$2" dir="$3" stop_script="$4" old
    [[ -f "$pidfile" ]] || return 0
    old="$(cat "$pidfile")"
    if is_program "$old" "$program"; then
        die "$program already running in $dir (pid $old); stop it with scripts/$stop_script --dir $dir"
    fi
    say "removing stale pid file (pid $old is gone)"
    rm -f "$pidfile"
}

# A member's folder before a start (KIND is broker or coord): sets `dir`
# (DIR, default <repo>/var/KIND-ID, created, made absolute), `pidfile` and
# `log`, and dies if the member already runs there.
member_files() {
    local kind="$1" id="$2"
    dir="${3:-$ROOT/var/$kind-$id}"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    pidfile="$dir/$kind.pid"
    log="$dir/$kind.log"
    check_pidfile "runnel-$kind" "$pidfile" "$dir" "$kind-stop.sh"
}

# A --config FILE checked to exist, printed as an absolute path (the member
# runs from another folder).
absolute_config() {
    [[ -f "$1" ]] || die "no such config file: $1"
    echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
}

# Starts CMD... in the background in a session of its own (so that it does
# not die with the terminal's Ctrl-C), output appended to LOG, and writes
# its pid to PIDFILE; sets `pid`.
launch() {
    local pidfile="$1" log="$2"
    shift 2
    setsid "$@" >>"$log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pidfile"
}

# Waits until READY (a command) succeeds for PROGRAM just launched as PID.
# Exits 1 if it exits first (with the last lines of LOG) or, after TIMEOUT
# seconds, stops it and exits 1 saying "WHAT (stopped pid PID); see LOG".
wait_started() {
    local program="$1" pidfile="$2" log="$3" timeout="$4" what="$5" ready="$6"
    local deadline=$(($(now_ms) + timeout * 1000))
    while ! "$ready"; do
        if ! alive "$pid"; then
            rm -f "$pidfile"
            say "$program exited during start-up; last lines of $log:"
            # The reason comes first: an error returned from main (printed
            # before its backtrace) or a panic message, then the log's tail.
            grep -m 1 -A 6 -E '^Error: |panicked at' "$log" >&2 || true
            tail -n 20 "$log" >&2 || true
            exit 1
        fi
        if (($(now_ms) >= deadline)); then
            kill -TERM "$pid" 2>/dev/null || true
            rm -f "$pidfile"
            say "$what (stopped pid $pid); see $log"
            exit 1
        fi
        sleep 0.1
    done
}

# Sends SIGNAL (TERM, KILL) to the PROGRAM whose pid is in DIR/PIDFILE and
# waits up to TIMEOUT seconds for it to exit (dies after that). With RESUME
# (non-empty), a SIGSTOPped process is sent SIGCONT as well, since it acts on
# SIGTERM only once resumed. Nothing to stop is not an error.
stop_pidfile() {
    local program="$1" pidfile="$2" dir="$3" signal="$4" timeout="$5" resume="${6:-}" pid deadline
    if [[ ! -f "$pidfile" ]]; then
        say "no $program running in $dir (no pid file)"
        return 0
    fi
    pid="$(cat "$pidfile")"
    if ! is_program "$pid" "$program"; then
        say "pid $pid is not a running $program; removing stale $pidfile"
        rm -f "$pidfile"
        return 0
    fi
    kill "-$signal" "$pid"
    if [[ -n "$resume" && "$(proc_state "$pid")" == "T" ]]; then
        kill -CONT "$pid" 2>/dev/null || true
    fi
    deadline=$(($(now_ms) + timeout * 1000))
    while is_program "$pid" "$program"; do
        if (($(now_ms) >= deadline)); then
            die "pid $pid still running ${timeout}s after SIG$signal (try --kill)"
        fi
        sleep 0.1
    done
    rm -f "$pidfile"
    say "stopped $program (pid $pid, SIG$signal)"
}

# The command line of broker-stop.sh and coord-stop.sh, which define usage:
# stop_main KIND DEFAULT_TIMEOUT RESUME ARGS... stops runnel-KIND through
# DIR/KIND.pid (DIR: --dir, else <repo>/var/KIND-N for --id N); RESUME as
# for stop_pidfile.
stop_main() {
    local kind="$1" timeout="$2" resume="$3" id=1 dir="" signal=TERM
    shift 3
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --id) id="${2:?--id needs a value}"; shift 2 ;;
            --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
            --kill) signal=KILL; shift ;;
            --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
    done
    [[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got '$timeout'"
    dir="${dir:-$ROOT/var/$kind-$id}"
    # Never signals a pid that has been reused by another program.
    stop_pidfile "runnel-$kind" "$dir/$kind.pid" "$dir" "$signal" "$timeout" "$resume"
}

# ---- network ----------------------------------------------------------------

# True if something accepts connections on HOST:PORT (HOST: 127.0.0.1).
port_busy() {
    (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# Sends a four-letter word to HOST:PORT and prints the reply (empty if
# nothing answers).
four_letter() {
    local host="$1" port="$2" word="$3"
    (
        exec 3<>"/dev/tcp/$host/$port" || exit 0
        printf '%s' "$word" >&3
        timeout 2 cat <&3 || true
    ) 2>/dev/null || true
}

# COUNT distinct 127.0.0.1 ports nobody listens on, on one line (bound all at
# once when python3 is there, so none repeats).
free_ports() {
    if command -v python3 >/dev/null; then
        python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
        return
    fi
    local p out=""
    for _ in $(seq 1 500); do
        p=$((20000 + RANDOM % 40000))
        [[ " $out " == *" $p "* ]] && continue
        if ! port_busy "$p"; then
            out+="${out:+ }$p"
            [[ "$(wc -w <<<"$out")" -lt "$1" ]] || { echo "$out"; return; }
        fi
    done
    die "no free ports found"
}

# ---- files ------------------------------------------------------------------

# KEY's value in a zoo.cfg or server.properties FILE (last one wins,
# surrounding blanks dropped). KEY is a regular expression.
cfg_value() {
    sed -n -E "s/^[[:space:]]*$2[[:space:]]*[=:][[:space:]]*(.*[^[:space:]])[[:space:]]*\$/\1/p" "$1" | tail -n 1
}

# Checks a KEY=VALUE setting given to --set, --broker-config or --coord-config
# ($1 names the flag for the error).
check_setting() {
    [[ "$2" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*= && "$2" != *$'\n'* ]] ||
        die "$1 takes KEY=VALUE (a properties key, '=', a one-line value), got '$2'"
}

# Sets KEY=VALUE ($2) in properties file $1: every line of the key is
# removed and the setting appended.
set_cfg() {
    local file="$1" tmp
    tmp="$(mktemp "$file.XXXXXX")"
    KEY="${2%%=*}" VALUE="${2#*=}" awk '
        BEGIN { key = ENVIRON["KEY"] }
        { line = $0; sub(/^[ \t]+/, "", line) }
        index(line, key) == 1 && substr(line, length(key) + 1) ~ /^[ \t]*[=:]/ { next }
        { print }
        END { print key "=" ENVIRON["VALUE"] }' "$file" >"$tmp" && mv "$tmp" "$file"
}

# The first port of COUNT consecutive free 127.0.0.1 ports, drawn from
# 20000-25999: below the kernel's ephemeral range (32768 up), where a
# client's own connection could take a port between the check and the
# server's bind, and with room for cluster.sh's offsets (+1000, +5000).
free_block() {
    local count="$1" base k busy
    for _ in $(seq 1 200); do
        base=$((20000 + RANDOM % 6000))
        busy=0
        for ((k = 0; k < count; k++)); do
            if port_busy $((base + k)); then busy=1; break; fi
        done
        ((busy == 0)) && { echo "$base"; return 0; }
    done
    die "no $count consecutive free ports found"
}

# CPU seconds (user + system) of the process in PIDFILE so far ("0" if gone).
cpu_secs() {
    local pid
    pid="$(cat "$1" 2>/dev/null || true)"
    [[ -n "$pid" && -r "/proc/$pid/stat" ]] || { echo 0; return; }
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$pid/stat"
}

# ---- binaries and the venv ----------------------------------------------------

# Prints the binary to run: $VAR when set, else target/release/BIN (BIN
# defaults to PACKAGE) once `cargo build --release -p PACKAGE` has built it.
# Returns 1 if the build fails (cargo says why on stderr).
runnel_bin() {
    local var="$1" package="$2" bin="${3:-$2}"
    if [[ -n "${!var:-}" ]]; then
        echo "${!var}"
        return 0
    fi
    local bin_flag=()
    [[ "$bin" == "$package" ]] || bin_flag=(--bin "$bin")
    (cd "$ROOT" && cargo build --release --quiet -p "$package" "${bin_flag[@]}") >&2 || return 1
    echo "${CARGO_TARGET_DIR:-$ROOT/target}/release/$bin"
}

# Exports RUNNEL_BIN (the CLI, built with runnel-broker) and, for each
# program named (default: broker coord registry), RUNNEL_<PROGRAM>_BIN: each
# as set, else target/release/* after one `cargo build --release` of the
# named runnel-<program> packages when any of them is unset (dies if the
# build fails).
export_runnel_bins() {
    local programs=("$@") packages=(-p runnel-broker) missing=0 name var
    ((${#programs[@]})) || programs=(broker coord registry)
    [[ -n "${RUNNEL_BIN:-}" ]] || missing=1
    for name in "${programs[@]}"; do
        var="RUNNEL_${name^^}_BIN"
        [[ -n "${!var:-}" ]] || missing=1
        [[ "$name" == broker ]] || packages+=(-p "runnel-$name")
    done
    if ((missing)); then
        say "cargo build --release (runnel, ${programs[*]/#/runnel-})"
        (cd "$ROOT" && cargo build --release --quiet "${packages[@]}") || die "build failed"
    fi
    local rel="${CARGO_TARGET_DIR:-$ROOT/target}/release"
    export RUNNEL_BIN="${RUNNEL_BIN:-$rel/runnel}"
    for name in "${programs[@]}"; do
        var="RUNNEL_${name^^}_BIN"
        export "$var=${!var:-$rel/runnel-$name}"
    done
}

# % of all cores busy over 2 s (from /proc/stat).
cpu_busy_pct() {
    local a b
    a="$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)"; sleep 2
    b="$(awk '/^cpu / {print $2+$3+$4+$7+$8+$9, $5+$6}' /proc/stat)"
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        busy = y[1] - x[1]; idle = y[2] - x[2]; printf "%.0f", 100 * busy / (busy + idle + 1e-9) }'
}

# For benchmarks: prints cpu_busy_pct, warning on stderr when the machine
# is already busy (the figures mean little while something else runs).
busy_before_run() {
    local busy
    busy="$(cpu_busy_pct)"
    [[ "$busy" -lt 20 ]] || say "warning: the machine is ${busy}% busy before the run; figures will be low and noisy"
    echo "$busy"
}

# Runs `runnel SUBCOMMAND ARGS...` in this process (the Kafka-named wrappers).
exec_runnel() {
    local bin
    bin="$(runnel_bin RUNNEL_BIN runnel-broker runnel)" || die "cargo build of runnel failed"
    exec "$bin" "$@"
}

# The Python of the repository's venv (set up by scripts/test.sh), or
# $RUNNEL_PYTHON.
venv_python() {
    echo "${RUNNEL_PYTHON:-$ROOT/.venv/bin/python}"
}
