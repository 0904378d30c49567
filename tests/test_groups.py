"""Consumer groups on one runnel-broker: real clients (confluent-kafka,
kafka-python, kcat) in one group, a member SIGKILLed, restarts resuming from
committed offsets, scripts/consumer-groups.sh, and Kafka's error codes for
bad group requests (raw protocol)."""

import signal
import socket
import struct
import subprocess
import textwrap
import time
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from brokerproc import Broker, describe_rows, frame, groups_sh, read_response
from coordproc import CoordServer, wait_for
from procutil import ScriptWorker

pytestmark = pytest.mark.timeout(180)

SESSION_MS = 6000


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    base = tmp_path_factory.mktemp("groups")
    coord = CoordServer(base / "coord", name="runnel-coord")
    coord.start()
    b = Broker(base / "broker", coord.hosts + "/runnel", broker_id=1,
               extra={"group.initial.rebalance.delay.ms": "0",
                      "num.partitions": "1"})
    b.start()
    yield b
    b.close()
    coord.close()


def new_topic(b, partitions=6, prefix="t"):
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(15)
    wait_for(lambda: name in admin.list_topics(timeout=5).topics, timeout=10, desc="topic")
    return name


def produce(b, topic, n, start=0, partitions=6):
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
    for i in range(start, start + n):
        p.produce(topic, value=b"v%d" % i, partition=i % partitions)
    assert p.flush(30) == 0


def admin(b):
    return AdminClient({"bootstrap.servers": b.bootstrap})


def describe(b, group):
    a = admin(b)  # kept alive until the answer: a dropped client never answers
    return a.describe_consumer_groups([group], request_timeout=10)[group].result(15)


def stable_with(b, group, n):
    d = describe(b, group)
    return str(d.state).endswith("STABLE") and len(d.members) == n and \
        all(m.assignment and m.assignment.topic_partitions for m in d.members)


# A consumer process: prints one JSON line per record and per assignment.
WORKER = textwrap.dedent(r"""
    import json, sys, time
    kind, bootstrap, group, topic, out = sys.argv[1:6]
    f = open(out, "a", buffering=1)
    def emit(**kw):
        f.write(json.dumps(kw) + "\n")
    if kind == "confluent":
        from confluent_kafka import Consumer
        def on_assign(c, parts):
            emit(assign=[p.partition for p in parts])
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "session.timeout.ms": %(session)d, "heartbeat.interval.ms": 500,
                      "client.id": "cf-" + out[-6:]})
        c.subscribe([topic], on_assign=on_assign)
        while True:
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            emit(p=m.partition(), o=m.offset(), v=m.value().decode())
            c.commit(message=m, asynchronous=False)
    else:
        from kafka import KafkaConsumer, OffsetAndMetadata
        from kafka.consumer.subscription_state import ConsumerRebalanceListener
        c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                          enable_auto_commit=False, auto_offset_reset="earliest",
                          session_timeout_ms=%(session)d, heartbeat_interval_ms=500,
                          client_id="kp-" + out[-6:])
        class L(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                pass
            def on_partitions_assigned(self, assigned):
                emit(assign=[p.partition for p in assigned])
        c.subscribe([topic], listener=L())
        while True:
            for tp, msgs in c.poll(200).items():
                for m in msgs:
                    emit(p=m.partition, o=m.offset, v=m.value.decode())
                    c.commit({tp: OffsetAndMetadata(m.offset + 1, "", -1)})
""" % {"session": SESSION_MS})


class Worker(ScriptWorker):
    def __init__(self, tmp_path, kind, b, group, topic):
        super().__init__(tmp_path, "w-" + kind, WORKER,
                         [kind, b.bootstrap, group, topic, ScriptWorker.OUT])

    def records(self):
        return [(e["p"], e["o"], e["v"]) for e in self.events() if "p" in e]


