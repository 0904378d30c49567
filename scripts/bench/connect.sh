#!/usr/bin/env bash
# Runnel Connect throughput: one runnel-connect standalone worker on one
# runnel-broker (standalone runnel-coord), each figure next to the limit
# measured in the same run on the same machine.
#
#   bash scripts/bench/connect.sh [--records N] [--size B] [--sink-records M]
#                                 [--batch-size B] [--sink-batch-size B]
#                                 [--pg-fsync on|off]
#
# 1. Anchor: `runnel perf produce` of N records (default 1000000) of B bytes
#    (default 100), acks=all, as fast as it goes, into a 1-partition topic:
#    the broker's produce rate, the ceiling for the file source.
# 2. File source: a file of N lines of B bytes (newline not counted), a
#    FileStreamSource connector (StringConverter, batch.size --batch-size,
#    default 2000, tasks.max 1) onto a new 1-partition topic; timed from the
#    POST /connectors until the topic's end offset (ListOffsets latest, kcat
#    -Q, polled every 0.1 s) reaches N. Records/s, MB/s, % of the anchor.
# 3. JDBC sink: M records (default 200000) of JSON with schemas (Kafka's
#    JsonConverter envelope: struct id int64, name string, amount double)
#    put on a 1-partition topic by kcat (not timed), then a
#    JdbcSinkConnector (JsonConverter schemas.enable=true, auto.create,
#    batch.size --sink-batch-size, default 3000, tasks.max 1) into a
#    PostgreSQL of its own (Debian's server package, initdb'd in the temp
#    folder), timed from the POST until `SELECT count(*)` (psql, polled
#    every 0.2 s) reaches M; once with insert.mode=upsert (pk.mode
#    record_value, pk.fields id) and once with insert.mode=insert, each into
#    its own table (table.name.format), each connector deleted before the
#    next starts. fsync stays ON (PostgreSQL's default; every put of the sink
#    is one transaction, so one WAL flush per put); --pg-fsync off to compare.
#    PostgreSQL's own rate for the same M rows, into a table like the one
#    auto.create makes (bigint primary key, text, double precision), is
#    printed alongside as the database's limit: one psql `COPY ... FROM
#    STDIN` and one `INSERT ... SELECT generate_series`.
#
# Every connector is deleted (and gone from GET /connectors) before the next
# one starts, so each phase has the worker to itself. (Each task has its own
# connections to the broker: an idle sink task's 500 ms long-poll fetches
# once held up every other task's requests on a shared connection.)
#
# The times include the connector's start (task start; for the sinks, the
# consumer group join and the CREATE TABLE), about 0.1-0.2 s. CPU columns are
# % of one core over the phase, from /proc (connect / broker / postgres,
# postgres = the postmaster and all its backends).
#
# Not measured: the rebalance time after a worker dies (issue 14), which
# needs distributed mode; `runnel-connect distributed` stops with "not
# available yet", so there is nothing to measure.
#
# Environment:
#   RUNNEL_BIN, RUNNEL_BROKER_BIN, RUNNEL_COORD_BIN, RUNNEL_CONNECT_BIN: run
#       these binaries instead of building target/release/* (one cargo build
#       --release of runnel-broker, runnel-coord and runnel-connect when any
#       is unset)
#   PG_BIN          PostgreSQL's server bin folder [newest /usr/lib/postgresql/*/bin]
#   BENCH_TIMEOUT   seconds any one timed phase may take [300]
#
# Needs kcat, psql, curl, python3 and the postgresql package. As root,
# PostgreSQL runs as the `postgres` user (runuser) in a folder it owns, as
# tests/pgproc.py does. Prints figures; asserts nothing about speed.
set -euo pipefail

PROG=connect-bench
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

records=1000000
size=100
sink_records=200000
batch_size=2000
sink_batch_size=3000
pg_fsync=on
while [[ $# -gt 0 ]]; do
    case "$1" in
        --records) records="${2:?--records needs a value}"; shift 2 ;;
        --size) size="${2:?--size needs a value}"; shift 2 ;;
        --sink-records) sink_records="${2:?--sink-records needs a value}"; shift 2 ;;
        --batch-size) batch_size="${2:?--batch-size needs a value}"; shift 2 ;;
        --sink-batch-size) sink_batch_size="${2:?--sink-batch-size needs a value}"; shift 2 ;;
        --pg-fsync) pg_fsync="${2:?--pg-fsync needs on or off}"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
