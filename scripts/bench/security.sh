#!/usr/bin/env bash
# What TLS and SASL cost: one runnel-broker on a standalone runnel-coord
# with four listeners — PLAINTEXT, SSL, SASL_PLAINTEXT (PLAIN) and SASL_SSL
# (SCRAM-SHA-512) — measured in the same run with the same clients.
#
#   bash scripts/bench/security.sh [--seconds S] [--partitions P]
#
# 1. Throughput, 1 KiB records, acks=1, P partitions (default 6): `runnel
#    perf produce` as fast as it can for S seconds (default 5) on each
#    listener into a topic of its own, then `runnel perf consume` of those
#    records; MB/s per listener and as % of PLAINTEXT (the security issue's
#    target: SSL and SASL_SSL >= 70 %).
# 2. New connections per second for S seconds, one after another from one
#    Python process: TCP connect + ApiVersions (PLAINTEXT), + TLS handshake
#    (SSL), + SaslHandshake and SaslAuthenticate (PLAIN; SCRAM-SHA-512 over
#    TLS, 4096 iterations: the client's PBKDF2 is part of what a client pays).
#
# BENCH_ORDER changes the order of the throughput cases (default
# "PLAINTEXT SSL SASL_PLAINTEXT SASL_SSL"); each case runs after a `sync`,
# with the previous case's topic deleted (its pages dropped, not written).
#
# Prints figures; asserts nothing about speed.
set -euo pipefail

PROG=security-bench
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

seconds=5
partitions=6
while [[ $# -gt 0 ]]; do
    case "$1" in
        --seconds) seconds="${2:?}"; shift 2 ;;
        --partitions) partitions="${2:?}"; shift 2 ;;
        -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done

rel="${CARGO_TARGET_DIR:-$ROOT/target}/release"
if [[ -z "${RUNNEL_COORD_BIN:-}" || -z "${RUNNEL_BROKER_BIN:-}" || -z "${RUNNEL_BIN:-}" ]]; then
    say "cargo build --release --workspace"
    (cd "$ROOT" && cargo build --release --quiet --workspace) || die "build failed"
fi
export RUNNEL_COORD_BIN="${RUNNEL_COORD_BIN:-$rel/runnel-coord}"
export RUNNEL_BROKER_BIN="${RUNNEL_BROKER_BIN:-$rel/runnel-broker}"
export RUNNEL_BIN="${RUNNEL_BIN:-$rel/runnel}"
PYTHON="$(venv_python)"
[[ -x "$PYTHON" ]] || die "no Python venv at $ROOT/.venv (run scripts/test.sh once)"

work="$(mktemp -d "${TMPDIR:-/tmp}/security-bench.XXXXXX")"
cleanup() {
    "$ROOT/scripts/broker-stop.sh" --dir "$work/broker" >/dev/null 2>&1 || true
    "$ROOT/scripts/coord-stop.sh" --dir "$work/coord" >/dev/null 2>&1 || true
    rm -rf -- "$work"
}
trap cleanup EXIT

base="$(free_block 6)"
cport=$base
declare -A port=([PLAINTEXT]=$((base + 1)) [SSL]=$((base + 2)) [SASL_PLAINTEXT]=$((base + 3))
    [SASL_SSL]=$((base + 4)))
certs="$work/certs"
"$RUNNEL_BIN" certs --dir "$certs" >/dev/null
jaas='org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret";'

"$ROOT/scripts/coord-start.sh" --id 1 --dir "$work/coord" --port "$cport" >/dev/null
"$ROOT/scripts/broker-start.sh" --id 1 --dir "$work/broker" --port "${port[PLAINTEXT]}" \
    --zookeeper "127.0.0.1:$cport/bench" \
    --set "listeners=PLAINTEXT://127.0.0.1:${port[PLAINTEXT]},SSL://127.0.0.1:${port[SSL]},SASL_PLAINTEXT://127.0.0.1:${port[SASL_PLAINTEXT]},SASL_SSL://127.0.0.1:${port[SASL_SSL]}" \
    --set "inter.broker.listener.name=PLAINTEXT" \
    --set "ssl.keystore.location=$certs/broker.pem" \
    --set "ssl.truststore.location=$certs/ca.pem" \
    --set "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512" \
    --set "sasl.jaas.config=$jaas" \
    --set "offsets.topic.replication.factor=1" >/dev/null

