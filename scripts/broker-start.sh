#!/usr/bin/env bash
# Starts one runnel-broker in the background, like Kafka's
# `kafka-server-start.sh -daemon`, and prints its bootstrap address once it
# answers Kafka requests.
set -euo pipefail

PROG=broker-start
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
    cat <<EOF2
usage: $(basename "$0") [--id N] [--dir DIR] [--port PORT] [--zookeeper CONNECT]
                       [--config FILE] [--set KEY=VALUE]... [--override KEY=VALUE]...
                       [--timeout SECS]

Starts runnel-broker in the background and waits until it answers ApiVersions.
Prints the bootstrap address (127.0.0.1:PORT) on stdout; everything else on stderr.

  --id N              broker.id (default 1); names the default folder
  --dir DIR           broker folder: server.properties, logs/, broker.log, broker.pid
                      (default: <repo>/var/broker-N)
  --port PORT         listener port written to server.properties (default 9092)
  --zookeeper C       zookeeper.connect (default 127.0.0.1:2181)
  --metrics-port P    also write metrics.listener=127.0.0.1:P (Prometheus
                      metrics at http://127.0.0.1:P/metrics)
  --config FILE       use this server.properties instead of writing one
                      (not with --port/--zookeeper). The one written holds
                      broker.id, listeners, log.dirs, zookeeper.connect and
                      zookeeper.session.timeout.ms=6000 (failover within ~7 s)
  --set K=V           write K=V into the server.properties written here,
                      replacing the key's line (repeatable; not with --config)
  --override K=V      passed to runnel-broker --override (repeatable)
  --timeout SECS      how long to wait for the broker to answer (default 60)

Environment:
  RUNNEL_BROKER_BIN   run this binary instead of building target/release/runnel-broker
EOF2
}

id=1
dir=""
port=""
zk=""
config=""
metrics_port=""
timeout=60
overrides=()
settings=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --id) id="${2:?--id needs a value}"; shift 2 ;;
        --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
        --port) port="${2:?--port needs a value}"; shift 2 ;;
        --zookeeper) zk="${2:?--zookeeper needs a value}"; shift 2 ;;
        --config) config="${2:?--config needs a value}"; shift 2 ;;
        --metrics-port) metrics_port="${2:?--metrics-port needs a value}"; shift 2 ;;
        --override) overrides+=(--override "${2:?--override needs KEY=VALUE}"); shift 2 ;;
        --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
        --set) check_setting --set "${2:?--set needs KEY=VALUE}"; settings+=("$2"); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$id" =~ ^[0-9]+$ ]] || die "--id must be a number, got '$id'"
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got '$timeout'"
[[ -z "$config" || ( -z "$port" && -z "$zk" && -z "$metrics_port" && ${#settings[@]} -eq 0 ) ]] ||
    die "--config excludes --port, --zookeeper, --metrics-port and --set"
[[ -z "$metrics_port" || "$metrics_port" =~ ^[0-9]+$ ]] || die "--metrics-port must be a number, got '$metrics_port'"
member_files broker "$id" "$dir"

if [[ -n "$config" ]]; then
    config="$(absolute_config "$config")"
    listener="$(cfg_value "$config" listeners 2>/dev/null)"
else
    port="${port:-9092}"
    zk="${zk:-127.0.0.1:2181}"
    config="$dir/server.properties"
    mkdir -p "$dir/logs"
    cat >"$config" <<EOF2
# Written by scripts/broker-start.sh; pass --config to use your own.
broker.id=$id
listeners=PLAINTEXT://127.0.0.1:$port
log.dirs=$dir/logs
zookeeper.connect=$zk
# Kafka's default is 18000; 6 s makes a crashed broker's partitions fail over
# within about 7 s (the session has to expire before the controller acts).
zookeeper.session.timeout.ms=6000
EOF2
    if [[ -n "$metrics_port" ]]; then
        echo "metrics.listener=127.0.0.1:$metrics_port" >>"$config"
    fi
    listener="PLAINTEXT://127.0.0.1:$port"
    for setting in "${settings[@]}"; do
        set_cfg "$config" "$setting"
    done
fi
# --set may have replaced the listener.
listener="$(cfg_value "$config" listeners 2>/dev/null)"
listener="${listener:-PLAINTEXT://:9092}"
hostport="${listener#*://}"
hostport="${hostport%%,*}"
host="${hostport%:*}"
port="${hostport##*:}"
[[ -z "$host" || "$host" == "0.0.0.0" ]] && host=127.0.0.1
[[ "$port" =~ ^[0-9]+$ ]] || die "bad listener port in '$listener'"

if port_busy "$port" "$host"; then
    die "$host:$port is already in use"
fi

bin="$(runnel_bin RUNNEL_BROKER_BIN runnel-broker)" || die "cargo build -p runnel-broker failed"
[[ -x "$bin" ]] || die "no runnel-broker binary at $bin"

launch "$pidfile" "$log" "$bin" --config "$config" "${overrides[@]}"

# Ready: an ApiVersions v0 request (correlation id 1) gets a response; a
# TLS or SASL listener (which answers no plaintext request) once it accepts.
ready() {
    if [[ "$listener" != PLAINTEXT://* ]]; then
        port_busy "$port" "$host"
        return
    fi
    (
        exec 3<>"/dev/tcp/$host/$port" || exit 1
        printf '\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00' >&3
        [[ -n "$(timeout 2 head -c 8 <&3 | od -An -tx1)" ]]
    ) 2>/dev/null
}

wait_started runnel-broker "$pidfile" "$log" "$timeout" \
    "$host:$port did not answer within ${timeout}s" ready

echo "broker-start: runnel-broker $id up (pid $pid, dir $dir)" >&2
echo "$host:$port"
