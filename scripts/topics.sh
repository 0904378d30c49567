#!/usr/bin/env bash
# kafka-topics.sh for Runnel: the same flags, implemented with
# confluent-kafka's AdminClient from the repository's venv (<repo>/.venv,
# set up by scripts/test.sh), so it works against any Kafka-protocol broker.
#
#   topics.sh --bootstrap-server 127.0.0.1:9092 --create --topic t --partitions 3 \
#             --replication-factor 1 --config retention.ms=60000
#   topics.sh --bootstrap-server 127.0.0.1:9092 --list
#   topics.sh --bootstrap-server 127.0.0.1:9092 --describe [--topic t]
#   topics.sh --bootstrap-server 127.0.0.1:9092 --alter --topic t --partitions 6
#   topics.sh --bootstrap-server 127.0.0.1:9092 --delete --topic t
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${RUNNEL_PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PYTHON" ]] || { echo "topics.sh: no Python venv at $ROOT/.venv (run scripts/test.sh once, or set RUNNEL_PYTHON)" >&2; exit 1; }

exec "$PYTHON" - "$@" <<'PYEOF'
import argparse
import sys

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

p = argparse.ArgumentParser(prog="topics.sh", description="Create, delete, describe, or change a topic.")
p.add_argument("--bootstrap-server", required=True, help="host:port of a broker")
action = p.add_mutually_exclusive_group(required=True)
action.add_argument("--create", action="store_true")
action.add_argument("--list", action="store_true")
action.add_argument("--describe", action="store_true")
action.add_argument("--delete", action="store_true")
action.add_argument("--alter", action="store_true")
p.add_argument("--topic")
p.add_argument("--partitions", type=int)
p.add_argument("--replication-factor", type=int)
p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE")
p.add_argument("--if-not-exists", action="store_true")
p.add_argument("--if-exists", action="store_true")
p.add_argument("--command-config", help="ignored (no security settings)")
a = p.parse_args()


def fail(msg):
    print("Error while executing topic command : %s" % msg, file=sys.stderr)
    sys.exit(1)


def error_of(exc):
    err = exc.args[0] if exc.args else None
    return err


admin = AdminClient({"bootstrap.servers": a.bootstrap_server})
configs = {}
for c in a.config:
    if "=" not in c:
        fail("--config expects KEY=VALUE, got %r" % c)
    k, v = c.split("=", 1)
    configs[k.strip()] = v.strip()

if (a.create or a.delete or a.alter) and not a.topic:
    fail("--topic is required")

if a.create:
    nt = NewTopic(a.topic, num_partitions=a.partitions if a.partitions is not None else -1,
                  replication_factor=a.replication_factor if a.replication_factor is not None else -1,
                  config=configs)
    try:
        admin.create_topics([nt], request_timeout=30)[a.topic].result(30)
    except KafkaException as e:
        err = error_of(e)
        if a.if_not_exists and err is not None and err.name() == "TOPIC_ALREADY_EXISTS":
            sys.exit(0)
        fail(err.str() if err is not None else e)
    print("Created topic %s." % a.topic)

elif a.list:
    md = admin.list_topics(timeout=30)
    for name in sorted(md.topics):
        print(name)

elif a.describe:
    md = admin.list_topics(topic=a.topic, timeout=30) if a.topic else admin.list_topics(timeout=30)
    names = [a.topic] if a.topic else sorted(md.topics)
    for name in names:
        t = md.topics.get(name)
        if t is None or (t.error is not None and t.error.code() != 0):
            if a.if_exists:
                continue
            fail("Topic '%s' does not exist as expected" % name)
        res = ConfigResource(ConfigResource.Type.TOPIC, name)
        try:
            entries = admin.describe_configs([res])[res].result(30)
        except KafkaException as e:
            fail(error_of(e).str())
        overrides = ",".join("%s=%s" % (k, v.value) for k, v in sorted(entries.items())
                             if v.source == 1)  # DYNAMIC_TOPIC_CONFIG
        parts = sorted(t.partitions.values(), key=lambda p: p.id)
        rf = len(parts[0].replicas) if parts else 0
        print("Topic: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s"
              % (name, len(parts), rf, overrides))
        for pt in parts:
            print("\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s"
                  % (name, pt.id, pt.leader if pt.leader >= 0 else "none",
                     ",".join(map(str, pt.replicas)), ",".join(map(str, pt.isrs))))

elif a.delete:
    try:
        admin.delete_topics([a.topic], request_timeout=30)[a.topic].result(30)
    except KafkaException as e:
        err = error_of(e)
        if a.if_exists and err is not None and err.name() == "UNKNOWN_TOPIC_OR_PART":
            sys.exit(0)
        fail(err.str() if err is not None else e)

elif a.alter:
    if a.partitions is None and not configs:
        fail("--alter needs --partitions (or --config)")
    if a.partitions is not None:
        try:
            admin.create_partitions([NewPartitions(a.topic, a.partitions)])[a.topic].result(30)
        except KafkaException as e:
            fail(error_of(e).str())
    if configs:
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry
        res = ConfigResource(ConfigResource.Type.TOPIC, a.topic, incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()])
        try:
            admin.incremental_alter_configs([res])[res].result(30)
        except KafkaException as e:
            fail(error_of(e).str())
PYEOF
