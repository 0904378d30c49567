#!/usr/bin/env bash
# Starts one runnel-coord member in the background, like ZooKeeper's
# `zkServer.sh start`, and prints its connect string once it answers `ruok`.
set -euo pipefail

PROG=coord-start
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
    cat <<EOF
usage: $(basename "$0") [--id N] [--dir DIR] [--port PORT] [--servers LIST] [--tick MS]
                        [--set KEY=VALUE]... [--config FILE] [--wait serving|running]
                        [--timeout SECS]

Starts runnel-coord in the background and waits until it serves clients.
Prints the connect string (127.0.0.1:PORT) on stdout; everything else on stderr.

  --id N          member id (default 1); names the default folder and, in an
                  ensemble, is written to DIR/data/myid
  --dir DIR       member folder: zoo.cfg, data/, coord.log, coord.pid
                  (default: <repo>/var/coord-N)
  --port PORT     client port written to zoo.cfg (default 2181)
  --servers LIST  ensemble members as K=HOST:PEERPORT[,K=HOST:PEERPORT...]
                  (e.g. 1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890);
                  written as server.K lines, and --id goes to the myid file.
                  Without it the member is standalone.
  --tick MS       tickTime written to zoo.cfg (default 2000)
  --metrics-port P  also write ZooKeeper's Prometheus provider keys
                  (metricsProvider.className, metricsProvider.httpHost=127.0.0.1,
                  metricsProvider.httpPort=P): metrics at http://127.0.0.1:P/metrics
  --set K=V       write K=V into the zoo.cfg written here, replacing the
                  key's line (repeatable; e.g. maxClientCnxns=0)
  --config FILE   use this zoo.cfg instead of writing one (not with --port,
                  --servers, --tick or --set)
  --wait W        serving: wait for 'ruok' and a serving 'srvr' (default);
                  running: wait for 'ruok' only -- an ensemble member serves
                  only once a majority runs, so start them all with this
                  and then wait for the ensemble (scripts/cluster.sh does)
  --timeout SECS  how long to wait (default 30)

Environment:
  RUNNEL_COORD_BIN  run this binary instead of building target/release/runnel-coord
EOF
}

id=1
dir=""
port=""
config=""
servers=""
tick=""
metrics_port=""
wait_for=serving
timeout=30
settings=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --id) id="${2:?--id needs a value}"; shift 2 ;;
        --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
        --port) port="${2:?--port needs a value}"; shift 2 ;;
        --config) config="${2:?--config needs a value}"; shift 2 ;;
        --servers) servers="${2:?--servers needs a value}"; shift 2 ;;
        --tick) tick="${2:?--tick needs a value}"; shift 2 ;;
        --metrics-port) metrics_port="${2:?--metrics-port needs a value}"; shift 2 ;;
        --wait) wait_for="${2:?--wait needs a value}"; shift 2 ;;
        --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
        --set) check_setting --set "${2:?--set needs KEY=VALUE}"; settings+=("$2"); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ "$id" =~ ^[0-9]+$ ]] || die "--id must be a number, got '$id'"
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds, got '$timeout'"
[[ -z "$port" || -z "$config" ]] || die "--port and --config exclude each other (the port comes from the config)"
[[ -z "$config" || ( -z "$servers$tick$metrics_port" && ${#settings[@]} -eq 0 ) ]] ||
    die "--servers, --tick, --metrics-port and --set write a zoo.cfg; they do not go with --config"
[[ -z "$metrics_port" || "$metrics_port" =~ ^[0-9]+$ ]] || die "--metrics-port must be a number, got '$metrics_port'"
[[ -z "$tick" || "$tick" =~ ^[0-9]+$ ]] || die "--tick must be milliseconds, got '$tick'"
[[ "$wait_for" == serving || "$wait_for" == running ]] || die "--wait takes serving or running, got '$wait_for'"
# K=HOST:PORT entries, checked now so a typo never reaches the zoo.cfg.
server_lines=""
if [[ -n "$servers" ]]; then
    IFS=',' read -r -a entries <<<"$servers"
    for entry in "${entries[@]}"; do
        [[ "$entry" =~ ^([0-9]+)=([^=:,]+:[0-9]+(:[0-9]+)?)$ ]] ||
            die "--servers entry '$entry' is not K=HOST:PEERPORT"
        server_lines+="server.${BASH_REMATCH[1]}=${BASH_REMATCH[2]}"$'\n'
    done
    grep -q "^server\\.$id=" <<<"$server_lines" || die "--servers has no entry for --id $id"
fi
member_files coord "$id" "$dir"

if [[ -n "$config" ]]; then
    config="$(absolute_config "$config")"
    port="$(cfg_value "$config" clientPort)"
    host="$(cfg_value "$config" clientPortAddress)"
    port="${port:-2181}"
    # A server bound to all addresses answers on loopback too.
    [[ -z "$host" || "$host" == "0.0.0.0" ]] && host=127.0.0.1
else
    port="${port:-2181}"
    host=127.0.0.1
    config="$dir/zoo.cfg"
    mkdir -p "$dir/data"
    cat >"$config" <<EOF
# Written by scripts/coord-start.sh; pass --config to use your own.
tickTime=${tick:-2000}
dataDir=$dir/data
clientPort=$port
clientPortAddress=$host
4lw.commands.whitelist=*
EOF
    if [[ -n "$metrics_port" ]]; then
        cat >>"$config" <<EOF
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpHost=127.0.0.1
metricsProvider.httpPort=$metrics_port
EOF
    fi
    if [[ -n "$server_lines" ]]; then
        printf '%s' "$server_lines" >>"$config"
        echo "$id" >"$dir/data/myid"
    fi
    for setting in "${settings[@]}"; do
        set_cfg "$config" "$setting"
    done
fi
[[ "$port" =~ ^[0-9]+$ ]] || die "bad client port '$port'"

# Something else on the port would answer our 'ruok' and fool the wait below.
if [[ -n "$(four_letter "$host" "$port" ruok)" ]] || port_busy "$port" "$host"; then
    die "$host:$port is already in use"
fi

bin="$(runnel_bin RUNNEL_COORD_BIN runnel-coord)" || die "cargo build -p runnel-coord failed"
[[ -x "$bin" ]] || die "no runnel-coord binary at $bin"

launch "$pidfile" "$log" "$bin" --config "$config"

# Ready: 'ruok' says imok (ZooKeeper says so before it serves sessions,
# hence also no "not currently serving requests" from 'srvr', unless we
# were asked to wait for the process alone).
ready() {
    [[ "$(four_letter "$host" "$port" ruok)" == "imok" ]] || return 1
    [[ "$wait_for" == running ]] && return 0
    ! four_letter "$host" "$port" srvr | grep -q 'not currently serving'
}

wait_started runnel-coord "$pidfile" "$log" "$timeout" \
    "$host:$port not $wait_for within ${timeout}s" ready

echo "coord-start: runnel-coord $id $wait_for (pid $pid, dir $dir)" >&2
echo "$host:$port"
