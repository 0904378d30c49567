#!/usr/bin/env bash
# A whole local Runnel cluster under one folder: the README's quick start.
#
# The cluster is the coordination ensemble (coord-1..N) and the brokers
# (broker-1..M), which keep their metadata in coord under the chroot /runnel.
#
# Layout and ports (coord member K of N, base port B, peer base port Q):
#   <dir>/coord-K/zoo.cfg      tickTime, dataDir, clientPort=B+K-1,
#                              clientPortAddress=127.0.0.1, one server.J line
#                              per member: server.J=127.0.0.1:Q+J-1
#   <dir>/coord-K/data/myid    K (ensembles only; N=1 runs standalone)
#   <dir>/coord-K/coord.log, coord.pid
# Defaults: B=2181 (client ports 2181, 2182, 2183), Q=B+707 (peer ports 2888,
# 2889, 2890 for the default B, as ZooKeeper's habit of 2888).
#
# Broker K of M, broker base port P (default 9092), written by broker-start.sh:
#   <dir>/broker-K/server.properties  broker.id=K,
#                              listeners=PLAINTEXT://127.0.0.1:P+K-1,
#                              log.dirs=<dir>/broker-K/logs,
#                              zookeeper.connect=<every coord member>/runnel,
#                              zookeeper.session.timeout.ms=6000
#                              metrics.listener=127.0.0.1:P+K-1+1000
#   <dir>/broker-K/logs/, broker.log, broker.pid
# Prometheus metrics: coord-K at http://127.0.0.1:B+K-1+5000/metrics (zoo.cfg's
# metricsProvider.* keys; 7181 for the default B), broker-K at
# http://127.0.0.1:P+K-1+1000/metrics (10092 for the default P); 'up' prints
# every URL.
# The web console (`runnel console`): <dir>/console/ (console.pid, console.log,
# console.port), at http://127.0.0.1:P-1012/ (8080 for the default P); 'up'
# starts it after the brokers and prints its URL, 'down' stops it.
# The Schema Registry (runnel-registry): <dir>/registry/
# (schema-registry.properties, registry.pid, registry.log, registry.port), at
# http://127.0.0.1:P-1011 (8081, Confluent's port, for the default P); its
# state is the _schemas topic. 'up' starts it after the console.
# runnel-broker creates a missing chroot itself (as Kafka does), registers
# /runnel/brokers/ids/K (ephemeral), and the first one up creates
# /runnel/controller. Three brokers by default, so topics can have
# --replication-factor 3 and survive the loss of one broker.
# With --secure (a new folder): <dir>/certs/ holds a development CA
# (`runnel certs`: ca.pem, broker.pem, client-admin.pem), each broker's one
# listener is SASL_SSL://127.0.0.1:P+K-1 (TLS, then SASL PLAIN or
# SCRAM-SHA-256/512), brokers replicate to each other over it as user admin,
# and <dir>/client.properties holds a ready client configuration (librdkafka
# keys: kcat -F, confluent-kafka, and every script's --command-config). The
# console then connects with --command-config <dir>/client.properties, and
# the registry's schema-registry.properties carries Confluent's kafkastore.*
# security keys (SASL_SSL, SASL PLAIN as admin, the development CA).
# Coord takes SASL logins too: the ensemble's members get <dir>/coord_jaas.conf
# (jaasLoginConfig, a Server section with user kafka) and brokers, registry
# and console log in with <dir>/coord_client_jaas.conf (a Client section:
# java.security.auth.login.config in server.properties and
# schema-registry.properties, KAFKA_OPTS for the console); brokers and
# registry set zookeeper.set.acl=true, so their znodes are writable by
# sasl:kafka only (world READ, none on /config/users): an anonymous coord
# client can read the layout but change nothing. (Sessions are not forced
# to log in, enforce.auth.enabled: this script's own status checks, and
# zkCli-style tools, read coord anonymously.)
set -euo pipefail

PROG=cluster
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
SCRIPTS="$ROOT/scripts"
# Metrics ports, offset from each member's client or listener port.
COORD_METRICS_OFFSET=5000
BROKER_METRICS_OFFSET=1000
# The console's and the Schema Registry's ports, below the first broker's
# (9092 - 1012 = 8080, 9092 - 1011 = 8081: Confluent's default).
CONSOLE_PORT_OFFSET=1012
REGISTRY_PORT_OFFSET=1011