for v in records size sink_records batch_size sink_batch_size; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v//_/-} must be a positive whole number, got '${!v}'"
done
((size >= 12)) || die "--size must be at least 12 (each line starts with its number)"
[[ "$pg_fsync" == on || "$pg_fsync" == off ]] || die "--pg-fsync takes on or off, got '$pg_fsync'"
phase_timeout="${BENCH_TIMEOUT:-300}"

for tool in kcat psql curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install kcat postgresql-client curl python3)"
done
if [[ -z "${PG_BIN:-}" ]]; then
    PG_BIN="$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1)"
    PG_BIN="${PG_BIN%/initdb}"
fi
[[ -n "$PG_BIN" && -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" ]] ||
    die "PostgreSQL server not found (apt-get install postgresql, or set PG_BIN)"

export_runnel_bins broker coord connect
for b in "$RUNNEL_BIN" "$RUNNEL_BROKER_BIN" "$RUNNEL_COORD_BIN" "$RUNNEL_CONNECT_BIN"; do
    [[ -x "$b" ]] || die "not an executable: $b"
done

script_start=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/connect-bench.XXXXXX")"
connect_pid=""
pg_started=0
as_pg=()
cleanup() {
    trap - EXIT INT TERM
    if [[ -n "$connect_pid" ]] && is_program "$connect_pid" runnel-connect; then
        stop_pids "$connect_pid"
    fi
    if [[ "$pg_started" == 1 ]]; then
        "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    "$ROOT/scripts/broker-stop.sh" --dir "$work/broker" >/dev/null 2>&1 || true
    "$ROOT/scripts/coord-stop.sh" --dir "$work/coord" >/dev/null 2>&1 || true
    rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- other load: the figures mean little while something else runs
busy_before="$(busy_before_run)"

# ---- cluster
read -r cport bport rport pport <<<"$(free_ports 4)"
"$ROOT/scripts/coord-start.sh" --id 1 --dir "$work/coord" --port "$cport" >/dev/null
bs="$("$ROOT/scripts/broker-start.sh" --id 1 --dir "$work/broker" --port "$bport" \
    --zookeeper "127.0.0.1:$cport/bench" \
    --set "offsets.topic.replication.factor=1" \
    --set "group.initial.rebalance.delay.ms=0")"
broker_pid="$(cat "$work/broker/broker.pid")"
clk_tck="$(getconf CLK_TCK)"

create_topic() {
    "$RUNNEL_BIN" topics --bootstrap-server "$bs" --create --topic "$1" --partitions 1 \
        --replication-factor 1 >/dev/null
}
# The end offset of partition 0 of TOPIC (-1 when it cannot be read).
end_offset() {
    local o
    o="$(kcat -b "$bs" -Q -t "$1:0:-1" 2>/dev/null | sed -n -E 's/.* offset (-?[0-9]+)$/\1/p')"
    echo "${o:--1}"
}

# CPU ticks (user + system) of PIDs together (those gone count 0).
ticks() {
    local p t=0 v
    for p in "$@"; do
        v="$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || true)"
        t=$((t + ${v:-0}))
    done
    echo "$t"
}
# CPU ticks of PostgreSQL: the postmaster's own, its exited backends'
# (cutime + cstime: a psql's backend is gone by the end of the phase) and
# its live backends'.
pg_ticks() {
    [[ "$pg_started" == 1 ]] || { echo 0; return; }
    local master own live
    master="$(head -n 1 "$work/pg/data/postmaster.pid" 2>/dev/null || true)"
    [[ -n "$master" ]] || { echo 0; return; }
    own="$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$master/stat" 2>/dev/null || echo 0)"
    # shellcheck disable=SC2046 # one pid per word
    live="$(ticks $(ps -o pid= --ppid "$master" 2>/dev/null || true))"
    echo $((own + live))
}
# Phase bookkeeping: phase_begin, then phase_end sets `elapsed` (seconds)
# and `cpu` ("connect / broker / postgres", % of one core).
phase_begin() {
    sync
    t_begin="$(now_us)"
    c_begin="$(ticks "${connect_pid:-0}")"
    b_begin="$(ticks "$broker_pid")"
    p_begin="$(pg_ticks)"
}
phase_end() {
    local t c b p
    t="$(now_us)"
    c="$(ticks "${connect_pid:-0}")"
    b="$(ticks "$broker_pid")"
    p="$(pg_ticks)"
    elapsed="$(awk -v a="$t_begin" -v b="$t" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')"
    cpu="$(awk -v s="$elapsed" -v c=$((c - c_begin)) -v b=$((b - b_begin)) -v p=$((p - p_begin)) \
        -v hz="$clk_tck" -v pg="$pg_started" 'BEGIN {
            printf "%.0f / %.0f / ", 100 * c / hz / s, 100 * b / hz / s
            if (pg == 1) printf "%.0f", 100 * p / hz / s; else printf "-" }')"
}
# rate COUNT SECONDS -> per second, whole
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "?" }'; }
# mbs BYTES SECONDS -> MB/s (2^20), two decimals
mbs() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.2f", n / 1048576 / s; else print "?" }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a + 0 == a) printf "%.0f %%", 100 * a / b; else print "-" }'; }