def test_mixed_clients_share_partitions_and_read_each_record_once(broker, tmp_path, workers):
    topic = new_topic(broker)
    group = "mixed-" + uuid.uuid4().hex[:6]
    for kind in ("confluent", "confluent", "confluent", "kafka-python"):
        workers.append(Worker(tmp_path, kind, broker, group, topic))
    wait_for(lambda: stable_with(broker, group, 4), timeout=60, interval=0.5, desc="4 stable members")
    d = describe(broker, group)
    owned = [tp.partition for m in d.members for tp in m.assignment.topic_partitions]
    assert sorted(owned) == list(range(6)), "assignments disjoint and complete: %s" % owned
    assert {m.client_id[:3] for m in d.members} == {"cf-", "kp-"}
    assert all(m.host == "/127.0.0.1" for m in d.members)
    produce(broker, topic, 600)
    wait_for(lambda: sum(len(w.records()) for w in workers) >= 600, timeout=60, interval=0.5,
             desc="600 records consumed")
    time.sleep(1)
    recs = [r for w in workers for r in w.records()]
    assert len(recs) == 600, "every record exactly once"
    assert sorted(int(v[1:]) for _, _, v in recs) == list(range(600))
    # Each partition was read by exactly one member.
    readers = {}
    for i, w in enumerate(workers):
        for p, _, _ in w.records():
            readers.setdefault(p, set()).add(i)
    assert all(len(s) == 1 for s in readers.values()), readers


def test_killed_member_partitions_move_and_resume_from_committed(broker, tmp_path, workers):
    topic = new_topic(broker)
    group = "kill-" + uuid.uuid4().hex[:6]
    for _ in range(3):
        workers.append(Worker(tmp_path, "confluent", broker, group, topic))
    wait_for(lambda: stable_with(broker, group, 3), timeout=60, interval=0.5, desc="3 stable members")
    produce(broker, topic, 300)
    wait_for(lambda: sum(len(w.records()) for w in workers) >= 300, timeout=60, interval=0.5)
    victim = workers[0]
    victim_parts = {p for p, _, _ in victim.records()}
    assert victim_parts
    victim.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    produce(broker, topic, 300, start=300)
    # After the session timeout the survivors own all six partitions.
    wait_for(lambda: stable_with(broker, group, 2), timeout=40, interval=0.5, desc="rebalanced to 2")
    assert time.monotonic() - killed_at >= SESSION_MS / 1000.0 - 1
    d = describe(broker, group)
    assert sorted(tp.partition for m in d.members for tp in m.assignment.topic_partitions) == list(range(6))
    survivors = workers[1:]
    wait_for(lambda: {v for w in workers for _, _, v in w.records()} >= {"v%d" % i for i in range(600)},
             timeout=60, interval=0.5, desc="all 600 records")
    # Nothing skipped; the victim's partitions continued from its commits
    # (commits follow processing, so at most a redelivery, never a gap).
    after = [r for w in survivors for r in w.records() if r[0] in victim_parts and int(r[2][1:]) >= 300]
    assert after, "the survivors read the victim's partitions"
    redelivered = [r for w in survivors for r in w.records() if r[0] in victim_parts and int(r[2][1:]) < 300]
    assert len(redelivered) <= len(victim_parts), redelivered

    # Restart the whole group: it resumes from the committed offsets.
    for w in survivors:
        w.stop()
    wait_for(lambda: str(describe(broker, group).state).endswith("EMPTY"), timeout=30, interval=0.5)
    produce(broker, topic, 60, start=600)
    fresh = Worker(tmp_path, "kafka-python", broker, group, topic)
    workers.append(fresh)
    wait_for(lambda: len(fresh.records()) >= 60, timeout=60, interval=0.5, desc="60 new records")
    time.sleep(1)
    assert sorted(int(v[1:]) for _, _, v in fresh.records()) == list(range(600, 660))