usage() {
    cat <<EOF
usage: $(basename "$0") up      [--coord N] [--brokers M] [--dir DIR] [--base-port PORT]
                               [--peer-base-port PORT] [--broker-base-port PORT]
                               [--tick MS] [--timeout SECS]
                               [--broker-config KEY=VALUE]... [--coord-config KEY=VALUE]...
                               [--secure]
       $(basename "$0") down    [--dir DIR] [--wipe]
       $(basename "$0") status  [--dir DIR]
       $(basename "$0") kill|pause|resume|stop|start|restart NAME [--dir DIR] [--timeout SECS]

  up        build and start the members: the coord ensemble first (wait until
            every member serves and one is leader), then the brokers (wait
            until each answers Kafka requests and is registered in coord under
            /runnel/brokers/ids/K, and one of them is controller); print where
            to connect:
              coord: 127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183
              brokers: 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
            Members already running are left alone; a folder that already holds
            a cluster is started as it was written (its zoo.cfg and
            server.properties files win).
  down      stop every member with SIGTERM, the brokers first, then coord
            (--wipe: also delete data and logs)
  status    list members: coord-K with pid, client port, peer port, role
            (leader, follower, standalone, not serving, paused, down) and zxid;
            broker-K with pid, port and role (controller if /runnel/controller
            names it, broker, not registered, paused, down)

  Watching failover, NAME being a member such as coord-2 or broker-1:
  kill NAME     SIGKILL (a crash)          pause NAME   SIGSTOP
  stop NAME     SIGTERM, wait for exit     resume NAME  SIGCONT
  start NAME    start a stopped member     restart NAME stop (if running) + start
  start/restart wait until a coord member serves again when a majority of the
  ensemble runs, and until a broker answers and is registered in coord again
  (after a kill that takes until coord expires the old session: up to
  zookeeper.session.timeout.ms, 6 s in the server.properties written here).
  Only processes whose command line names runnel-coord (coord-K) or
  runnel-broker (broker-K) are ever signalled.

  What each action does to a broker's partitions: kill (SIGKILL) and pause
  (SIGSTOP) take effect once coord expires the broker's session
  (zookeeper.session.timeout.ms); the controller then elects new leaders from
  the ISR. A paused follower also leaves the ISR after replica.lag.time.max.ms.
  stop (SIGTERM) is a controlled shutdown: the broker asks the controller to
  move its leaderships first, then exits. A broker started again catches up
  and rejoins the ISR; scripts/demo-failover.sh shows all of it.

  --coord N            coord members (default 3; 1 = standalone, no server lines)
  --brokers M          brokers (default 3; 0 = the coord ensemble alone). A folder
                       that holds brokers keeps them; one without brokers gets M
                       only when --brokers is given.
  --broker-base-port P listener port of broker-1; broker-K gets P+K-1
                       (default 9092)
  --dir DIR            cluster folder, one sub-folder per member
                       (default: <repo>/var/cluster)
  --base-port PORT     client port of coord-1; coord-K gets PORT+K-1 (default 2181)
  --port PORT          same as --base-port (older spelling)
  --peer-base-port P   peer port of coord-1; coord-K gets P+K-1
                       (default: base port + 707, i.e. 2888 for 2181)
  --tick MS            tickTime of new members (default 2000)
  --broker-config K=V  put K=V in every broker's server.properties (repeatable),
                       e.g. --broker-config num.partitions=4
                       --broker-config default.replication.factor=3
  --coord-config K=V   put K=V in every coord member's zoo.cfg (repeatable)
                       Both replace a line the script wrote for the same key;
                       on a folder written earlier they change its files, and
                       a member already running reads them when it restarts.
  --secure             (new folder) TLS and SASL on every broker: a development CA
                       in <dir>/certs, listeners SASL_SSL://127.0.0.1:P+K-1,
                       replication over them as user admin (SASL PLAIN, its
                       password generated), and <dir>/client.properties, the
                       client configuration 'up' prints. The console connects
                       with --command-config <dir>/client.properties, the Schema
                       Registry with kafkastore.security.protocol=SASL_SSL,
                       kafkastore.ssl.truststore.location, kafkastore.sasl.* in
                       its schema-registry.properties. Coord takes SASL logins
                       (DIGEST-MD5, user kafka, <dir>/coord_jaas.conf); all of
                       them log in, and their znodes get zookeeper.set.acl's
                       ACLs (sasl:kafka ALL, world READ): anonymous coord
                       clients can read but change nothing.
  --timeout SECS       how long to wait for members/the ensemble (default 60)
  --wipe               with down: remove the member folders

Environment:
  RUNNEL_COORD_BIN   run this binary instead of building target/release/runnel-coord
  RUNNEL_BROKER_BIN  run this binary instead of building target/release/runnel-broker
EOF
}

[[ $# -gt 0 ]] || { usage >&2; exit 1; }
action="$1"
shift
case "$action" in
    up | down | status) ;;
    kill | pause | resume | stop | start | restart) ;;
    -h | --help | help) usage; exit 0 ;;
    *) usage >&2; die "unknown action: $action" ;;
esac

