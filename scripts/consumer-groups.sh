#!/usr/bin/env bash
# kafka-consumer-groups.sh for Runnel: the same flags and output, implemented
# with confluent-kafka's AdminClient from the repository's venv (<repo>/.venv,
# set up by scripts/test.sh), so it works against any Kafka-protocol broker.
#
#   consumer-groups.sh --bootstrap-server 127.0.0.1:9092 --list
#   consumer-groups.sh --bootstrap-server 127.0.0.1:9092 --describe --group g
#   consumer-groups.sh --bootstrap-server 127.0.0.1:9092 --reset-offsets --group g \
#       --topic t[:0,1] --to-earliest|--to-latest|--to-offset N|--to-datetime 2024-01-01T00:00:00.000 \
#       [--execute]
#   consumer-groups.sh --bootstrap-server 127.0.0.1:9092 --delete --group g
set -euo pipefail

PROG=consumer-groups.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
PYTHON="$(venv_python)"
[[ -x "$PYTHON" ]] || die "no Python venv at $ROOT/.venv (run scripts/test.sh once, or set RUNNEL_PYTHON)"

exec "$PYTHON" - "$@" <<'PYEOF'
import argparse
import datetime
import sys

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

p = argparse.ArgumentParser(prog="consumer-groups.sh",
                            description="List, describe, reset offsets of, or delete consumer groups.")
p.add_argument("--bootstrap-server", required=True, help="host:port of a broker")
action = p.add_mutually_exclusive_group(required=True)
action.add_argument("--list", action="store_true")
action.add_argument("--describe", action="store_true")
action.add_argument("--reset-offsets", action="store_true")
action.add_argument("--delete", action="store_true")
p.add_argument("--group", action="append", default=[])
p.add_argument("--all-groups", action="store_true")
p.add_argument("--topic", action="append", default=[], help="topic or topic:p1,p2")
p.add_argument("--all-topics", action="store_true")
to = p.add_mutually_exclusive_group()
to.add_argument("--to-earliest", action="store_true")
to.add_argument("--to-latest", action="store_true")
to.add_argument("--to-offset", type=int)
to.add_argument("--to-datetime", help="YYYY-MM-DDTHH:mm:SS.sss (UTC unless it ends with a zone)")
p.add_argument("--execute", action="store_true")
p.add_argument("--dry-run", action="store_true")
p.add_argument("--timeout", type=int, default=10000, help="ms")
p.add_argument("--command-config", help="ignored (no security settings)")
a = p.parse_args()

TIMEOUT = a.timeout / 1000.0
admin = AdminClient({"bootstrap.servers": a.bootstrap_server})


def fail(msg):
    print("Error: %s" % msg, file=sys.stderr)
    sys.exit(1)


def kerr(exc):
    err = exc.args[0] if exc.args else None
    if hasattr(err, "name") and hasattr(err, "str"):
        return "%s: %s" % (err.name(), err.str())
    return str(exc)


def groups_arg():
    if a.all_groups:
        res = admin.list_consumer_groups(request_timeout=TIMEOUT).result()
        return sorted(g.group_id for g in res.valid)
    if not a.group:
        fail("Option [%s] takes one of these options: [group], [all-groups]"
             % ("describe" if a.describe else "reset-offsets" if a.reset_offsets else "delete"))
    return a.group


def table(rows, header):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = " ".join("%%-%ds" % (w + 1) for w in widths)
    print(fmt % tuple(header))
    for r in rows:
        print(fmt % tuple(str(x) for x in r))


def describe_group(gid):
    try:
        return admin.describe_consumer_groups([gid], request_timeout=TIMEOUT)[gid].result()
    except KafkaException as e:
        fail("Executing consumer group command failed due to %s" % kerr(e))


def committed(gid):
    req = [ConsumerGroupTopicPartitions(gid)]
    try:
        res = admin.list_consumer_group_offsets(req, request_timeout=TIMEOUT)[gid].result()
    except KafkaException as e:
        fail("Executing consumer group command failed due to %s" % kerr(e))
    return {(tp.topic, tp.partition): tp.offset for tp in res.topic_partitions if tp.offset >= 0}


def list_offsets(tps, spec):
    if not tps:
        return {}
    futs = admin.list_offsets({tp: spec for tp in tps}, request_timeout=TIMEOUT)
    out = {}
    for tp, f in futs.items():
        try:
            out[(tp.topic, tp.partition)] = f.result().offset
        except KafkaException as e:
            fail("listing offsets of %s-%d: %s" % (tp.topic, tp.partition, kerr(e)))
    return out


def topic_partitions(specs):
    md = admin.list_topics(timeout=TIMEOUT)
    out = []
    for spec in specs:
        name, _, parts = spec.partition(":")
        if name not in md.topics or md.topics[name].error is not None:
            fail("Topic '%s' does not exist" % name)
        if parts:
            out += [TopicPartition(name, int(x)) for x in parts.split(",")]
        else:
            out += [TopicPartition(name, q) for q in sorted(md.topics[name].partitions)]
    return out