rows=()
row() { # phase records seconds rec/s MB/s versus cpu
    rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s |' "$@")")
}

# ---- 1. anchor: the broker's produce rate for these records
say "anchor: runnel perf produce, $records records of $size B, acks=all, 1 partition"
create_topic bench-anchor
phase_begin
"$RUNNEL_BIN" perf produce --bootstrap-server "$bs" --topic bench-anchor --num-records "$records" \
    --record-size "$size" --throughput -1 --acks all --reporting-interval 100000 \
    >"$work/anchor.out" 2>&1 || { tail -n 5 "$work/anchor.out" >&2; die "runnel perf produce failed"; }
phase_end
line="$(grep ' records sent, .*99.9th' "$work/anchor.out" | tail -n 1)"
anchor_rs="$(sed -E 's/.* ([0-9.]+) records\/sec.*/\1/' <<<"$line" | awk '{ printf "%.0f", $1 }')"
anchor_mb="$(sed -E 's/.*\(([0-9.]+) MB\/sec\).*/\1/' <<<"$line")"
[[ -n "$anchor_rs" && -n "$anchor_mb" ]] || die "no summary line from runnel perf produce: $(tail -n 2 "$work/anchor.out")"
say "anchor: $anchor_rs records/s, $anchor_mb MB/s"
row "broker produce (runnel perf produce, acks=all, batch.size 16384)" "$records" "$elapsed" \
    "$anchor_rs" "$anchor_mb" "100 %" "- / $(cut -d/ -f2 <<<"$cpu" | tr -d ' ') / -"
"$RUNNEL_BIN" topics --bootstrap-server "$bs" --delete --topic bench-anchor >/dev/null 2>&1 || true

# ---- the worker
mkdir -p "$work/connect"
cat >"$work/connect/worker.properties" <<EOF
bootstrap.servers=$bs
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
offset.storage.file.filename=$work/connect/connect.offsets
offset.flush.interval.ms=10000
listeners=http://127.0.0.1:$rport
EOF
rest="http://127.0.0.1:$rport"
launch "$work/connect/connect.pid" "$work/connect/connect.log" \
    "$RUNNEL_CONNECT_BIN" standalone "$work/connect/worker.properties"
connect_pid="$pid"
rest_ready() { curl -sf -o /dev/null "$rest/"; }
wait_started runnel-connect "$work/connect/connect.pid" "$work/connect/connect.log" 30 \
    "runnel-connect did not answer on $rest" rest_ready

# post_connector NAME JSON-CONFIG: POST /connectors, dies unless 201.
post_connector() {
    local code
    code="$(curl -s -o "$work/post.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data "{\"name\":\"$1\",\"config\":$2}" "$rest/connectors")"
    [[ "$code" == 201 ]] || die "POST /connectors $1: HTTP $code: $(cat "$work/post.out")"
}
# delete_connector NAME: DELETE, then waits until it is gone, so that the
# next phase runs alone.
delete_connector() {
    curl -s -o /dev/null -X DELETE "$rest/connectors/$1" || true
    for _ in $(seq 1 100); do
        [[ "$(curl -s -o /dev/null -w '%{http_code}' "$rest/connectors/$1")" == 404 ]] && return 0
        sleep 0.1
    done
    say "warning: connector $1 still listed 10 s after DELETE"
}
# task_state NAME: GET /connectors/NAME/status (states and traces).
task_state() {
    curl -s "$rest/connectors/$1/status" || true
}
# wait_until NAME WHAT TARGET INTERVAL PROBE...: polls PROBE (prints a count)
# every INTERVAL s until it reaches TARGET; sets `reached` (the last count)
# and returns 1, with `why` set, after BENCH_TIMEOUT s ("timed out") or if
# the connector's task FAILED ("task FAILED"; the trace goes to stderr).
wait_until() {
    local name="$1" what="$2" target="$3" interval="$4" deadline polls=0 status
    shift 4
    deadline=$(($(now_ms) + phase_timeout * 1000))
    while :; do
        reached="$("$@")"
        ((reached >= target)) && return 0
        if (($(now_ms) >= deadline)); then
            say "$name: $what at $reached of $target after ${phase_timeout}s; status: $(task_state "$name")"
            why="timed out"
            return 1
        fi
        polls=$((polls + 1))
        if ((polls % 25 == 0)); then status="$(task_state "$name")"; else status=""; fi
        if [[ "$status" == *'"FAILED"'* ]]; then
            say "$name: task FAILED at $reached of $target: $status"
            why="task FAILED"
            return 1
        fi
        alive "$connect_pid" || die "runnel-connect exited; see the end of its log:
$(tail -n 20 "$work/connect/connect.log")"
        sleep "$interval"
    done
}

