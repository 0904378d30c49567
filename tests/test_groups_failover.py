"""Consumer groups across brokers and clients: the coordinator broker
SIGKILLed under a running confluent-kafka group (the group finds the new
coordinator and resumes from the offsets kept in coord), and an aiokafka
group (two AIOKafkaConsumer members) reading every record once with its
commits visible to scripts/consumer-groups.sh."""

import asyncio
import socket
import struct
import textwrap
import time
import uuid

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brokerproc import cluster, committed_offsets, describe_rows, frame, read_response  # noqa: F401 - cluster is a fixture
from coordproc import wait_for
from procutil import ScriptWorker

pytestmark = pytest.mark.timeout(150)

SESSION_MS = 6000
# The failover test's members get a longer session. Broker 2 answers
# FindCoordinator with itself ~4 s after the kill (broker 1's coord session
# expires), but a librdkafka member blocked in commit(asynchronous=False) can
# then keep marking broker 2 dead on its own retried OffsetCommit's transport
# error (COORDSET 2 / "marking the coordinator (2) dead" every 500 ms) until
# its local session timer fires. With 6 s that timer races the failover, and
# once in ~25 runs the synchronous commit then never returned (SESSTMOUT, no
# rejoin). 10 s leaves margin; the worst case still recovers at the timer.
FAILOVER_SESSION_MS = 10000
BROKER_CONFIG = {"group_initial_rebalance_delay_ms": 0, "num_partitions": 1}


# ---------------------------------------------------------------- helpers

def find_coordinator(b, group):
    """FindCoordinator v0 asked of broker b: (error_code, node_id)."""
    key = group.encode()
    body = struct.pack(">h", len(key)) + key
    hdr = struct.pack(">hhih", 10, 0, 1, 3) + b"fot"
    with socket.create_connection(("127.0.0.1", b.port), timeout=10) as s:
        s.settimeout(10)
        s.sendall(frame(hdr + body))
        r = read_response(s)
    assert struct.unpack(">i", r[:4])[0] == 1
    err, node = struct.unpack(">hi", r[4:10])
    return err, node


def group_coordinated_by(brokers, want, prefix):
    """A fresh group id that every broker in `brokers` says `want` coordinates."""
    for _ in range(200):
        group = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
        answers = {b.broker_id: find_coordinator(b, group) for b in brokers}
        assert len(set(answers.values())) == 1, "brokers disagree on %s: %s" % (group, answers)
        err, node = answers[brokers[0].broker_id]
        assert err == 0, answers
        if node == want:
            return group
    raise AssertionError("no group id out of 200 is coordinated by broker %d" % want)


def produce(bootstrap, topic, n, start=0, partitions=3):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(start, start + n):
        p.produce(topic, value=b"v%d" % i, partition=i % partitions)
    assert p.flush(30) == 0


def describe(bootstrap, group):
    a = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the answer
    return a.describe_consumer_groups([group], request_timeout=10)[group].result(15)


def stable_with(bootstrap, group, n):
    d = describe(bootstrap, group)
    return str(d.state).endswith("STABLE") and len(d.members) == n and \
        all(m.assignment and m.assignment.topic_partitions for m in d.members)