def test_consumer_groups_script_describe_reset_delete(broker):
    from kafka import KafkaConsumer, TopicPartition as KTP
    topic = new_topic(broker, partitions=3)
    group = "script-" + uuid.uuid4().hex[:6]
    produce(broker, topic, 30, partitions=3)  # 10 per partition
    c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      session_timeout_ms=SESSION_MS)
    got = 0
    deadline = time.monotonic() + 30
    while got < 30 and time.monotonic() < deadline:
        got += sum(len(v) for v in c.poll(200).values())
    assert got == 30
    c.commit({KTP(topic, 0): __import__("kafka").OffsetAndMetadata(4, "", -1),
              KTP(topic, 1): __import__("kafka").OffsetAndMetadata(10, "", -1),
              KTP(topic, 2): __import__("kafka").OffsetAndMetadata(7, "", -1)})
    rows = describe_rows(broker.bootstrap, group)
    assert [rows[p][3:6] for p in range(3)] == [["4", "10", "6"], ["10", "10", "0"], ["7", "10", "3"]]
    assert rows[0][6] != "-" and rows[0][7] == "/127.0.0.1"
    c.close()

    r = groups_sh(broker.bootstrap, "--list")
    assert r.returncode == 0 and group in r.stdout.split(), r
    # A reset is refused while members are active; the group is empty now.
    wait_for(lambda: str(describe(broker, group).state).endswith("EMPTY"), timeout=20)
    r = groups_sh(broker.bootstrap, "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest")
    assert r.returncode == 0 and "No action will be performed" in r.stdout
    assert describe_rows(broker.bootstrap, group)[0][3] == "4", "dry run changes nothing"
    r = groups_sh(broker.bootstrap, "--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute")
    assert r.returncode == 0, r.stderr
    assert [describe_rows(broker.bootstrap, group)[p][3] for p in range(3)] == ["0", "0", "0"]
    r = groups_sh(broker.bootstrap, "--reset-offsets", "--group", group, "--topic", topic + ":1", "--to-offset", "6",
                  "--execute")
    assert r.returncode == 0, r.stderr
    r = groups_sh(broker.bootstrap, "--reset-offsets", "--group", group, "--topic", topic + ":2", "--to-latest", "--execute")
    assert r.returncode == 0, r.stderr
    rows = describe_rows(broker.bootstrap, group)
    assert [rows[p][3] for p in range(3)] == ["0", "6", "10"]
    assert [rows[p][5] for p in range(3)] == ["10", "4", "0"]
    r = groups_sh(broker.bootstrap, "--reset-offsets", "--group", group, "--topic", topic + ":0",
                  "--to-datetime", "2000-01-01T00:00:00.000", "--execute")
    assert r.returncode == 0 and describe_rows(broker.bootstrap, group)[0][3] == "0"

    # The next consumer starts where the group was moved to.
    c = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                      enable_auto_commit=False, auto_offset_reset="earliest", session_timeout_ms=SESSION_MS)
    firsts = {}
    deadline = time.monotonic() + 30
    while len(firsts) < 2 and time.monotonic() < deadline:
        for tp, msgs in c.poll(200).items():
            firsts.setdefault(tp.partition, msgs[0].offset)
    c.close()
    assert firsts == {0: 0, 1: 6}

    wait_for(lambda: str(describe(broker, group).state).endswith("EMPTY"), timeout=20)
    r = groups_sh(broker.bootstrap, "--delete", "--group", group)
    assert r.returncode == 0 and "was successful" in r.stdout, r
    r = groups_sh(broker.bootstrap, "--list")
    assert group not in r.stdout.split()
    r = groups_sh(broker.bootstrap, "--delete", "--group", group)
    assert r.returncode != 0 and "GROUP_ID_NOT_FOUND" in r.stdout


def test_kcat_balanced_consumption(broker, tmp_path):
    topic = new_topic(broker)
    group = "kcat-" + uuid.uuid4().hex[:6]
    procs = []
    outs = []
    for i in range(2):
        out = open(tmp_path / ("kcat-%d" % i), "w")
        outs.append(tmp_path / ("kcat-%d" % i))
        procs.append(subprocess.Popen(["kcat", "-b", broker.bootstrap, "-G", group, "-o", "beginning",
                                       "-X", "session.timeout.ms=%d" % SESSION_MS, "-f", "%p %s\\n", "-u", "-q", topic],
                                      stdout=out, stderr=subprocess.DEVNULL))
    try:
        wait_for(lambda: stable_with(broker, group, 2), timeout=60, interval=0.5, desc="2 kcat members")
        d = describe(broker, group)
        counts = sorted(len(m.assignment.topic_partitions) for m in d.members)
        assert counts == [3, 3], counts
        produce(broker, topic, 120)

        def lines():
            return [l.split() for o in outs for l in open(o).read().splitlines() if l.strip()]
        wait_for(lambda: len(lines()) >= 120, timeout=60, interval=0.5, desc="kcat consumed")
        assert sorted(int(v[1:]) for _, v in lines()) == list(range(120))
        per = [len(open(o).read().splitlines()) for o in outs]
        assert per == [60, 60], per
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


# ---- raw protocol for the error codes

def s16(v):
    return struct.pack(">h", v)


def s32(v):
    return struct.pack(">i", v)


def string(v):
    b = v.encode()
    return struct.pack(">h", len(b)) + b


def byts(v):
    return struct.pack(">i", len(v)) + v


def header(api, version, corr=1):
    return struct.pack(">hhi", api, version, corr) + string("raw")


class Raw:
    def __init__(self, b):
        self.sock = socket.create_connection(("127.0.0.1", b.port), timeout=30)
        self.corr = 0

    def call(self, api, version, body):
        self.corr += 1
        self.sock.sendall(frame(header(api, version, self.corr) + body))
        resp = read_response(self.sock)
        assert struct.unpack(">i", resp[:4])[0] == self.corr
        return resp[4:]