# Client configurations (librdkafka keys, as --producer.config reads them).
write_config() {
    local name="$1"
    shift
    printf '%s\n' "$@" >"$work/$name.properties"
}
write_config PLAINTEXT "security.protocol=PLAINTEXT"
write_config SSL "security.protocol=SSL" "ssl.ca.location=$certs/ca.pem"
write_config SASL_PLAINTEXT "security.protocol=SASL_PLAINTEXT" "sasl.mechanisms=PLAIN" \
    "sasl.username=admin" "sasl.password=admin-secret"
write_config SASL_SSL "security.protocol=SASL_SSL" "ssl.ca.location=$certs/ca.pem" \
    "sasl.mechanisms=SCRAM-SHA-512" "sasl.username=bench" "sasl.password=bench-secret"

# The SCRAM user, made over SASL PLAIN as an operator would.
"$PYTHON" - "${port[SASL_PLAINTEXT]}" <<'PYEOF'
import sys
from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)
admin = AdminClient({"bootstrap.servers": "127.0.0.1:%s" % sys.argv[1],
                     "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                     "sasl.username": "admin", "sasl.password": "admin-secret"})
for f in admin.alter_user_scram_credentials([UserScramCredentialUpsertion(
        "bench", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), b"bench-secret")]).values():
    f.result(timeout=30)
PYEOF

say "1 KiB records, acks=1, $partitions partitions, ${seconds}s per listener"
declare -A produced consumed
for proto in ${BENCH_ORDER:-PLAINTEXT SSL SASL_PLAINTEXT SASL_SSL}; do
    topic="bench-${proto,,}"
    sync
    out="$("$RUNNEL_BIN" perf produce --bootstrap-server "127.0.0.1:${port[$proto]}" \
        --producer.config "$work/$proto.properties" --topic "$topic" --partitions "$partitions" \
        --num-records 50000000 --record-size 1024 --throughput -1 --acks 1 \
        --duration "$seconds" --reporting-interval 100000 2>&1 | grep 'records sent' | tail -n 1)"
    records="$(sed -n -E 's/^([0-9]+) records sent.*/\1/p' <<<"$out")"
    produced[$proto]="$(sed -n -E 's/.*\(([0-9.]+) MB\/sec\).*/\1/p' <<<"$out")"
    out="$("$RUNNEL_BIN" perf consume --bootstrap-server "127.0.0.1:${port[$proto]}" \
        --consumer.config "$work/$proto.properties" --topic "$topic" --messages "$records" \
        --timeout 5000 --reporting-interval 100000 2>&1 | grep 'records consumed' | tail -n 1)"
    consumed[$proto]="$(sed -n -E 's/.*\(([0-9.]+) MB\/sec\).*/\1/p' <<<"$out")"
    [[ -n "${produced[$proto]}" ]] || produced[$proto]="?"
    [[ -n "${consumed[$proto]}" ]] || consumed[$proto]="?"
    say "$proto: $records records; produce ${produced[$proto]} MB/s, consume ${consumed[$proto]} MB/s"
    # The next case starts with clean page cache: this topic's pages are
    # dropped with it rather than written back during the next run.
    "$RUNNEL_BIN" topics --bootstrap-server "127.0.0.1:${port[PLAINTEXT]}" --delete --topic "$topic" >/dev/null
    wait_gone() { ! "$RUNNEL_BIN" topics --bootstrap-server "127.0.0.1:${port[PLAINTEXT]}" --list | grep -qx "$topic"; }
    for _ in $(seq 1 100); do wait_gone && break; sleep 0.1; done
done
printf '\n%-16s %12s %8s %12s %8s\n' listener "produce MB/s" "% plain" "consume MB/s" "% plain"
for proto in PLAINTEXT SSL SASL_PLAINTEXT SASL_SSL; do
    # A BENCH_ORDER without some cases: those rows show "-".
    [[ -n "${produced[$proto]:-}" ]] || produced[$proto]="-"
    [[ -n "${consumed[$proto]:-}" ]] || consumed[$proto]="-"
    printf '%-16s %12s %8s %12s %8s\n' "$proto" "${produced[$proto]}" \
        "$(awk -v a="${produced[$proto]}" -v b="${produced[PLAINTEXT]}" 'BEGIN { if (b > 0 && a + 0 == a) printf "%.0f", 100 * a / b; else print "?" }')" \
        "${consumed[$proto]}" \
        "$(awk -v a="${consumed[$proto]}" -v b="${consumed[PLAINTEXT]}" 'BEGIN { if (b > 0 && a + 0 == a) printf "%.0f", 100 * a / b; else print "?" }')"
done

echo
say "new connections per second (one client, one after another, ${seconds}s each)"
"$PYTHON" - "$seconds" "$certs/ca.pem" "${port[PLAINTEXT]}" "${port[SSL]}" \
    "${port[SASL_PLAINTEXT]}" "${port[SASL_SSL]}" <<'PYEOF'
import base64, hashlib, hmac, os, socket, ssl, struct, sys, time

seconds, ca = float(sys.argv[1]), sys.argv[2]
plain_port, ssl_port, sasl_port, sasl_ssl_port = map(int, sys.argv[3:7])
ctx = ssl.create_default_context(cafile=ca)


def frame(api, version, cid, body):
    header = struct.pack(">hhih", api, version, cid, 5) + b"bench"
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def read(s):
    size = struct.unpack(">i", recv(s, 4))[0]
    return recv(s, size)


def recv(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def kstr(b):
    return struct.pack(">h", len(b)) + b


def kbytes(b):
    return struct.pack(">i", len(b)) + b


def authenticate(s, mechanism, tokens):
    s.sendall(frame(17, 1, 1, kstr(mechanism)))
    assert struct.unpack(">h", read(s)[4:6])[0] == 0
    answer = None
    for step in tokens:
        token = step(answer)
        s.sendall(frame(36, 1, 2, kbytes(token)))
        body = read(s)
        error = struct.unpack(">h", body[4:6])[0]
        assert error == 0, body
        msg_len = struct.unpack(">h", body[6:8])[0]
        at = 8 + max(msg_len, 0)
        n = struct.unpack(">i", body[at:at + 4])[0]
        answer = body[at + 4:at + 4 + n]


def plain_tokens():
    return [lambda _: b"\0admin\0admin-secret"]


def scram_tokens():
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=bench,r=" + nonce
    state = {}

    def first(_):
        return ("n,," + first_bare).encode()

    def final(server_first):
        fields = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        salted = hashlib.pbkdf2_hmac("sha512", b"bench-secret", base64.b64decode(fields["s"]),
                                     int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", "sha512").digest()
        stored = hashlib.sha512(client_key).digest()
        without_proof = "c=biws,r=" + fields["r"]
        auth = ",".join([first_bare, server_first.decode(), without_proof]).encode()
        sig = hmac.new(stored, auth, "sha512").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        state["server_key"] = hmac.new(salted, b"Server Key", "sha512").digest()
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()

    return [first, final]


def connect(port, tls, sasl):
    raw = socket.create_connection(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1") if tls else raw
    try:
        if sasl:
            authenticate(s, sasl[0], sasl[1]())
        s.sendall(frame(18, 0, 9, b""))
        read(s)
    finally:
        s.close()


cases = [("PLAINTEXT", plain_port, False, None),
         ("SSL", ssl_port, True, None),
         ("SASL_PLAINTEXT PLAIN", sasl_port, False, (b"PLAIN", plain_tokens)),
         ("SASL_SSL SCRAM-SHA-512", sasl_ssl_port, True, (b"SCRAM-SHA-512", scram_tokens))]
print("%-24s %14s" % ("listener", "connections/s"))
for name, port, tls, sasl in cases:
    n, start = 0, time.time()
    while time.time() - start < seconds:
        connect(port, tls, sasl)
        n += 1
    print("%-24s %14.0f" % (name, n / (time.time() - start)))
PYEOF