# A confluent-kafka member that commits after processing: one JSON line per
# read record, per commit attempt and its outcome, per assignment change;
# each line stamped with CLOCK_MONOTONIC (shared by all processes).
# FO_RDKAFKA_DEBUG=cgrp,protocol puts librdkafka's debug log in w-*.err.
WORKER = textwrap.dedent(r"""
    import json, os, sys, time
    from confluent_kafka import Consumer, KafkaException
    bootstrap, group, topic, out, per_record_s, batch = sys.argv[1:7]
    per_record_s = float(per_record_s)
    batch = int(batch)
    f = open(out, "a", buffering=1)
    def emit(**kw):
        kw["t"] = time.monotonic()
        f.write(json.dumps(kw) + "\n")
    def on_assign(c, parts):
        emit(assign=[p.partition for p in parts])
    def on_revoke(c, parts):
        emit(revoke=[p.partition for p in parts])
    def on_lost(c, parts):
        emit(lost=[p.partition for p in parts])
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": %(session)d, "heartbeat.interval.ms": 500,
                  "topic.metadata.refresh.interval.ms": 1000,
                  "client.id": "fo-" + out[-6:],
                  **({"debug": os.environ["FO_RDKAFKA_DEBUG"]} if os.environ.get("FO_RDKAFKA_DEBUG") else {})})
    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    pending = 0
    def commit():
        global pending
        pos = {tp.partition: tp.offset for tp in c.position(c.assignment()) if tp.offset >= 0}
        emit(c_try=pos)
        try:
            res = c.commit(asynchronous=False)
        except KafkaException as e:
            emit(c_err=str(e.args[0]))
        else:
            ok = {tp.partition: tp.offset for tp in res if tp.error is None and tp.offset >= 0}
            bad = {tp.partition: str(tp.error) for tp in res if tp.error is not None}
            emit(c_ok=ok, c_bad=bad)
        pending = 0
    while True:
        m = c.poll(0.1)
        if m is None:
            if pending:
                commit()
            continue
        if m.error():
            continue
        time.sleep(per_record_s)  # processing
        emit(p=m.partition(), o=m.offset(), v=m.value().decode())
        pending += 1
        if pending >= batch:
            commit()
""" % {"session": FAILOVER_SESSION_MS})


class Worker(ScriptWorker):
    def __init__(self, tmp_path, bootstrap, group, topic, per_record_s=0.0, batch=1):
        super().__init__(tmp_path, "w", WORKER,
                         [bootstrap, group, topic, ScriptWorker.OUT, str(per_record_s), str(batch)])

    def records(self):
        return [e for e in self.events() if "p" in e]


# ---------------------------------------------------- coordinator broker killed