def parse_join_v0(r):
    err, gen = struct.unpack(">hi", r[:6])
    pos = 6
    out = []
    for _ in range(3):
        n = struct.unpack(">h", r[pos:pos + 2])[0]
        out.append(r[pos + 2:pos + 2 + n].decode())
        pos += 2 + n
    return err, gen, out[2]


def join_v0(raw, group, member="", session=SESSION_MS):
    body = string(group) + s32(session) + string(member) + string("consumer") + \
        s32(1) + string("range") + byts(b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
    return parse_join_v0(raw.call(11, 0, body))


def commit_v2(raw, group, gen, member, topic, partition=0, offset=1):
    body = string(group) + s32(gen) + string(member) + struct.pack(">q", -1) + \
        s32(1) + string(topic) + s32(1) + s32(partition) + struct.pack(">q", offset) + string("")
    r = raw.call(8, 2, body)
    # topics[1] name partitions[1] (partition, error)
    n = struct.unpack(">h", r[4:6])[0]
    pos = 6 + n + 4
    return struct.unpack(">ih", r[pos:pos + 6])[1]


def test_bad_group_requests_get_kafkas_error_codes(broker):
    topic = new_topic(broker, partitions=1)
    raw = Raw(broker)
    group = "raw-" + uuid.uuid4().hex[:6]
    # Offsets-only commits (generation -1): unknown topic → UNKNOWN_TOPIC_OR_PARTITION.
    assert commit_v2(raw, group, -1, "", "no-such-topic-" + uuid.uuid4().hex[:6]) == 3
    assert commit_v2(raw, group, -1, "", topic, partition=5) == 3
    assert commit_v2(raw, group, -1, "", topic) == 0
    # A generation for a group that has none → ILLEGAL_GENERATION.
    assert commit_v2(raw, "nogroup-" + uuid.uuid4().hex[:6], 4, "m", topic) == 22
    # Session timeout outside group.min/max.session.timeout.ms → INVALID_SESSION_TIMEOUT.
    assert join_v0(raw, group, session=10)[0] == 26
    # JoinGroup v4 without a member id → MEMBER_ID_REQUIRED with an id to use.
    body = string(group) + s32(SESSION_MS) + s32(SESSION_MS) + string("") + string("consumer") + \
        s32(1) + string("range") + byts(b"")
    r = raw.call(11, 4, body)
    assert struct.unpack(">h", r[4:6])[0] == 79
    # A real member (v0 join completes at once with no initial delay).
    err, gen, member = join_v0(raw, group)
    assert err == 0 and gen >= 1 and member
    sync = string(group) + s32(gen) + string(member) + s32(1) + string(member) + byts(b"A")
    r = raw.call(14, 0, sync)
    assert struct.unpack(">h", r[:2])[0] == 0
    assert commit_v2(raw, group, gen, member, topic) == 0
    assert commit_v2(raw, group, gen + 7, member, topic) == 22, "stale generation"
    assert commit_v2(raw, group, gen, "stranger", topic) == 25, "unknown member"
    hb = lambda g, m: struct.unpack(">h", raw.call(12, 0, string(group) + s32(g) + string(m))[:2])[0]
    assert hb(gen, member) == 0
    assert hb(gen - 1, member) == 22
    assert hb(gen, "stranger") == 25
    r = raw.call(14, 0, string(group) + s32(gen + 1) + string(member) + s32(0))
    assert struct.unpack(">h", r[:2])[0] == 22
    # DeleteGroups: members present → NON_EMPTY_GROUP; unknown → GROUP_ID_NOT_FOUND.
    r = raw.call(42, 0, s32(2) + string(group) + string("ghost-" + uuid.uuid4().hex[:6]))
    codes = []
    pos = 8
    for _ in range(2):
        n = struct.unpack(">h", r[pos:pos + 2])[0]
        codes.append(struct.unpack(">h", r[pos + 2 + n:pos + 4 + n])[0])
        pos += 4 + n
    assert codes == [68, 69]
    # LeaveGroup v0, then the member is unknown.
    r = raw.call(13, 0, string(group) + string(member))
    assert struct.unpack(">h", r[:2])[0] == 0
    assert hb(gen + 1, member) == 25
    # Empty group id → INVALID_GROUP_ID for membership APIs.
    assert join_v0(raw, "")[0] == 24