# ---- 2. file source
say "file source: writing $records lines of $size B"
python3 - "$work/source.txt" "$records" "$size" <<'PYEOF'
import sys
path, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pad = "x" * (size - 11)
with open(path, "w") as f:
    chunk = []
    for i in range(n):
        chunk.append("%010d %s\n" % (i, pad))
        if len(chunk) == 10000:
            f.write("".join(chunk))
            chunk = []
    f.write("".join(chunk))
PYEOF
create_topic bench-file-source
say "file source: FileStreamSource, batch.size $batch_size -> bench-file-source"
phase_begin
post_connector bench-file-source "{\"connector.class\":\"org.apache.kafka.connect.file.FileStreamSourceConnector\",
    \"tasks.max\":\"1\",\"file\":\"$work/source.txt\",\"topic\":\"bench-file-source\",\"batch.size\":\"$batch_size\"}"
src_offset() { end_offset bench-file-source; }
if wait_until bench-file-source "end offset" "$records" 0.1 src_offset; then
    phase_end
    src_rs="$(rate "$records" "$elapsed")"
    say "file source: $records records in ${elapsed}s, $src_rs records/s"
    row "file source -> topic (FileStreamSource, batch.size $batch_size)" "$records" "$elapsed" "$src_rs" \
        "$(mbs $((records * size)) "$elapsed")" "$(pct "$src_rs" "$anchor_rs") of anchor" "$cpu"
else
    phase_end
    row "file source -> topic (FileStreamSource, batch.size $batch_size)" "$reached of $records" \
        "$why" "-" "-" "-" "$cpu"
fi
delete_connector bench-file-source
rm -f "$work/source.txt"

# ---- 3. JDBC sink into PostgreSQL
say "sink: $sink_records JSON records with schemas -> bench-sink (kcat, not timed)"
python3 - "$work/sink.json" "$work/rows.tsv" "$sink_records" <<'PYEOF'
import sys
json_path, tsv_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
schema = ('{"type":"struct","fields":[{"field":"id","type":"int64","optional":false},'
          '{"field":"name","type":"string","optional":true},'
          '{"field":"amount","type":"double","optional":true}],"optional":false}')
with open(json_path, "w") as j, open(tsv_path, "w") as t:
    for i in range(n):
        name, amount = "name-%d" % i, "%.2f" % (i * 0.25)
        j.write('{"schema":%s,"payload":{"id":%d,"name":"%s","amount":%s}}\n' % (schema, i, name, amount))
        t.write("%d\t%s\t%s\n" % (i, name, amount))
PYEOF
sink_bytes=$(($(wc -c <"$work/sink.json") - sink_records))
create_topic bench-sink
kcat -b "$bs" -P -t bench-sink -p 0 -X linger.ms=20 -l "$work/sink.json" ||
    die "kcat -P into bench-sink failed"
rm -f "$work/sink.json"
[[ "$(end_offset bench-sink)" == "$sink_records" ]] ||
    die "bench-sink holds $(end_offset bench-sink) records, not $sink_records"

say "PostgreSQL: initdb, fsync=$pg_fsync"
mkdir -p "$work/pg"
if [[ "$(id -u)" == 0 ]]; then
    chown postgres:postgres "$work/pg"
    chmod 711 "$work" # mktemp's 0700 would keep the postgres user out
    as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$PG_BIN/initdb" -D "$work/pg/data" -U postgres -A trust --no-sync -E UTF8 --locale=C \
    >"$work/pg/initdb.log" 2>&1 || die "initdb failed: $(tail -n 5 "$work/pg/initdb.log")"
pg_started=1
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/postgres.log" \
    -o "-p $pport -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=$pg_fsync" -w -t 60 start \
    >/dev/null 2>&1 || die "PostgreSQL did not start: $(tail -n 5 "$work/pg/postgres.log" 2>/dev/null)"