name=""
case "$action" in
    kill | pause | resume | stop | start | restart)
        [[ $# -gt 0 && "$1" != -* ]] || die "$action needs a member name such as coord-2 or broker-1"
        name="$1"
        shift
        ;;
esac

dir="$ROOT/var/cluster"
wipe=false
coord_n=""
brokers=""
base_port=""
peer_base=""
broker_base=""
tick=2000
timeout=60
broker_settings=()
coord_settings=()
secure=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
        --wipe) wipe=true; shift ;;
        --secure) secure=true; shift ;;
        --coord) coord_n="${2:?--coord needs a value}"; shift 2 ;;
        --brokers) brokers="${2:?--brokers needs a value}"; shift 2 ;;
        --base-port | --port) base_port="${2:?$1 needs a value}"; shift 2 ;;
        --peer-base-port) peer_base="${2:?--peer-base-port needs a value}"; shift 2 ;;
        --broker-base-port) broker_base="${2:?--broker-base-port needs a value}"; shift 2 ;;
        --tick) tick="${2:?--tick needs a value}"; shift 2 ;;
        --timeout) timeout="${2:?--timeout needs a value}"; shift 2 ;;
        --broker-config)
            check_setting "$1" "${2:?--broker-config needs KEY=VALUE}"
            broker_settings+=(--set "$2"); shift 2 ;;
        --coord-config)
            check_setting "$1" "${2:?--coord-config needs KEY=VALUE}"
            coord_settings+=(--set "$2"); shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for v in "$coord_n" "$brokers" "$base_port" "$peer_base" "$broker_base" "$tick" "$timeout"; do
    [[ -z "$v" || "$v" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$v'"
done
[[ -z "$coord_n" ]] || ((coord_n >= 1 && coord_n <= 9)) || die "--coord takes 1..9 (1, 3 or 5 make sense)"
[[ -z "$brokers" ]] || ((brokers <= 99)) || die "--brokers takes 0..99"
if [[ -n "$coord_n" ]] && ((coord_n > 1 && coord_n % 2 == 0)); then
    echo "cluster: warning: $coord_n members tolerate no more failures than $((coord_n - 1))" >&2
fi
[[ "$action" != up ]] || mkdir -p "$dir"
[[ ! -d "$dir" ]] || dir="$(cd "$dir" && pwd)"

# KEY from a zoo.cfg or server.properties that may be missing ("" then).
cfg() { cfg_value "$1" "$2" 2>/dev/null; }

# Folders of the members named KIND-K (coord, broker) that hold FILE, in id order.
members_of() {
    local d
    for d in "$dir/$1"-*; do
        if [[ -d "$d" && -f "$d/$2" ]]; then echo "$d"; fi
    done | sort -V
}

# K of a member folder KIND-K.
folder_id() { basename "$1" | sed 's/^[a-z]*-//'; }

# "127.0.0.1:PORT,..." over the folders MEMBERS prints, PORT_OF giving each port.
address_list() {
    local member out=""
    while read -r member; do
        out+="${out:+,}127.0.0.1:$("$2" "$member")"
    done < <("$1")
    echo "$out"
}

# Builds (unless VAR is set) the binary of PACKAGE; prints its path.
package_bin() {
    runnel_bin "$1" "$2" || die "cargo build -p $2 failed"
}
coord_bin() { package_bin RUNNEL_COORD_BIN runnel-coord; }
# Sets and exports RUNNEL_COORD_BIN / RUNNEL_BROKER_BIN for the start scripts
# (exits if the build fails).
use_coord_bin() {
    RUNNEL_COORD_BIN="$(coord_bin)"
    export RUNNEL_COORD_BIN
}
use_broker_bin() {
    RUNNEL_BROKER_BIN="$(package_bin RUNNEL_BROKER_BIN runnel-broker)"
    export RUNNEL_BROKER_BIN
}

coord_members() { members_of coord zoo.cfg; }
member_id() { folder_id "$1"; }
member_pid() { cat "$1/coord.pid" 2>/dev/null || true; }
member_port() { cfg "$1/zoo.cfg" clientPort; }
# Peer port from the member's own server.K line ("-" when standalone).
member_peer_port() {
    local line
    line="$(cfg "$1/zoo.cfg" "server\\.$(member_id "$1")")"
    [[ -n "$line" ]] && echo "$line" | cut -d: -f2 | cut -d';' -f1 || echo "-"
}
member_count() { coord_members | wc -l; }

# Role of a member as status shows it.
member_role() {
    local member="$1" pid reply mode
    pid="$(member_pid "$member")"
    is_coord "$pid" || { echo down; return; }
    [[ "$(proc_state "$pid")" == "T" ]] && { echo paused; return; }
    reply="$(four_letter 127.0.0.1 "$(member_port "$member")" srvr)"
    if [[ -z "$reply" ]]; then
        echo "not answering"
    elif grep -q 'not currently serving' <<<"$reply"; then
        echo "not serving"
    else
        mode="$(sed -n 's/^Mode: *//p' <<<"$reply")"
        echo "${mode:-unknown}"
    fi
}

member_zxid() {
    four_letter 127.0.0.1 "$(member_port "$1")" srvr | sed -n 's/^Zxid: *//p'
}

# Starts one member from its existing zoo.cfg, waiting for the process only.
start_member() {
    local member="$1"
    "$SCRIPTS/coord-start.sh" --id "$(member_id "$member")" --dir "$member" \
        --config "$member/zoo.cfg" --wait running --timeout "$timeout" >/dev/null
}

# Waits until every member serves and (ensemble) exactly one is leader.
wait_ensemble() {
    local deadline=$(($(now_ms) + timeout * 1000)) member roles leaders bad n
    n="$(member_count)"
    while true; do
        roles=""
        leaders=0
        bad=0
        while read -r member; do
            role="$(member_role "$member")"
            roles+="$(basename "$member")=$role "
            case "$role" in
                leader) leaders=$((leaders + 1)) ;;
                follower) ;;
                standalone) ((n == 1)) || bad=1 ;;
                *) bad=1 ;;
            esac
        done < <(coord_members)
        if ((bad == 0)) && { ((n == 1)) || ((leaders == 1)); }; then
            return 0
        fi
        if (($(now_ms) >= deadline)); then
            echo "cluster: ensemble not ready within ${timeout}s: $roles" >&2
            return 1
        fi
        sleep 0.1
    done
}

connect_string() { address_list coord_members member_port; }

# ---- brokers -------------------------------------------------------------------

CHROOT=/runnel