def test_coordinator_broker_killed_group_moves_and_resumes_from_committed(cluster, tmp_path, workers):
    _, (b1, b2) = cluster(brokers=2, **BROKER_CONFIG)
    both = "%s,%s" % (b1.bootstrap, b2.bootstrap)
    admin = AdminClient({"bootstrap.servers": both})
    topic = "fo-" + uuid.uuid4().hex[:8]

    def create():
        # The controller may not have seen broker 2 register yet.
        try:
            admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=-1,
                                          replica_assignment=[[2], [2], [2]])])[topic].result(15)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.INVALID_REPLICA_ASSIGNMENT:
                raise
            return False
        return True
    wait_for(create, timeout=15, interval=0.2, desc="topic with all partitions on broker 2")

    def leaders():
        md = admin.list_topics(topic, timeout=5).topics[topic]
        return {p: pm.leader for p, pm in md.partitions.items()} if md.error is None else {}
    wait_for(lambda: leaders() == {0: 2, 1: 2, 2: 2}, timeout=15, interval=0.2,
             desc="3 partitions, all led by broker 2")
    group = group_coordinated_by([b1, b2], 1, "fo")

    # Two members, slow enough that the kill lands mid-stream; commits every
    # 4 records, so some records are processed but not committed at the kill.
    for _ in range(2):
        workers.append(Worker(tmp_path, both, group, topic, per_record_s=0.01, batch=4))
    wait_for(lambda: stable_with(b1.bootstrap, group, 2), timeout=60, interval=0.5, desc="2 stable members")
    produce(both, topic, 900)
    wait_for(lambda: sum(len(w.records()) for w in workers) >= 250, timeout=60, interval=0.05,
             desc="250 records consumed before the kill")
    b1.kill()
    killed_at = time.monotonic()
    read_at_kill = sum(len(w.records()) for w in workers)
    assert read_at_kill < 900, "the kill must land while the group is still reading"
    produce(b2.bootstrap, topic, 300, start=900)

    # Broker 2 takes the group over once broker 1's registration expires.
    wait_for(lambda: find_coordinator(b2, group) == (0, 2), timeout=30, interval=0.2,
             desc="broker 2 coordinates the group")
    wanted = {"v%d" % i for i in range(1200)}
    wait_for(lambda: {e["v"] for w in workers for e in w.records()} >= wanted, timeout=60, interval=0.5,
             desc="all 1200 records read after the failover")
    wait_for(lambda: stable_with(b2.bootstrap, group, 2), timeout=30, interval=0.5,
             desc="2 stable members on broker 2")
    wait_for(lambda: committed_offsets(b2.bootstrap, group, topic, range(3)) == {0: 400, 1: 400, 2: 400}, timeout=30,
             interval=0.5, desc="commits up to the log end, served by broker 2")

    events = sorted((e for w in workers for e in w.events()), key=lambda e: e["t"])
    # Every record read; values and positions agree.
    reads = [e for e in events if "p" in e]
    assert {e["v"] for e in reads} == wanted
    for e in reads:
        i = int(e["v"][1:])
        assert (e["p"], e["o"]) == (i % 3, i // 3), e

    # Duplicates only of records no acknowledged commit covered: a record is
    # read again only if no commit past it had been acknowledged by then.
    acked = {p: 0 for p in range(3)}
    acked_at_kill = None
    seen = set()
    dups = []
    for e in events:
        if acked_at_kill is None and e["t"] >= killed_at:
            acked_at_kill = dict(acked)
        if "c_ok" in e:
            for p, off in e["c_ok"].items():
                acked[int(p)] = max(acked[int(p)], off)
        elif "p" in e:
            key = (e["p"], e["o"])
            if key in seen:
                dups.append(e)
                assert e["o"] >= acked[e["p"]], \
                    "read again though a commit at %d was acknowledged: %s" % (acked[e["p"]], e)
            seen.add(key)
    assert acked_at_kill is not None
    # Nothing committed before the kill was read again.
    assert all(e["o"] >= acked_at_kill[e["p"]] for e in dups), (acked_at_kill, dups)
    assert all(e["t"] > killed_at for e in dups), dups
    # The group really moved: after the kill every member was assigned anew
    # and started each partition at an offset the group had committed (or
    # tried to commit: a commit in flight at the kill may have been stored).
    commit_values = {p: {0} for p in range(3)}
    for e in events:
        for k in ("c_ok", "c_try"):
            for p, off in e.get(k, {}).items():
                commit_values[int(p)].add(off)
    for w in workers:
        evs = w.events()
        idx = [i for i, e in enumerate(evs) if "assign" in e and e["t"] > killed_at and e["assign"]]
        assert idx, "member %s was not assigned partitions after the kill" % w.out
        for i in idx:
            firsts = {}
            for e in evs[i + 1:]:
                if "assign" in e or "revoke" in e or "lost" in e:
                    break
                if "p" in e:
                    firsts.setdefault(e["p"], e["o"])
            for p, o in firsts.items():
                assert o in commit_values[p] and o >= acked_at_kill[p], \
                    "after the failover partition %d resumed at %d, not a committed offset (acked at the " \
                    "kill %d, commits %s)" % (p, o, acked_at_kill[p], sorted(commit_values[p]))
    d = describe(b2.bootstrap, group)
    assert sorted(tp.partition for m in d.members for tp in m.assignment.topic_partitions) == [0, 1, 2]


# ------------------------------------------------------------------- aiokafka

def test_aiokafka_group_reads_each_record_once_and_commits(cluster):
    from aiokafka import AIOKafkaConsumer
    from aiokafka.abc import ConsumerRebalanceListener

    _, b = cluster(**BROKER_CONFIG)
    topic = "aio-" + uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(15)
    wait_for(lambda: len(admin.list_topics(topic, timeout=5).topics[topic].partitions) == 4,
             timeout=10, desc="topic")
    group = "aio-" + uuid.uuid4().hex[:6]
    total = 400

    async def run():
        consumers, reads, assigns = [], [[], []], [[], []]

        class Listener(ConsumerRebalanceListener):
            def __init__(self, i):
                self.i = i

            async def on_partitions_revoked(self, revoked):
                pass

            async def on_partitions_assigned(self, assigned):
                assigns[self.i].append(sorted(tp.partition for tp in assigned))

        for i in range(2):
            c = AIOKafkaConsumer(bootstrap_servers=b.bootstrap, group_id=group, client_id="aio-%d" % i,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 session_timeout_ms=SESSION_MS, heartbeat_interval_ms=500)
            await c.start()
            c.subscribe([topic], listener=Listener(i))
            consumers.append(c)

        async def member(i, c):
            while True:
                batches = await c.getmany(timeout_ms=200)
                for tp, msgs in batches.items():
                    for m in msgs:
                        reads[i].append((m.partition, m.offset, m.value.decode()))
                if batches:
                    await c.commit()  # after processing

        tasks = [asyncio.create_task(member(i, c)) for i, c in enumerate(consumers)]
        try:
            async def until(cond, timeout, desc):
                deadline = time.monotonic() + timeout
                while not cond():
                    for t in tasks:
                        if t.done():
                            t.result()  # a member failed: raise its error
                    assert time.monotonic() < deadline, "timed out waiting for " + desc
                    await asyncio.sleep(0.2)

            def balanced():
                mine = [sorted(tp.partition for tp in c.assignment()) for c in consumers]
                return all(len(m) == 2 for m in mine) and sorted(mine[0] + mine[1]) == [0, 1, 2, 3]
            await until(balanced, 60, "both members assigned 2 partitions")
            d = await asyncio.to_thread(describe, b.bootstrap, group)
            assert str(d.state).endswith("STABLE") and len(d.members) == 2
            owned = {m.client_id: sorted(tp.partition for tp in m.assignment.topic_partitions) for m in d.members}
            assert sorted(owned) == ["aio-0", "aio-1"]
            assert sorted(owned["aio-0"] + owned["aio-1"]) == [0, 1, 2, 3], owned
            assert owned["aio-0"] == sorted(tp.partition for tp in consumers[0].assignment())

            await asyncio.to_thread(produce, b.bootstrap, topic, total, 0, 4)
            await until(lambda: len(reads[0]) + len(reads[1]) >= total, 60, "%d records read" % total)
            await asyncio.sleep(1)  # anything read twice would show up now
            # Committed offsets visible through the script while the members are up.
            rows = await asyncio.to_thread(describe_rows, b.bootstrap, group)
            return reads, assigns, owned, rows
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for c in consumers:
                await c.stop()

    reads, assigns, owned, rows = asyncio.run(run())
    allr = reads[0] + reads[1]
    assert len(allr) == total, "every record exactly once (%d reads)" % len(allr)
    assert sorted(int(v[1:]) for _, _, v in allr) == list(range(total))
    for i in range(2):
        assert {p for p, _, _ in reads[i]} == set(owned["aio-%d" % i]), (i, owned)
        assert assigns[i][-1] == owned["aio-%d" % i]
    # scripts/consumer-groups.sh --describe: committed == log end, no lag,
    # each partition shown with the member that owns it.
    per = total // 4
    assert sorted(rows) == [0, 1, 2, 3]
    for p, row in rows.items():
        assert row[1] == topic
        assert row[3:6] == [str(per), str(per), "0"], row
        assert row[6] != "-" and row[7] == "/127.0.0.1", row
        assert row[8] == ("aio-0" if p in owned["aio-0"] else "aio-1"), (row, owned)
    # And the group keeps them after its members leave.
    wait_for(lambda: str(describe(b.bootstrap, group).state).endswith("EMPTY"), timeout=20, interval=0.5)
    assert committed_offsets(b.bootstrap, group, topic, range(4)) == {p: per for p in range(4)}
    rows = describe_rows(b.bootstrap, group)
    assert [rows[p][3:6] for p in range(4)] == [[str(per), str(per), "0"]] * 4