pg_version="$("$PG_BIN/postgres" --version | sed -n -E 's/.*\(PostgreSQL\) ([^ ]+).*/\1/p')"
sql() { psql -h 127.0.0.1 -p "$pport" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atq "$@"; }
count_rows() { sql -c "SELECT count(*) FROM $1" 2>/dev/null || echo 0; }

for mode in upsert insert; do
    table="bench_$mode"
    name="bench-sink-$mode"
    extra=""
    [[ "$mode" == upsert ]] && extra=",\"pk.mode\":\"record_value\",\"pk.fields\":\"id\""
    say "sink: JdbcSinkConnector insert.mode=$mode, batch.size $sink_batch_size -> table $table"
    phase_begin
    post_connector "$name" "{\"connector.class\":\"io.confluent.connect.jdbc.JdbcSinkConnector\",
        \"tasks.max\":\"1\",\"topics\":\"bench-sink\",
        \"connection.url\":\"jdbc:postgresql://127.0.0.1:$pport/postgres\",\"connection.user\":\"postgres\",
        \"value.converter\":\"org.apache.kafka.connect.json.JsonConverter\",
        \"value.converter.schemas.enable\":\"true\",
        \"insert.mode\":\"$mode\"$extra,\"auto.create\":\"true\",\"batch.size\":\"$sink_batch_size\",
        \"table.name.format\":\"$table\"}"
    count_table() { count_rows "$table"; }
    label="topic -> PostgreSQL (JdbcSink insert.mode=$mode, batch.size $sink_batch_size)"
    if wait_until "$name" "rows in $table" "$sink_records" 0.2 count_table; then
        phase_end
        sink_rs="$(rate "$sink_records" "$elapsed")"
        say "sink $mode: $sink_records rows in ${elapsed}s, $sink_rs rows/s"
        row "$label" "$sink_records" "$elapsed" "$sink_rs" "$(mbs "$sink_bytes" "$elapsed")" "@COPY@" "$cpu"
    else
        phase_end
        row "$label" "$reached of $sink_records" "$why" "-" "-" "-" "$cpu"
    fi
    delete_connector "$name"
done

# PostgreSQL's own rate for the same rows: the database's limit.
ddl="(id bigint NOT NULL PRIMARY KEY, name text, amount double precision)"
say "PostgreSQL: COPY FROM STDIN of the same $sink_records rows"
sql -c "CREATE TABLE bench_copy $ddl"
phase_begin
sql -c "COPY bench_copy FROM STDIN" <"$work/rows.tsv"
phase_end
copy_rs="$(rate "$sink_records" "$elapsed")"
row "PostgreSQL alone: psql COPY FROM STDIN (same rows, table with primary key)" "$sink_records" \
    "$elapsed" "$copy_rs" "-" "100 %" "$cpu"
say "PostgreSQL: INSERT ... SELECT generate_series"
sql -c "CREATE TABLE bench_series $ddl"
phase_begin
sql -c "INSERT INTO bench_series SELECT i, 'name-' || i, i * 0.25 FROM generate_series(0, $((sink_records - 1))) i"
phase_end
series_rs="$(rate "$sink_records" "$elapsed")"
row "PostgreSQL alone: INSERT ... SELECT generate_series (one statement)" "$sink_records" "$elapsed" \
    "$series_rs" "-" "$(pct "$series_rs" "$copy_rs") of COPY" "$cpu"
for i in "${!rows[@]}"; do
    if [[ "${rows[$i]}" == *"@COPY@"* ]]; then
        r="$(awk -F'|' '{ gsub(/ /, "", $5); print $5 }' <<<"${rows[$i]}")"
        rows[i]="${rows[$i]//@COPY@/$(pct "$r" "$copy_rs") of COPY}"
    fi
done

# ---- report
echo
echo "runnel-connect benchmark, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ), $((SECONDS - script_start)) s"
echo "machine: ${busy_before}% CPU busy (all cores) in the 2 s before the run; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "one runnel-broker (1-partition topics, RF 1) on a standalone runnel-coord; one runnel-connect standalone worker; PostgreSQL $pg_version with fsync=$pg_fsync, synchronous_commit=on"
echo "file lines and anchor records: $size B values; sink records: JsonConverter envelope with schema, $((sink_bytes / sink_records)) B values on average"
echo "connector times: from POST /connectors until the topic's end offset (source) or SELECT count(*) (sink) reaches the count"
echo "MB = 2^20 bytes of record values; CPU = connect / broker / postgres, % of one core over the phase"
echo "not measured: rebalance time after a worker dies (needs distributed mode, not available yet)"
echo
echo "| phase | records | seconds | records/s | MB/s | versus | CPU connect / broker / postgres |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