broker_members() { members_of broker server.properties; }
broker_id() { folder_id "$1"; }
broker_pid() { cat "$1/broker.pid" 2>/dev/null || true; }
# Port of the first listener (PLAINTEXT://127.0.0.1:9092 -> 9092).
broker_port() {
    local l
    l="$(cfg "$1/server.properties" listeners)"
    l="${l%%,*}"
    echo "${l##*:}"
}
# The chroot in the broker's zookeeper.connect ("" for none).
broker_chroot() {
    local zk
    zk="$(cfg "$1/server.properties" zookeeper.connect)"
    if [[ "$zk" == */* ]]; then echo "/${zk#*/}"; fi
}
broker_count() { broker_members | wc -l; }

bootstrap_list() { address_list broker_members broker_port; }

# One coord shell command against the ensemble (stdout: the reply; fails if
# the command fails or coord does not answer within 5 s).
coord_shell() {
    local bin="${RUNNEL_COORD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/runnel-coord}"
    [[ -x "$bin" ]] || bin="$(coord_bin)"
    timeout 5 "$bin" shell --server "$(connect_string)" -- "$@" 2>/dev/null
}

# True if coord answers at all.
coord_reachable() { coord_shell ls / >/dev/null; }

# Broker ids registered under CHROOT/brokers/ids, one a line.
registered_ids() {
    { coord_shell ls "$1/brokers/ids" || true; } | tr -d '[] ' | tr ',' '\n' | grep -E '^[0-9]+$' || true
}

# The session owning an ephemeral node, from `get -s` output on stdin.
ephemeral_owner() { sed -n -E 's/^ephemeralOwner[[:space:]]*=[[:space:]]*//p'; }

# The broker id in CHROOT/controller ("" if none). Only when that node and
# the broker's /brokers/ids/K belong to the same session: a broker that stops
# or crashes leaves both behind until coord expires its session, and one
# restarted before then registers anew but is not the controller.
controller_id() {
    local chroot="$1" reply id
    reply="$(coord_shell get -s "$chroot/controller" || true)"
    id="$(sed -n -E 's/.*"brokerid"[[:space:]]*:[[:space:]]*(-?[0-9]+).*/\1/p' <<<"$reply" | head -n 1)"
    [[ -n "$id" ]] || return 0
    if [[ "$(ephemeral_owner <<<"$reply")" == \
        "$({ coord_shell get -s "$chroot/brokers/ids/$id" || true; } | ephemeral_owner)" ]]; then
        echo "$id"
    fi
}

# Role of a broker as status shows it; IDS and CONTROLLER as read from coord
# ("?" for both when coord does not answer).
broker_role() {
    local member="$1" ids="$2" controller="$3" pid id
    pid="$(broker_pid "$member")"
    is_broker "$pid" || { echo down; return; }
    [[ "$(proc_state "$pid")" == "T" ]] && { echo paused; return; }
    id="$(broker_id "$member")"
    if [[ "$ids" == "?" ]]; then
        echo "running (coord unreachable)"
    elif [[ "$controller" == "$id" ]]; then
        echo controller
    elif grep -qx "$id" <<<"$ids"; then
        echo broker
    else
        echo "not registered"
    fi
}

# Starts one broker from its existing server.properties; broker-start.sh
# returns once it answers ApiVersions.
start_broker() {
    local member="$1"
    "$SCRIPTS/broker-start.sh" --id "$(broker_id "$member")" --dir "$member" \
        --config "$member/server.properties" --timeout "$timeout" >/dev/null
}

# Waits until every broker folder given is registered in coord (its
# /runnel/brokers/ids/K node exists); fails early if one exits.
wait_registered() {
    local deadline=$(($(now_ms) + timeout * 1000)) member ids missing chroot
    chroot="$(broker_chroot "$1")"
    while true; do
        ids="$(registered_ids "$chroot")"
        missing=""
        for member in "$@"; do
            is_broker "$(broker_pid "$member")" ||
                die "$(basename "$member") exited; see $member/broker.log"
            grep -qx "$(broker_id "$member")" <<<"$ids" || missing+=" $(basename "$member")"
        done
        [[ -n "$missing" ]] || return 0
        if (($(now_ms) >= deadline)); then
            echo "cluster: not registered in coord ($chroot/brokers/ids) within ${timeout}s:$missing" >&2
            return 1
        fi
        sleep 0.2
    done
}

# Waits until CHROOT/controller names a running broker of this cluster.
wait_controller() {
    local chroot="$1" deadline=$(($(now_ms) + timeout * 1000)) id
    while true; do
        id="$(controller_id "$chroot")"
        if [[ -n "$id" ]] && is_broker "$(broker_pid "$dir/broker-$id")"; then
            return 0
        fi
        if (($(now_ms) >= deadline)); then
            echo "cluster: no controller in $chroot/controller within ${timeout}s" >&2
            return 1
        fi
        sleep 0.2
    done
}

# --broker-config / --coord-config on a folder written earlier: FILE gets
# each setting (after the pid and the check that it runs); a running member
# reads it when it restarts.
apply_settings() {
    local file="$1" pid="$2" running="$3" flag setting
    shift 3
    while (($# >= 2)); do
        flag="$1" setting="$2"
        shift 2
        [[ "$flag" == --set ]] || continue
        set_cfg "$file" "$setting"
        if "$running" "$pid"; then
            echo "cluster: $(basename "$(dirname "$file")") is running; ${setting%%=*} takes effect when it restarts" >&2
        fi
    done
}

cmd_up() {
    local n existing member k cport pport bport servers="" pid m existing_b
    local new_brokers=() members=()
    # ---- what to start: a folder that holds a cluster is restarted as is ----
    existing="$(member_count)"
    if ((existing > 0)); then
        n="$existing"
        [[ -z "$coord_n" || "$coord_n" == "$n" ]] ||
            die "$dir already holds a $n-member ensemble; use 'down --wipe' first or another --dir"
        member="$(coord_members | head -n 1)"
        [[ -z "$base_port" || "$base_port" == "$(member_port "$member")" ]] ||
            die "$dir was written with base port $(member_port "$member"); use 'down --wipe' first or another --dir"
    else
        n="${coord_n:-3}"
        base_port="${base_port:-2181}"
        peer_base="${peer_base:-$((base_port + 707))}"
        ((base_port + n - 1 <= 65535 && peer_base + n - 1 <= 65535)) || die "ports out of range"
        if ((n > 1)); then
            for ((k = 1; k <= n; k++)); do
                servers+="${servers:+,}$k=127.0.0.1:$((peer_base + k - 1))"
            done
        fi
    fi
    existing_b="$(broker_count)"
    if ((existing_b > 0)); then
        m="$existing_b"
        [[ -z "$brokers" || "$brokers" == "$m" ]] ||
            die "$dir already holds $m broker(s); use 'down --wipe' first or another --dir"
        member="$(broker_members | head -n 1)"
        [[ -z "$broker_base" || "$broker_base" == "$(broker_port "$member")" ]] ||
            die "$dir was written with broker base port $(broker_port "$member"); use 'down --wipe' first or another --dir"
    else
        # A new folder gets the default; an existing coord-only one only what
        # --brokers asks for.
        if ((existing > 0)); then m="${brokers:-0}"; else m="${brokers:-3}"; fi
        broker_base="${broker_base:-9092}"
        ((broker_base + m - 1 <= 65535)) || die "broker ports out of range"
        for ((k = 1; k <= m; k++)); do
            new_brokers+=("$k")
        done
    fi

    # Every new port must be free before anything starts: a foreign server on
    # a client port would answer our readiness checks.
    if ((existing == 0)); then
        for ((k = 1; k <= n; k++)); do
            cport=$((base_port + k - 1))
            port_busy "$cport" && die "client port $cport is in use (--base-port to move)"
            port_busy $((cport + COORD_METRICS_OFFSET)) &&
                die "coord metrics port $((cport + COORD_METRICS_OFFSET)) is in use (--base-port to move)"
            if ((n > 1)); then
                pport=$((peer_base + k - 1))
                port_busy "$pport" && die "peer port $pport is in use (--peer-base-port to move)"
            fi
        done
    fi
    for k in "${new_brokers[@]}"; do
        bport=$((broker_base + k - 1))
        port_busy "$bport" && die "broker port $bport is in use (--broker-base-port to move)"
        port_busy $((bport + BROKER_METRICS_OFFSET)) &&
            die "broker metrics port $((bport + BROKER_METRICS_OFFSET)) is in use (--broker-base-port to move)"
        if ((existing == 0)) && { ((bport >= base_port && bport < base_port + n)) ||
            ((n > 1 && bport >= peer_base && bport < peer_base + n)); }; then
            die "broker port $bport overlaps the coord ports (--broker-base-port to move)"
        fi
    done

    # ---- coordination ensemble ----------------------------------------------
    use_coord_bin
    if $secure && ((existing == 0)); then
        make_coord_jaas
        coord_settings=(
            --set "jaasLoginConfig=$dir/coord_jaas.conf"
            --set "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
            "${coord_settings[@]}"
        )
    fi
    if ((existing > 0)); then
        while read -r member; do
            apply_settings "$member/zoo.cfg" "$(member_pid "$member")" is_coord "${coord_settings[@]}"
        done < <(coord_members)
        while read -r member; do
            pid="$(member_pid "$member")"
            if is_coord "$pid"; then
                echo "cluster: $(basename "$member") already running (pid $pid)" >&2
            else
                start_member "$member"
            fi
        done < <(coord_members)
    else
        for ((k = 1; k <= n; k++)); do
            "$SCRIPTS/coord-start.sh" --id "$k" --dir "$dir/coord-$k" --port $((base_port + k - 1)) \
                --metrics-port $((base_port + k - 1 + COORD_METRICS_OFFSET)) \
                ${servers:+--servers "$servers"} --tick "$tick" "${coord_settings[@]}" --wait running \
                --timeout "$timeout" >/dev/null
        done
    fi
    wait_ensemble || die "see the logs in $dir/coord-*/coord.log; 'status' shows the members"

    # ---- brokers ---------------------------------------------------------------
    if $secure && ((${#new_brokers[@]} == 0)); then
        [[ -f "$dir/client.properties" ]] ||
            die "--secure applies to new brokers; $dir holds plaintext ones ('down --wipe' first)"
    fi
    if $secure && ((${#new_brokers[@]} > 0)); then
        make_secure_settings
    fi
    if ((m == 0)); then
        echo "coord: $(connect_string)"
        print_metrics_urls
        return 0
    fi
    use_broker_bin
    if ((existing_b > 0)); then
        while read -r member; do
            apply_settings "$member/server.properties" "$(broker_pid "$member")" is_broker \
                "${broker_settings[@]}"
        done < <(broker_members)
        while read -r member; do
            pid="$(broker_pid "$member")"
            if is_broker "$pid"; then
                echo "cluster: $(basename "$member") already running (pid $pid)" >&2
            else
                start_broker "$member" || die "$(basename "$member") did not start; see $member/broker.log"
            fi
        done < <(broker_members)
    else
        for k in "${new_brokers[@]}"; do
            "$SCRIPTS/broker-start.sh" --id "$k" --dir "$dir/broker-$k" \
                --port $((broker_base + k - 1)) --zookeeper "$(connect_string)$CHROOT" \
                --metrics-port $((broker_base + k - 1 + BROKER_METRICS_OFFSET)) \
                "${secure_settings[@]}" \
                ${secure_settings[0]:+--set "listeners=SASL_SSL://127.0.0.1:$((broker_base + k - 1))"} \
                "${broker_settings[@]}" --timeout "$timeout" >/dev/null ||
                die "broker-$k did not start; see $dir/broker-$k/broker.log"
        done
    fi
    mapfile -t members < <(broker_members)
    wait_registered "${members[@]}" || die "see the logs in $dir/broker-*/broker.log; 'status' shows the members"
    wait_controller "$(broker_chroot "${members[0]}")" ||
        die "no broker became controller; see the logs in $dir/broker-*/broker.log"
    start_console "${members[0]}"
    start_registry "${members[0]}"
    echo "coord: $(connect_string)"
    if [[ -f "$dir/client.properties" ]]; then
        echo "brokers: $(bootstrap_list) (SASL_SSL)"
    else
        echo "brokers: $(bootstrap_list)"
    fi
    print_metrics_urls
    echo "console: http://127.0.0.1:$(cat "$dir/console/console.port")/"
    echo "schema registry: http://127.0.0.1:$(cat "$dir/registry/registry.port")"
    if [[ -f "$dir/client.properties" ]]; then
        print_client_config
    fi
}

# --secure: the development CA and certificates, the admin user's password,
# the brokers' security settings (into secure_settings, as --set flags) and
# <dir>/client.properties.
secure_settings=()
make_secure_settings() {
    local certs="$dir/certs" bin password jaas
    bin="$(runnel_bin RUNNEL_BIN runnel-broker runnel)" || die "cargo build of runnel failed"
    if [[ ! -f "$certs/ca.pem" ]]; then
        "$bin" certs --dir "$certs" --client admin >/dev/null || die "runnel certs failed"
    fi
    if [[ ! -f "$certs/admin.password" ]]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$certs/admin.password")
    fi
    password="$(cat "$certs/admin.password")"
    jaas="org.apache.kafka.common.security.plain.PlainLoginModule required"
    jaas+=" username=\"admin\" password=\"$password\" user_admin=\"$password\";"
    secure_settings=()
    if [[ -f "$dir/coord_client_jaas.conf" ]]; then
        # Coord requires the login too: every broker logs in as kafka and
        # creates its znodes writable by sasl:kafka only (world READ).
        secure_settings+=(
            --set "java.security.auth.login.config=$dir/coord_client_jaas.conf"
            --set "zookeeper.set.acl=true"
        )
    fi
    secure_settings+=(
        --set "listener.security.protocol.map=SASL_SSL:SASL_SSL"
        --set "inter.broker.listener.name=SASL_SSL"
        --set "ssl.keystore.type=PEM"
        --set "ssl.keystore.location=$certs/broker.pem"
        --set "ssl.truststore.type=PEM"
        --set "ssl.truststore.location=$certs/ca.pem"
        --set "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
        --set "sasl.mechanism.inter.broker.protocol=PLAIN"
        --set "listener.name.sasl_ssl.plain.sasl.jaas.config=$jaas"
    )
    (
        umask 077
        cat >"$dir/client.properties" <<EOF2
# Written by scripts/cluster.sh up --secure: librdkafka's keys, read as they
# are by kcat -F, confluent-kafka (as a dict) and Runnel's --command-config.
bootstrap.servers=$(address_list_for_new_brokers)
security.protocol=SASL_SSL
ssl.ca.location=$certs/ca.pem
sasl.mechanisms=PLAIN
sasl.username=admin
sasl.password=$password
EOF2
    )
}

# --secure on a new folder, before the ensemble starts: coord's JAAS file
# (<dir>/coord_jaas.conf, a Server section with the one SASL user kafka,
# its password generated) and the coord clients' (<dir>/coord_client_jaas.conf,
# a Client section logging in as kafka), both readable by their owner only.
# Brokers, the Schema Registry and the console log in with the second; all
# share one identity because a znode's ACL names its creator, and they
# create znodes under each other's (the chroot, /runnel/schema_registry).
make_coord_jaas() {
    local password
    [[ ! -f "$dir/coord_jaas.conf" ]] || return 0
    password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
    (
        umask 077
        cat >"$dir/coord_jaas.conf" <<EOF2
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_kafka="$password";
};
EOF2
        cat >"$dir/coord_client_jaas.conf" <<EOF2
Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="kafka"
    password="$password";
};
EOF2
    )
}

# bootstrap list of the brokers about to be written (their folders may not exist yet).
address_list_for_new_brokers() {
    local k out=""
    for k in "${new_brokers[@]}"; do
        out+="${out:+,}127.0.0.1:$((broker_base + k - 1))"
    done
    echo "$out"
}

print_client_config() {
    echo "client configuration: $dir/client.properties"
    sed -e '/^#/d' -e 's/^/  /' "$dir/client.properties"
    echo "  e.g. kcat -F $dir/client.properties -L"
}

# The port of the cluster's service KIND, kept in <dir>/KIND/KIND.port
# (first asked: the first broker's port - OFFSET).
service_port() {
    local kind="$1" offset="$2" first_broker="$3" folder="$dir/$1" port
    mkdir -p "$folder"
    if [[ ! -f "$folder/$kind.port" ]]; then
        port=$(($(broker_port "$first_broker") - offset))
        ((port >= 1024)) || port=$(($(broker_port "$first_broker") + 4024 - offset))
        echo "$port" >"$folder/$kind.port"
    fi
    cat "$folder/$kind.port"
}

# Starts the cluster's service KIND in <dir>/KIND on PORT unless it runs:
# PROGRAM (the name its command line shows) launched as CMD...; ready once
# the port accepts connections.
start_service() {
    local kind="$1" program="$2" port="$3" folder="$dir/$1" pid
    shift 3
    pid="$(cat "$folder/$kind.pid" 2>/dev/null || true)"
    if is_program "$pid" "$program"; then
        echo "cluster: $kind already running (pid $pid)" >&2
        return 0
    fi
    port_busy "$port" && die "$kind port $port is in use"
    launch "$folder/$kind.pid" "$folder/$kind.log" "$@"
    service_ready() { port_busy "$port"; }
    wait_started "$program" "$folder/$kind.pid" "$folder/$kind.log" "$timeout" \
        "$kind not listening on 127.0.0.1:$port within ${timeout}s" service_ready
}

stop_service() {
    local kind="$1" program="$2" folder="$dir/$1"
    [[ -f "$folder/$kind.pid" ]] || return 0
    stop_pidfile "$program" "$folder/$kind.pid" "$folder" TERM "$timeout" >/dev/null 2>&1 || true
}

# The web console (`runnel console`).
start_console() {
    local first_broker="$1" bin port metrics=() security=() member l
    bin="$(runnel_bin RUNNEL_BIN runnel-broker runnel)" || die "cargo build of runnel failed"
    while read -r member; do
        l="$(cfg "$member/server.properties" metrics.listener)"
        l="${l#http://}"
        [[ -z "$l" ]] || metrics+=(--metrics-url "http://$l/metrics")
    done < <(broker_members)
    # A secure cluster's console is a client like any other: the client
    # configuration 'up' wrote.
    [[ ! -f "$dir/client.properties" ]] || security=(--command-config "$dir/client.properties")
    port="$(service_port console "$CONSOLE_PORT_OFFSET" "$first_broker")"
    # Its coord session logs in as Kafka's tools do: the JAAS file in KAFKA_OPTS.
    local opts="${KAFKA_OPTS:-}"
    [[ ! -f "$dir/coord_client_jaas.conf" ]] ||
        opts+="${opts:+ }-Djava.security.auth.login.config=$dir/coord_client_jaas.conf"
    KAFKA_OPTS="$opts" start_service console "runnel console" "$port" "$bin" console \
        --bootstrap-server "$(bootstrap_list)" --zookeeper "$(connect_string)$(broker_chroot "$first_broker")" \
        --listen "127.0.0.1:$port" "${metrics[@]}" "${security[@]}"
}

# The Schema Registry (runnel-registry) with <dir>/registry/schema-registry.properties,
# written at its first start (Confluent's key names; edit it and restart).
# On a secure cluster the file also holds the store client's security:
# Kafka's client keys under Confluent's kafkastore. prefix, as user admin
# (SASL PLAIN) trusting the development CA; it holds that password, so it is
# written readable by its owner only.
start_registry() {
    local first_broker="$1" bin port props="$dir/registry/schema-registry.properties" bootstrap
    bin="$(package_bin RUNNEL_REGISTRY_BIN runnel-registry)"
    port="$(service_port registry "$REGISTRY_PORT_OFFSET" "$first_broker")"
    if [[ ! -f "$props" ]]; then
        bootstrap="$(bootstrap_list)"
        [[ ! -f "$dir/client.properties" ]] || bootstrap="SASL_SSL://${bootstrap//,/,SASL_SSL://}"
        (
            umask 077
            cat >"$props" <<PROPS
# runnel-registry: Confluent Schema Registry's key names (written by cluster.sh)
listeners=http://127.0.0.1:$port
kafkastore.bootstrap.servers=$bootstrap
kafkastore.connection.url=$(connect_string)$(broker_chroot "$first_broker")
kafkastore.topic=_schemas
kafkastore.topic.replication.factor=$(( $(broker_count) < 3 ? $(broker_count) : 3 ))
schema.compatibility.level=backward
kafkastore.zk.session.timeout.ms=6000
PROPS
            if [[ -f "$dir/client.properties" ]]; then
                cat >>"$props" <<PROPS
kafkastore.security.protocol=SASL_SSL
kafkastore.ssl.truststore.type=PEM
kafkastore.ssl.truststore.location=$dir/certs/ca.pem
kafkastore.sasl.mechanism=PLAIN
kafkastore.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$(cat "$dir/certs/admin.password")";
PROPS
            fi
            if [[ -f "$dir/coord_client_jaas.conf" ]]; then
                cat >>"$props" <<PROPS
java.security.auth.login.config=$dir/coord_client_jaas.conf
zookeeper.set.acl=true
PROPS
            fi
        )
    fi
    start_service registry runnel-registry "$port" "$bin" "$props"
}

# One "metrics: NAME http://127.0.0.1:PORT/metrics" line per member whose
# config enables Prometheus metrics.
print_metrics_urls() {
    local member port l
    while read -r member; do
        port="$(cfg "$member/zoo.cfg" metricsProvider.httpPort)"
        [[ -n "$port" ]] && echo "metrics: $(basename "$member") http://127.0.0.1:$port/metrics"
    done < <(coord_members)
    while read -r member; do
        l="$(cfg "$member/server.properties" metrics.listener)"
        l="${l#http://}"
        [[ -n "$l" ]] && echo "metrics: $(basename "$member") http://$l/metrics"
    done < <(broker_members)
    return 0
}

# Stops the broker in MEMBER with SIGTERM (resumed first if paused, as it
# acts on SIGTERM only once running).
stop_broker() {
    local member="$1" pid
    pid="$(broker_pid "$member")"
    if is_broker "$pid" && [[ "$(proc_state "$pid")" == "T" ]]; then
        kill -CONT "$pid"
    fi
    "$SCRIPTS/broker-stop.sh" --dir "$member" --timeout "$timeout"
}

# Stops the coord member in MEMBER with SIGTERM (coord-stop.sh resumes a
# paused one).
stop_coord() {
    "$SCRIPTS/coord-stop.sh" --dir "$1" --timeout "$timeout"
}

cmd_down() {
    local member service
    stop_service registry runnel-registry
    stop_service console "runnel console"
    while read -r member; do
        stop_broker "$member"
    done < <(broker_members)
    while read -r member; do
        stop_coord "$member"
    done < <(coord_members)
    if $wipe; then
        # Remove only what we created, never an arbitrary --dir wholesale.
        while read -r member; do
            rm -rf -- "$member"
            echo "cluster: wiped $member" >&2
        done < <(broker_members; coord_members)
        if [[ -d "$dir/certs" ]]; then
            rm -rf -- "${dir:?}/certs" "${dir:?}/client.properties"
            echo "cluster: wiped $dir/certs" >&2
        fi
        if [[ -f "$dir/coord_jaas.conf" ]]; then
            rm -f -- "${dir:?}/coord_jaas.conf" "${dir:?}/coord_client_jaas.conf"
            echo "cluster: wiped $dir/coord_jaas.conf" >&2
        fi
        for service in console registry; do
            if [[ -d "$dir/$service" ]]; then
                rm -rf -- "${dir:?}/$service"
                echo "cluster: wiped $dir/$service" >&2
            fi
        done
        rmdir -- "$dir" 2>/dev/null || true
    fi
}

cmd_status() {
    local member pid port peer role zxid ids="?" controller="?" chroot
    [[ -n "$(coord_members)$(broker_members)" ]] || die "no cluster in $dir ('up' starts one)"
    printf '%-10s %-8s %-7s %-6s %-12s %s\n' member pid client peer role zxid
    while read -r member; do
        pid="$(member_pid "$member")"
        port="$(member_port "$member")"
        peer="$(member_peer_port "$member")"
        role="$(member_role "$member")"
        zxid="-"
        case "$role" in
            leader | follower | standalone) zxid="$(member_zxid "$member")" ;;
            down) pid="-" ;;
        esac
        printf '%-10s %-8s %-7s %-6s %-12s %s\n' "$(basename "$member")" "$pid" "${port:--}" "$peer" "$role" "${zxid:--}"
    done < <(coord_members)
    [[ -n "$(broker_members)" ]] || return 0
    if coord_reachable; then
        chroot="$(broker_chroot "$(broker_members | head -n 1)")"
        ids="$(registered_ids "$chroot")"
        controller="$(controller_id "$chroot")"
    fi
    echo
    printf '%-10s %-8s %-7s %s\n' broker pid port role
    while read -r member; do
        pid="$(broker_pid "$member")"
        role="$(broker_role "$member" "$ids" "$controller")"
        [[ "$role" != down ]] || pid="-"
        printf '%-10s %-8s %-7s %s\n' "$(basename "$member")" "${pid:--}" "$(broker_port "$member")" "$role"
    done < <(broker_members)
    # Each service: its folder, its program, the path of its URL.
    local services=(console "runnel console" / registry runnel-registry "") i kind blank=echo
    for ((i = 0; i < ${#services[@]}; i += 3)); do
        kind="${services[i]}"
        [[ -f "$dir/$kind/$kind.port" ]] || continue
        $blank
        blank=:
        pid="$(cat "$dir/$kind/$kind.pid" 2>/dev/null || true)"
        is_program "$pid" "${services[i + 1]}" || pid="-"
        printf '%-10s %-8s %s\n' "$kind" "$pid" "http://127.0.0.1:$(cat "$dir/$kind/$kind.port")${services[i + 2]}"
    done
}

# ---- single-member actions ---------------------------------------------------

# Waits until PID's state satisfies TEST (a command taking the state letter).
wait_state() {
    local pid="$1" what="$2" deadline=$(($(now_ms) + timeout * 1000))
    shift 2
    until "$@" "$(proc_state "$pid")"; do
        (($(now_ms) < deadline)) || die "pid $pid not $what within ${timeout}s"
        sleep 0.05
    done
}
is_stopped() { [[ "$1" == T ]]; }
is_not_stopped() { [[ "$1" != T ]]; }
is_gone() { [[ "$1" == Z || "$1" == X ]]; }

# Runs after a member was (re)started: waits for it to serve when a majority
# runs, else says why it will not serve yet.
wait_member_serving() {
    local member="$1" running=0 n m deadline role
    n="$(member_count)"
    while read -r m; do
        is_coord "$(member_pid "$m")" && [[ "$(proc_state "$(member_pid "$m")")" != T ]] && running=$((running + 1))
    done < <(coord_members)
    if ((running * 2 <= n)); then
        echo "cluster: $(basename "$member") started; it serves once a majority ($((n / 2 + 1)) of $n) runs" >&2
        return 0
    fi
    deadline=$(($(now_ms) + timeout * 1000))
    while true; do
        role="$(member_role "$member")"
        case "$role" in
            leader | follower | standalone) break ;;
            down) die "$(basename "$member") exited; see $member/coord.log" ;;
        esac
        (($(now_ms) < deadline)) || die "$(basename "$member") not serving within ${timeout}s (role: $role); see $member/coord.log"
        sleep 0.1
    done
    echo "cluster: $(basename "$member") serving as $role (pid $(member_pid "$member"))" >&2
}

# The commands on one member, $name, by its kind: coord-K or broker-K.
cmd_member() {
    local member="$dir/$name" kind pid role pid_of is_running role_of stop_it start_it
    case "$name" in
        coord-[0-9]*)
            [[ -f "$member/zoo.cfg" ]] || die "no member $name in $dir ('up' first?)"
            kind=coord pid_of=member_pid is_running=is_coord role_of=member_role
            stop_it=stop_coord start_it=start_coord
            ;;
        broker-[0-9]*)
            [[ -f "$member/server.properties" ]] || die "no broker $name in $dir ('up' first?)"
            kind=broker pid_of=broker_pid is_running=is_broker role_of=broker_role_now
            stop_it=stop_broker start_it=start_broker_serving
            ;;
        *) die "no member named '$name' (members are coord-1..N and broker-1..M)" ;;
    esac
    pid="$("$pid_of" "$member")"
    if [[ "$action" != start && "$action" != restart ]] && ! "$is_running" "$pid"; then
        die "$name is not running"
    fi
    case "$action" in
        kill)
            role="$("$role_of" "$member")"
            kill -KILL "$pid"
            wait_state "$pid" "gone after SIGKILL" is_gone
            rm -f "$member/$kind.pid"
            echo "cluster: killed $name (pid $pid, SIGKILL; was $role)" >&2
            ;;
        pause)
            role="$("$role_of" "$member")"
            kill -STOP "$pid"
            wait_state "$pid" "stopped after SIGSTOP" is_stopped
            echo "cluster: paused $name (pid $pid, SIGSTOP; was $role)" >&2
            ;;
        resume)
            kill -CONT "$pid"
            wait_state "$pid" "running after SIGCONT" is_not_stopped
            echo "cluster: resumed $name (pid $pid, SIGCONT)" >&2
            ;;
        stop)
            role="$("$role_of" "$member")"
            "$stop_it" "$member"
            echo "cluster: stopped $name (was $role)" >&2
            ;;
        start | restart)
            if "$is_running" "$pid"; then
                [[ "$action" == restart ]] || die "$name is already running (pid $pid)"
                "$stop_it" "$member"
            fi
            "$start_it" "$member"
            ;;
    esac
}

# start/restart of a stopped coord member: back until it serves (when a
# majority runs).
start_coord() {
    use_coord_bin
    start_member "$1"
    wait_member_serving "$1"
}

# Role of a broker right now (reads coord).
broker_role_now() {
    local member="$1" chroot ids="?" controller="?"
    if coord_reachable; then
        chroot="$(broker_chroot "$member")"
        ids="$(registered_ids "$chroot")"
        controller="$(controller_id "$chroot")"
    fi
    broker_role "$member" "$ids" "$controller"
}

# start/restart of a stopped broker: back until it is registered in coord.
start_broker_serving() {
    use_broker_bin
    start_broker "$1" || die "$name did not start; see $1/broker.log"
    wait_registered "$1" || die "see $1/broker.log"
    echo "cluster: $name serving as $(broker_role_now "$1") (pid $(broker_pid "$1"))" >&2
}

case "$action" in
    up | down | status) "cmd_$action" ;;
    *) cmd_member ;;
esac