if a.list:
    try:
        res = admin.list_consumer_groups(request_timeout=TIMEOUT).result()
    except KafkaException as e:
        fail(kerr(e))
    for g in sorted(res.valid, key=lambda g: g.group_id):
        print(g.group_id)
    sys.exit(0)

if a.describe:
    for gid in groups_arg():
        desc = describe_group(gid)
        state = str(desc.state).split(".")[-1]
        if state == "DEAD":
            print("Error: Consumer group '%s' does not exist." % gid, file=sys.stderr)
            continue
        owners = {}
        for m in desc.members:
            for tp in (m.assignment.topic_partitions if m.assignment else []):
                owners[(tp.topic, tp.partition)] = m
        offsets = committed(gid)
        keys = sorted(set(offsets) | set(owners))
        ends = list_offsets([TopicPartition(t, q) for t, q in keys], OffsetSpec.latest())
        print()
        if not desc.members:
            print("Consumer group '%s' has no active members." % gid)
            print()
        rows = []
        for k in keys:
            cur = offsets.get(k)
            end = ends.get(k)
            lag = (end - cur) if (cur is not None and end is not None) else "-"
            m = owners.get(k)
            rows.append([gid, k[0], k[1], "-" if cur is None else cur, "-" if end is None else end, lag,
                         m.member_id if m else "-", m.host if m else "-", m.client_id if m else "-"])
        table(rows, ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                     "CONSUMER-ID", "HOST", "CLIENT-ID"])
    sys.exit(0)

if a.reset_offsets:
    if not (a.to_earliest or a.to_latest or a.to_offset is not None or a.to_datetime):
        fail("Option [reset-offsets] takes one of these options: [to-datetime], [to-earliest], "
             "[to-latest], [to-offset]")
    for gid in groups_arg():
        desc = describe_group(gid)
        state = str(desc.state).split(".")[-1]
        if state not in ("EMPTY", "DEAD", "UNKNOWN"):
            fail("Assignments can only be reset if the group '%s' is inactive, but the current state is %s."
                 % (gid, {"STABLE": "Stable", "PREPARING_REBALANCE": "PreparingRebalance",
                          "COMPLETING_REBALANCE": "CompletingRebalance"}.get(state, state)))
        if a.all_topics:
            tps = [TopicPartition(t, q) for t, q in sorted(committed(gid))]
        elif a.topic:
            tps = topic_partitions(a.topic)
        else:
            fail("Option [reset-offsets] takes one of these options: [all-topics], [topic]")
        if a.to_earliest:
            new = list_offsets(tps, OffsetSpec.earliest())
        elif a.to_latest:
            new = list_offsets(tps, OffsetSpec.latest())
        elif a.to_offset is not None:
            lo = list_offsets(tps, OffsetSpec.earliest())
            hi = list_offsets(tps, OffsetSpec.latest())
            # Kafka clamps to the log's range.
            new = {k: min(max(a.to_offset, lo[k]), hi[k]) for k in lo}
        else:
            text = a.to_datetime
            if text.endswith("Z") or "+" in text[10:] or text[10:].count("-") > 0:
                when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            else:
                when = datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc)
            ts = int(when.timestamp() * 1000)
            new = list_offsets(tps, OffsetSpec.for_timestamp(ts))
            latest = list_offsets(tps, OffsetSpec.latest())
            new = {k: (v if v >= 0 else latest[k]) for k, v in new.items()}
        rows = [[gid, t, q, off] for (t, q), off in sorted(new.items())]
        if a.execute:
            req = [ConsumerGroupTopicPartitions(gid, [TopicPartition(t, q, off) for (t, q), off in sorted(new.items())])]
            try:
                res = admin.alter_consumer_group_offsets(req, request_timeout=TIMEOUT)[gid].result()
            except KafkaException as e:
                fail("Executing consumer group command failed due to %s" % kerr(e))
            for tp in res.topic_partitions:
                if tp.error is not None:
                    fail("resetting %s-%d: %s" % (tp.topic, tp.partition, tp.error))
        else:
            print("WARN: No action will be performed as the --execute option is missing. "
                  "In a future major release, the default behavior of this command will be to prompt the user "
                  "before executing the reset rather than doing a dry run. You should add the --dry-run option "
                  "explicitly if you are scripting this command and want to keep the current default behavior "
                  "without prompting.")
        print()
        table(rows, ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"])
    sys.exit(0)

if a.delete:
    gids = groups_arg()
    futs = admin.delete_consumer_groups(gids, request_timeout=TIMEOUT)
    ok, bad = [], []
    for gid, f in futs.items():
        try:
            f.result()
            ok.append(gid)
        except KafkaException as e:
            bad.append((gid, kerr(e)))
    if ok:
        print("Deletion of requested consumer groups (%s) was successful."
              % ", ".join("'%s'" % g for g in ok))
    if bad:
        print("Deletion of some consumer groups failed:")
        for gid, msg in bad:
            print("* Group '%s' could not be deleted due to: %s" % (gid, msg))
        sys.exit(1)
PYEOF
