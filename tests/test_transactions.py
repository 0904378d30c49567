"""Transactions (issue 9), end to end with real clients and real processes
on 127.0.0.1: one runnel-coord and three brokers (replication_util's
RepCluster: default.replication.factor=3, min.insync.replicas=2), shared by
the tests of this module, with transaction.abort.timed.out.transaction.
cleanup.interval.ms=500 so a timed-out transaction is aborted within a
second of its timeout.

Tests
  6. test_interleaved_commits_and_aborts_three_clients: confluent-kafka and
     kafka-python transactional producers, interleaved committed and aborted
     transactions over 2 topics x 3 partitions; read_committed consumers of
     confluent-kafka, kafka-python and aiokafka see exactly the committed
     records, each once, in order per partition, never a control record;
     read_uncommitted sees every record (committed and aborted), no control
     record.
     test_raw_fetch_last_stable_offset_and_aborted_transactions: a raw Fetch
     v4 with isolation_level=1: high watermark > last stable offset while a
     transaction is open, `aborted_transactions` names the aborted producer id
     and first offset, control batches carry abort/commit; ListOffsets honours
     the isolation level.
     test_read_committed_long_poll_wakes_on_commit: a parked read_committed
     fetch returns the records soon after the commit.
     test_raw_init_producer_id_transactional, test_raw_transactional_calls_out_of_order:
     InitProducerId with a transactional id bumps the epoch, timeouts above
     transaction.max.timeout.ms are refused, EndTxn / AddPartitionsToTxn out
     of order or with a stale epoch or an unknown id get Kafka's error codes.
  7. test_send_offsets_to_transaction_moves_group_offsets_only_on_commit:
     the documented EOS loop (confluent-kafka); abort leaves the group's
     committed offsets where they were, commit moves them.
  8. test_second_producer_fences_the_first: same transactional.id twice; the
     first is fenced and its open transaction never becomes visible.
  9. test_stopped_producer_is_aborted_after_its_timeout: a producer
     SIGSTOPped past transaction.timeout.ms is aborted by the coordinator and
     read_committed consumers move on past it; resumed, it is fenced (its
     late record refused, its commit fails) and nothing is left hanging.
 10. test_coordinator_killed_after_commit_returns,
     test_partition_leader_killed_inside_transaction.
 11. test_exactly_once_pipeline_under_sigkill: consume-transform-produce A->B,
     SIGKILLed 3 times and a broker killed meanwhile: B holds every record of A
     exactly once, in order per partition.
 12. test_transactions_sh_list_describe_describe_producers.
"""

import os
import random
import signal
import subprocess
import textwrap
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from brokerproc import REPO, committed_offsets, describe_rows
from eosutil import (INVALID_PRODUCER_EPOCH, INVALID_PRODUCER_ID_MAPPING, INVALID_TRANSACTION_TIMEOUT,
                     INVALID_TXN_STATE, add_partitions_to_txn, check_exactly_once, end_txn, fetch, fetch_all,
                     find_coordinator, init_producer_id, list_offsets, parse_value, read_aiokafka, read_confluent,
                     read_kafka_python, topic_name, value)
from procutil import ScriptWorker, built_binary, wait_for
from replication_util import RepCluster

pytestmark = pytest.mark.timeout(240)

CLEANUP_MS = 500
TXN_CONFIG = {
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": CLEANUP_MS,
    "transaction.state.log.replication.factor": 3,
    "transaction.state.log.min.isr": 2,
    "offsets.topic.replication.factor": 3,
}


@pytest.fixture(scope="module")
def shared_txn(tmp_path_factory):
    c = RepCluster(tmp_path_factory.mktemp("txn"), n=3, **TXN_CONFIG).start()
    yield c
    c.close()


@pytest.fixture
def tc(shared_txn):
    """The module's cluster with every broker running; healed afterwards."""
    shared_txn.heal()
    yield shared_txn
    shared_txn.heal()


# ------------------------------------------------------------------ helpers

def txn_producer(bootstrap, txid, **conf):
    """A confluent-kafka transactional producer, init_transactions done.
    (Client errors go to error_cb, not stderr: the ones that matter surface
    as exceptions from the transactional calls.)"""
    errors = []
    c = {"bootstrap.servers": bootstrap, "transactional.id": txid, "linger.ms": 5,
         "transaction.timeout.ms": 30000, "message.timeout.ms": 30000, "request.timeout.ms": 10000,
         "socket.timeout.ms": 10000, "topic.metadata.refresh.interval.ms": 1000,
         "retry.backoff.ms": 50, "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200,
         "error_cb": errors.append}
    c.update(conf)
    p = Producer(c)
    p.init_transactions(60)
    return p


def produce_values(p, topic, values_by_p):
    """produce() every value to its partition and flush; raises on a
    delivery error."""
    failed = []

    def done(err, msg):
        if err is not None:
            failed.append(err)
    for part, vals in values_by_p.items():
        for v in vals:
            p.produce(topic, value=v.encode(), partition=part, on_delivery=done)
    assert p.flush(60) == 0
    assert not failed, "delivery errors inside the transaction: %s" % failed[:3]


def leader_port(cl, topic, p):
    return cl.brokers[cl.leader(topic, p)].port


def by_prefix(records):
    """{p: [(offset, value)]} -> {(prefix, p): [value in offset order]}"""
    out = {}
    for p, recs in records.items():
        for _, v in recs:
            assert v is not None, "partition %d: a record without a value (a control record?)" % p
            prefix, vp, _ = parse_value(v)
            assert vp == p, "value %s read from partition %d" % (v, p)
            out.setdefault((prefix, p), []).append(v)
    return out


def check_by_producer(records, expected, what):
    """Per (producer prefix, partition): exactly the expected values, once,
    in order; nothing else. Offsets strictly increase per partition."""
    for p, recs in records.items():
        offs = [o for o, _ in recs]
        assert offs == sorted(set(offs)), "%s: partition %d offsets not increasing" % (what, p)
    got = by_prefix(records)
    keys = set(got) | {k for k, v in expected.items() if v}
    for k in sorted(keys):
        g, w = got.get(k, []), expected.get(k, [])
        if g != w:
            raise AssertionError("%s: producer %s partition %d: %d records, expected %d; missing %s; "
                                 "unexpected %s; duplicates %s" % (
                                     what, k[0], k[1], len(g), len(w), sorted(set(w) - set(g))[:6],
                                     sorted(set(g) - set(w))[:6], sorted({x for x in g if g.count(x) > 1})[:6]))


# ------------------------------------------------------------------ 6

def test_interleaved_commits_and_aborts_three_clients(tc):
    """Test 6: two transactional producers (confluent-kafka "ck", kafka-python
    "kp") run 6 transactions each over 2 topics x 3 partitions, their
    transactions open at the same time; ck commits rounds 0, 2, 4 and aborts
    1, 3, 5, kp the other way round. read_committed (3 clients) sees exactly
    the committed records, once, in producer order per partition;
    read_uncommitted sees all of them; none hands out a control record."""
    from kafka import KafkaProducer
    topics = [topic_name("tx6a"), topic_name("tx6b")]
    for t in topics:
        tc.create_topic(t, 3)
    ck = txn_producer(tc.bootstrap, "ck-" + uuid.uuid4().hex[:6])
    kp = KafkaProducer(bootstrap_servers=tc.bootstrap, transactional_id="kp-" + uuid.uuid4().hex[:6],
                       linger_ms=5, request_timeout_ms=10000)
    kp.init_transactions()
    committed = {t: {} for t in topics}   # topic -> {(prefix, p): [values]}
    everything = {t: {} for t in topics}
    seq = {("ck", t, p): 0 for t in topics for p in range(3)}
    seq.update({("kp", t, p): 0 for t in topics for p in range(3)})

    def batch(name, rnd):
        out = {}
        for t in topics:
            for p in range(3):
                vals = []
                for _ in range(4):
                    vals.append(value(name, p, seq[(name, t, p)]))
                    seq[(name, t, p)] += 1
                out[(t, p)] = vals
        return out

    for rnd in range(6):
        ck.begin_transaction()
        kp.begin_transaction()
        ck_vals, kp_vals = batch("ck", rnd), batch("kp", rnd)
        futs = []
        for (t, p), vals in ck_vals.items():
            for v in vals[:2]:
                ck.produce(t, value=v.encode(), partition=p)
        for (t, p), vals in kp_vals.items():
            for v in vals[:2]:
                futs.append(kp.send(t, value=v.encode(), partition=p))
        ck.flush(30)
        kp.flush(30)
        for (t, p), vals in ck_vals.items():
            for v in vals[2:]:
                ck.produce(t, value=v.encode(), partition=p)
        for (t, p), vals in kp_vals.items():
            for v in vals[2:]:
                futs.append(kp.send(t, value=v.encode(), partition=p))
        ck.flush(30)
        kp.flush(30)
        for f in futs:
            f.get(timeout=30)
        ck_commits = rnd % 2 == 0
        if ck_commits:
            ck.commit_transaction(60)
            kp.abort_transaction()
        else:
            kp.commit_transaction()
            ck.abort_transaction(60)
        for name, vals, ok in (("ck", ck_vals, ck_commits), ("kp", kp_vals, not ck_commits)):
            for (t, p), vs in vals.items():
                everything[t].setdefault((name, p), []).extend(vs)
                if ok:
                    committed[t].setdefault((name, p), []).extend(vs)
    kp.close(timeout=10)
    n_committed = {t: sum(len(v) for v in committed[t].values()) for t in topics}
    n_all = {t: sum(len(v) for v in everything[t].values()) for t in topics}
    assert n_committed == {t: 72 for t in topics} and n_all == {t: 144 for t in topics}

    for t in topics:
        records = read_confluent(tc.bootstrap, t, [0, 1, 2], isolation="read_committed")
        check_by_producer(records, committed[t], "confluent read_committed %s" % t)
        records = read_confluent(tc.bootstrap, t, [0, 1, 2], isolation="read_uncommitted")
        check_by_producer(records, everything[t], "confluent read_uncommitted %s" % t)
    t = topics[0]
    records = read_kafka_python(tc.bootstrap, t, [0, 1, 2], isolation="read_committed", expect=n_committed[t])
    check_by_producer(records, committed[t], "kafka-python read_committed")
    records = read_aiokafka(tc.bootstrap, t, [0, 1, 2], isolation="read_committed", expect=n_committed[t])
    check_by_producer(records, committed[t], "aiokafka read_committed")
    t = topics[1]
    records = read_kafka_python(tc.bootstrap, t, [0, 1, 2], isolation="read_uncommitted", expect=n_all[t])
    check_by_producer(records, everything[t], "kafka-python read_uncommitted")

    # The log itself: 6 transactions per producer and partition, each ended
    # by one control batch (commit or abort) from that producer.
    for p in range(3):
        batches, _ = fetch_all(leader_port(tc, t, p), t, p)
        controls = [b for b in batches if b["control"]]
        data = [b for b in batches if not b["control"]]
        assert len(controls) == 12, "%s-%d: %d control batches, expected 12" % (t, p, len(controls))
        assert all(b["transactional"] for b in batches), "%s-%d: a non-transactional batch" % (t, p)
        assert sorted(b.get("control_type") for b in controls) == [0] * 6 + [1] * 6
        assert all(b["crc_ok"] for b in batches)
        assert len({b["producer_id"] for b in data}) == 2


def test_raw_fetch_last_stable_offset_and_aborted_transactions(tc):
    """Test 6 (raw): Fetch v4 isolation_level=1 on the leader. While a
    transaction is open the last stable offset stays at its first offset
    (high watermark above it) and nothing at or past it is returned;
    after the abort, aborted_transactions lists (producer id, first
    offset) and an abort control batch follows the data; after a commit,
    a commit marker; a fetch past the aborted range lists no aborted
    transaction. ListOffsets with isolation_level=1 answers the LSO."""
    topic = topic_name("tx6raw")
    tc.create_topic(topic, 1)
    plain = Producer({"bootstrap.servers": tc.bootstrap, "acks": "all"})
    for i in range(3):
        plain.produce(topic, value=value("plain", 0, i).encode(), partition=0)
    assert plain.flush(30) == 0
    port = leader_port(tc, topic, 0)
    wait_for(lambda: fetch(port, topic, [0])[0]["high_watermark"] == 3, timeout=20, desc="HW 3")

    p = txn_producer(tc.bootstrap, "raw-" + uuid.uuid4().hex[:6])
    p.begin_transaction()
    produce_values(p, topic, {0: [value("ab", 0, i) for i in range(5)]})   # offsets 3..7
    wait_for(lambda: fetch(port, topic, [0])[0]["high_watermark"] == 8, timeout=20, desc="HW 8")
    ro = fetch(port, topic, [0], isolation=1)[0]
    assert ro["error"] == 0
    assert ro["high_watermark"] == 8 and ro["last_stable_offset"] == 3, \
        "open transaction from offset 3: HW %d, LSO %d" % (ro["high_watermark"], ro["last_stable_offset"])
    assert all(b["last_offset"] < 3 for b in ro["batches"]), \
        "read_committed Fetch returned batches past the LSO: %s" % [(b["base_offset"], b["last_offset"])
                                                                   for b in ro["batches"]]
    assert list_offsets(port, topic, [0], isolation=1)[0] == (0, 3), "ListOffsets read_committed != LSO"
    assert list_offsets(port, topic, [0], isolation=0)[0] == (0, 8)
    ru = fetch(port, topic, [0], isolation=0)[0]
    open_batches = [b for b in ru["batches"] if b["base_offset"] >= 3]
    assert open_batches and all(b["transactional"] and b["producer_id"] >= 0 for b in open_batches)
    pid = open_batches[0]["producer_id"]

    p.abort_transaction(30)
    # abort marker at 8
    wait_for(lambda: fetch(port, topic, [0], isolation=1)[0]["last_stable_offset"] == 9, timeout=20,
             desc="LSO 9 after the abort (last %s)" % {k: v for k, v in fetch(port, topic, [0], isolation=1)[0]
                                                       .items() if k != "batches"})
    ro = fetch(port, topic, [0], isolation=1)[0]
    assert ro["high_watermark"] == 9
    assert ro["aborted"] == [(pid, 3)], "aborted_transactions %s, expected [(%d, 3)]" % (ro["aborted"], pid)
    ctl = [b for b in ro["batches"] if b["control"]]
    assert [(b["base_offset"], b["producer_id"], b.get("control_type")) for b in ctl] == [(8, pid, 0)]

    p.begin_transaction()
    produce_values(p, topic, {0: [value("cm", 0, i) for i in range(2)]})   # 9, 10
    p.commit_transaction(30)                                               # marker 11
    wait_for(lambda: fetch(port, topic, [0], isolation=1)[0]["last_stable_offset"] == 12, timeout=20,
             desc="LSO 12 after the commit")
    ro = fetch(port, topic, [0], {0: 9}, isolation=1)[0]
    assert not ro["aborted"], "fetch from 9 lists aborted transactions before it: %s" % ro["aborted"]
    ctl = [b for b in ro["batches"] if b["control"]]
    assert [(b["base_offset"], b.get("control_type")) for b in ctl] == [(11, 1)]
    assert list_offsets(port, topic, [0], isolation=1)[0] == (0, 12)
    records = read_confluent(tc.bootstrap, topic, [0], isolation="read_committed")
    assert [v for _, v in records[0]] == [value("plain", 0, i) for i in range(3)] + \
        [value("cm", 0, i) for i in range(2)]
    assert [o for o, _ in records[0]] == [0, 1, 2, 9, 10]


def coordinator_port(cl, txid):
    """Port of the transaction coordinator for `txid` (FindCoordinator key type 1)."""
    def ask():
        err, node = find_coordinator(cl.brokers[cl.live()[0]], txid)
        return node if err == 0 and node in cl.brokers else None
    return cl.brokers[wait_for(ask, timeout=30, interval=0.2, desc="coordinator of %s" % txid)].port


def test_raw_init_producer_id_transactional(tc):
    """Test 6 (raw): InitProducerId with a transactional id, asked of its
    coordinator: the same id again keeps the producer id and bumps the
    epoch; a timeout above transaction.max.timeout.ms (900000) is
    INVALID_TRANSACTION_TIMEOUT (50); without a transactional id every call
    gets a new producer id; producer ids are unique across brokers."""
    txid = "raw-" + uuid.uuid4().hex[:6]
    port = coordinator_port(tc, txid)
    def first_init():  # retried while the coordinator is still loading (errors 14, 15)
        r = init_producer_id(port, txid, 60000)
        return r if r[0] == 0 else None
    _, pid, epoch = wait_for(first_init, timeout=30, interval=0.2, desc="InitProducerId(%s)" % txid)
    assert pid >= 0 and epoch >= 0
    assert init_producer_id(port, txid, 60000) == (0, pid, epoch + 1), "second InitProducerId did not bump"
    err, _, _ = init_producer_id(coordinator_port(tc, txid + "x"), txid + "x", 900001)
    assert err == INVALID_TRANSACTION_TIMEOUT, "timeout above the maximum answered %d" % err
    ids = {pid}

    def more_ids(k):
        for _ in range(3):
            err, p, e = init_producer_id(tc.brokers[k], None, 60000)
            assert err == 0 and e == 0, (k, err, p, e)
            assert p not in ids, "producer id %d handed out twice" % p
            ids.add(p)
    for k in tc.brokers:
        more_ids(k)
    # KIP-360 without a transactional id: Kafka hands out a new id, never the
    # one asked for (that would let any client fence another producer).
    err, p, e = init_producer_id(tc.brokers[min(tc.brokers)], None, 60000, producer_id=pid, producer_epoch=epoch)
    assert err == 0 and p != pid and p not in ids and e == 0, \
        "InitProducerId(null, %d, %d) answered (%d, %d, %d)" % (pid, epoch, err, p, e)
    ids.add(p)
    # ... and across a restart (kill -9: the broker's unused block is lost, never reused)
    k = min(tc.brokers)
    tc.kill(k)
    tc.start_broker(k)
    wait_for(lambda: init_producer_id(tc.brokers[k], None, 60000)[0] == 0, timeout=30, interval=0.2,
             desc="InitProducerId on the restarted broker %d" % k)
    more_ids(k)


def test_raw_transactional_calls_out_of_order(tc):
    """Bad input (raw, v1 requests to the coordinator): EndTxn for an id
    with no transaction -> INVALID_TXN_STATE (48); with an older epoch ->
    INVALID_PRODUCER_EPOCH (47); with another producer id or an unknown
    transactional id -> INVALID_PRODUCER_ID_MAPPING (49); AddPartitionsToTxn
    for an unknown transactional id -> 49; none of them writes a marker."""
    topic = topic_name("txbad")
    tc.create_topic(topic, 1)
    txid = "bad-" + uuid.uuid4().hex[:6]
    port = coordinator_port(tc, txid)

    def init():
        r = init_producer_id(port, txid, 60000)
        return r if r[0] == 0 else None
    _, pid, epoch = wait_for(init, timeout=30, interval=0.2, desc="InitProducerId(%s)" % txid)
    _, _, epoch = init_producer_id(port, txid, 60000)   # epoch + 1
    assert end_txn(port, txid, pid, epoch, True) == INVALID_TXN_STATE
    assert end_txn(port, txid, pid, epoch - 1, False) == INVALID_PRODUCER_EPOCH
    assert end_txn(port, txid, pid + 1000, epoch, True) == INVALID_PRODUCER_ID_MAPPING
    unknown = "never-" + uuid.uuid4().hex[:6]
    uport = coordinator_port(tc, unknown)
    assert end_txn(uport, unknown, pid, epoch, True) == INVALID_PRODUCER_ID_MAPPING
    assert add_partitions_to_txn(uport, unknown, pid, epoch, topic, [0]) == {0: INVALID_PRODUCER_ID_MAPPING}
    # the id still works: a real transaction on it commits.
    assert add_partitions_to_txn(port, txid, pid, epoch, topic, [0]) == {0: 0}
    assert end_txn(port, txid, pid, epoch, False) == 0
    port_l = leader_port(tc, topic, 0)
    wait_for(lambda: fetch(port_l, topic, [0])[0]["high_watermark"] == 1, timeout=20, interval=0.1,
             desc="one abort marker in %s-0" % topic)
    batches, _ = fetch_all(port_l, topic, 0)
    assert [(b["control"], b["producer_id"], b.get("control_type")) for b in batches] == [(True, pid, 0)], batches


def test_read_committed_long_poll_wakes_on_commit(tc):
    """A read_committed consumer parked in a long poll (fetch.wait.max.ms 10 s)
    gets a transaction's records soon after the commit, not when its wait
    expires: the uncommitted records woke its fetch without making anything
    readable, and the fetch must still wake when the commit marker moves the
    last stable offset."""
    topic = topic_name("txlp")
    tc.create_topic(topic, 1)
    c = Consumer({"bootstrap.servers": tc.bootstrap, "group.id": "lp-" + uuid.uuid4().hex[:6],
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "fetch.wait.max.ms": 10000, "fetch.min.bytes": 1})
    p = txn_producer(tc.bootstrap, "lp-" + uuid.uuid4().hex[:6])
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        assert c.poll(1.0) is None   # now parked in a long-poll fetch
        p.begin_transaction()
        produce_values(p, topic, {0: [value("lp", 0, i) for i in range(3)]})
        m = c.poll(1.5)
        assert m is None or m.error(), "a read_committed consumer got an uncommitted record: %s" % m.value()
        p.commit_transaction(30)
        committed_at = time.monotonic()
        got = []
        while len(got) < 3 and time.monotonic() - committed_at < 15:
            m = c.poll(0.1)
            if m is not None and not m.error():
                got.append((time.monotonic(), m.value().decode()))
        assert [v for _, v in got] == [value("lp", 0, i) for i in range(3)], got
        delay = got[-1][0] - committed_at
        assert delay < 5.0, "committed records arrived %.1fs after the commit (fetch.wait.max.ms 10 s)" % delay
    finally:
        c.close()


# ------------------------------------------------------------------ 7

def test_send_offsets_to_transaction_moves_group_offsets_only_on_commit(tc):
    """Test 7: consume-transform-produce A -> B with confluent-kafka:
    init_transactions, begin_transaction, produce,
    send_offsets_to_transaction(consumer.position(...),
    consumer.consumer_group_metadata()), then abort (the group's committed
    offsets do not move; consumer-groups.sh shows none) and, after
    rewinding, commit (they move to the positions, and B holds each copied
    record once)."""
    a, b = topic_name("tx7a"), topic_name("tx7b")
    tc.create_topic(a, 3)
    tc.create_topic(b, 3)
    src = Producer({"bootstrap.servers": tc.bootstrap})
    for i in range(30):
        src.produce(a, value=value("a", i % 3, i // 3).encode(), partition=i % 3)
    assert src.flush(30) == 0
    group = "eos-" + uuid.uuid4().hex[:6]
    consumer = Consumer({"bootstrap.servers": tc.bootstrap, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                         "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    consumer.subscribe([a])
    prod = txn_producer(tc.bootstrap, "eos7-" + uuid.uuid4().hex[:6])

    def consume(n, timeout=30):
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            for m in consumer.consume(num_messages=n - len(got), timeout=0.5):
                assert not m.error(), m.error()
                got.append(m)
        assert len(got) == n, "consumed %d of %d" % (len(got), n)
        return got

    def copy(msgs, commit):
        prod.begin_transaction()
        for m in msgs:
            prod.produce(b, value=m.value(), partition=m.partition())
        positions = consumer.position(consumer.assignment())
        prod.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
        if commit:
            prod.commit_transaction(30)
        else:
            prod.abort_transaction(30)
        return {tp.partition: tp.offset for tp in positions}

    try:
        first = consume(12)
        copy(first, commit=False)
        assert committed_offsets(tc.bootstrap, group, a, [0, 1, 2]) == {0: None, 1: None, 2: None}, \
            "an aborted transaction's offsets were committed"
        # Rewind to the committed position (none: the beginning), as an EOS loop does after an abort.
        for tp in consumer.assignment():
            consumer.seek(TopicPartition(a, tp.partition, 0))
        msgs = consume(30)
        positions = copy(msgs, commit=True)
        assert positions == {0: 10, 1: 10, 2: 10}, positions
        wait_for(lambda: committed_offsets(tc.bootstrap, group, a, [0, 1, 2]) == positions, timeout=20,
                 interval=0.2, desc="committed offsets %s (last %s)" % (
                     positions, committed_offsets(tc.bootstrap, group, a, [0, 1, 2])))
    finally:
        consumer.close()
    rows = describe_rows(tc.bootstrap, group)
    assert {p: rows[p][3] for p in rows} == {0: "10", 1: "10", 2: "10"}, rows
    records = read_confluent(tc.bootstrap, b, [0, 1, 2], isolation="read_committed")
    check_exactly_once(records, {p: [value("a", p, i) for i in range(10)] for p in range(3)},
                       what="copied to B")


# ------------------------------------------------------------------ 8

FENCED_CODES = {KafkaError._FENCED, getattr(KafkaError, "PRODUCER_FENCED", 90), KafkaError.INVALID_PRODUCER_EPOCH,
                KafkaError.INVALID_PRODUCER_ID_MAPPING}


def test_second_producer_fences_the_first(tc):
    """Test 8: producer 1 opens a transaction and writes 5 records; producer
    2 with the same transactional.id calls init_transactions, writes 3 and
    commits. Producer 1's commit fails with a fencing error (fatal), and
    read_committed consumers see only producer 2's records."""
    topic = topic_name("tx8")
    tc.create_topic(topic, 1)
    txid = "fence-" + uuid.uuid4().hex[:6]
    p1 = txn_producer(tc.bootstrap, txid)
    p1.begin_transaction()
    produce_values(p1, topic, {0: [value("one", 0, i) for i in range(5)]})
    p2 = txn_producer(tc.bootstrap, txid)  # fences p1 and aborts its open transaction
    p2.begin_transaction()
    produce_values(p2, topic, {0: [value("two", 0, i) for i in range(3)]})
    p2.commit_transaction(30)
    with pytest.raises(KafkaException) as ei:
        p1.produce(topic, value=b"late", partition=0)
        p1.flush(10)
        p1.commit_transaction(30)
    err = ei.value.args[0]
    assert err.code() in FENCED_CODES or err.fatal(), "producer 1 failed with %s, not fenced" % err
    assert err.code() in FENCED_CODES, "producer 1's error %s is not a fencing error" % err
    records = read_confluent(tc.bootstrap, topic, [0], isolation="read_committed")
    assert [v for _, v in records[0]] == [value("two", 0, i) for i in range(3)]
    records = read_confluent(tc.bootstrap, topic, [0], isolation="read_uncommitted")
    vals = [v for _, v in records[0]]
    assert "late" not in vals, "the fenced producer wrote after being fenced"
    assert vals == [value("one", 0, i) for i in range(5)] + [value("two", 0, i) for i in range(3)], vals


# ------------------------------------------------------------------ 9

STOPPED = textwrap.dedent(r"""
    import json, os, sys, time
    from confluent_kafka import Producer
    bootstrap, topic, txid, timeout_ms, out = sys.argv[1:6]
    f = open(out, "a", buffering=1)
    def emit(**kw):
        f.write(json.dumps(kw) + "\n")
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txid,
                  "transaction.timeout.ms": int(timeout_ms), "message.timeout.ms": int(timeout_ms),
                  "linger.ms": 0})
    p.init_transactions(60)
    p.begin_transaction()
    for i in range(5):
        p.produce(topic, value=("stopped-0-%06d" % i).encode(), partition=0)
    p.flush(30)
    emit(ready=time.time())
    while not os.path.exists(out + ".go"):
        time.sleep(0.05)
    # a zombie: one more record in its (already aborted) transaction, then commit
    errs = []
    try:
        p.produce(topic, value=b"zombie-0-000000", partition=0,
                  on_delivery=lambda e, m: e and errs.append(str(e)))
        p.flush(15)
    except Exception as e:
        errs.append(repr(e))
    emit(zombie_errors=errs)
    try:
        p.commit_transaction(30)
        emit(commit="ok")
    except Exception as e:
        emit(commit="error", error=str(e))
""")


def test_stopped_producer_is_aborted_after_its_timeout(tc, tmp_path, workers):
    """Test 9: a producer (own process) with transaction.timeout.ms=5000
    opens a transaction, writes 5 records and is SIGSTOPped. While it is
    stopped the LSO stays at its first offset and read_committed readers do
    not get a later committed record; after the timeout (plus the 500 ms
    cleanup interval) the coordinator aborts it: read_committed consumers get
    the later committed records, never the stopped producer's; once
    resumed, the zombie's late record is refused (the abort fenced its
    epoch), its commit fails and no transaction is left hanging."""
    timeout_ms = 5000
    topic = topic_name("tx9")
    tc.create_topic(topic, 1)
    w = ScriptWorker(tmp_path, "stopped", STOPPED, [tc.bootstrap, topic, "stop-" + uuid.uuid4().hex[:6],
                                                    str(timeout_ms), ScriptWorker.OUT])
    workers.append(w)
    wait_for(lambda: any("ready" in e for e in w.events()) or w.proc.poll() is not None, timeout=60,
             interval=0.1, desc="producer ready")
    assert w.proc.poll() is None, "the producer process failed: %s" % open(w.out + ".err").read()[-1500:]
    other = txn_producer(tc.bootstrap, "other-" + uuid.uuid4().hex[:6])
    port = leader_port(tc, topic, 0)
    os.kill(w.proc.pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    other.begin_transaction()
    produce_values(other, topic, {0: [value("later", 0, i) for i in range(3)]})   # 5..7
    other.commit_transaction(30)                                                 # marker 8
    def replicated():
        r = fetch(port, topic, [0], isolation=1)[0]
        return r if r["high_watermark"] >= 9 else None
    ro = wait_for(replicated, timeout=10, interval=0.05, desc="HW 9")
    if time.monotonic() - stopped_at < timeout_ms / 1000 - 1.0:  # surely before the timeout
        assert ro["last_stable_offset"] == 0, \
            "LSO %d / HW %d while the stopped producer's transaction (from offset 0) is open" % (
                ro["last_stable_offset"], ro["high_watermark"])
        assert not [b for b in ro["batches"] if not b["control"]], "read_committed Fetch returned records"
    else:
        print("LSO check skipped: the other transaction took %.1fs" % (time.monotonic() - stopped_at))
    # The coordinator aborts it; read_committed moves on.
    records = read_confluent(tc.bootstrap, topic, [0], isolation="read_committed", until={0: 9},
                             timeout=timeout_ms / 1000 + 30)
    waited = time.monotonic() - stopped_at
    vals = [v for _, v in records[0]]
    assert vals == [value("later", 0, i) for i in range(3)], vals
    assert waited < timeout_ms / 1000 + 20, "read_committed waited %.1fs" % waited
    ro = fetch(port, topic, [0], isolation=1)[0]
    assert ro["last_stable_offset"] == ro["high_watermark"]
    stopped_pid = fetch_all(port, topic, 0)[0][0]["producer_id"]
    assert (stopped_pid, 0) in (ro["aborted"] or []), "aborted_transactions %s" % ro["aborted"]
    os.kill(w.proc.pid, signal.SIGCONT)
    open(w.out + ".go", "w").close()
    ev = wait_for(lambda: [e for e in w.events() if "commit" in e], timeout=40, interval=0.1,
                  desc="the resumed producer's commit")[0]
    assert ev["commit"] == "error", "the timed-out transaction committed after its abort: %s" % ev
    # The zombie's late record was fenced (the abort bumped its epoch), so no
    # transaction is left hanging: a later commit becomes visible.
    other.begin_transaction()
    produce_values(other, topic, {0: [value("later", 0, 3)]})
    other.commit_transaction(30)
    records = read_confluent(tc.bootstrap, topic, [0], isolation="read_committed", until={0: 11}, timeout=30)
    assert [v for _, v in records[0]] == [value("later", 0, i) for i in range(4)]
    everything = read_confluent(tc.bootstrap, topic, [0], isolation="read_uncommitted")
    assert "zombie-0-000000" not in [v for _, v in everything[0]], \
        "a producer aborted for its timeout still appended to its old transaction"
    ro = fetch(port, topic, [0], isolation=1)[0]
    assert ro["last_stable_offset"] == ro["high_watermark"], "a transaction is left hanging: LSO %d, HW %d" % (
        ro["last_stable_offset"], ro["high_watermark"])


# ------------------------------------------------------------------ 10

def test_coordinator_killed_after_commit_returns(tc):
    """Test 10a: kill -9 of the transaction coordinator right after
    commit_transaction returns (markers may not all be written yet): the
    next coordinator completes the commit and read_committed consumers see
    the whole transaction."""
    topic = topic_name("tx10c")
    tc.create_topic(topic, 3)
    txid = "coordkill-" + uuid.uuid4().hex[:6]
    p = txn_producer(tc.bootstrap, txid)
    err, coord = find_coordinator(tc.brokers[1], txid)
    assert err == 0 and coord in tc.brokers, "FindCoordinator(transaction): error %d node %d" % (err, coord)
    vals = {q: [value("c", q, i) for i in range(20)] for q in range(3)}
    p.begin_transaction()
    produce_values(p, topic, vals)
    p.commit_transaction(30)
    tc.kill(coord)
    survivors = [k for k in tc.brokers if k != coord]
    records = read_confluent(tc.bootstrap_of(survivors), topic, [0, 1, 2], isolation="read_committed",
                             until={q: 20 for q in range(3)}, timeout=90)
    check_exactly_once(records, vals, what="after the coordinator's death")
    # The new coordinator answers for the id and the producer can go on.
    def live_coordinator():
        err, node = find_coordinator(tc.brokers[survivors[0]], txid)
        return err == 0 and node in survivors
    wait_for(live_coordinator, timeout=60, interval=0.2, desc="a live coordinator for %s" % txid)
    p2 = txn_producer(tc.bootstrap_of(survivors), txid)
    p2.begin_transaction()
    produce_values(p2, topic, {0: [value("c", 0, 20)]})
    p2.commit_transaction(60)
    vals[0].append(value("c", 0, 20))
    records = read_confluent(tc.bootstrap_of(survivors), topic, [0, 1, 2], isolation="read_committed",
                             timeout=60)
    check_exactly_once(records, vals, what="after a second transaction")


def test_partition_leader_killed_inside_transaction(tc):
    """Test 10b: kill -9 of partition 0's leader between two sends of one
    transaction; the producer goes on with the new leader and commits;
    read_committed sees every record of the transaction once, in order."""
    topic = topic_name("tx10l")
    tc.create_topic(topic, 3)
    p = txn_producer(tc.bootstrap, "leaderkill-" + uuid.uuid4().hex[:6])
    first = {q: [value("l", q, i) for i in range(10)] for q in range(3)}
    second = {q: [value("l", q, i) for i in range(10, 20)] for q in range(3)}
    p.begin_transaction()
    produce_values(p, topic, first)
    old = tc.leader(topic, 0)
    tc.kill(old)
    wait_for(lambda: tc.state(topic, 0)["leader"] not in (-1, old), timeout=30, interval=0.05,
             desc="new leader of %s-0" % topic)
    produce_values(p, topic, second)
    p.commit_transaction(60)
    survivors = [k for k in tc.brokers if k != old]
    records = read_confluent(tc.bootstrap_of(survivors), topic, [0, 1, 2], isolation="read_committed",
                             until={q: 20 for q in range(3)}, timeout=60)
    check_exactly_once(records, {q: first[q] + second[q] for q in range(3)}, what="leader killed in txn")


# ------------------------------------------------------------------ 11

PIPELINE = textwrap.dedent(r"""
    import json, sys, time
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    bootstrap, src, dst, group, txid, parts, out = sys.argv[1:8]
    parts = int(parts)
    f = open(out, "a", buffering=1)
    def emit(**kw):
        f.write(json.dumps(kw) + "\n")
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txid, "linger.ms": 5,
                  "transaction.timeout.ms": 10000, "message.timeout.ms": 10000,
                  "request.timeout.ms": 5000, "socket.timeout.ms": 5000,
                  "topic.metadata.refresh.interval.ms": 1000, "reconnect.backoff.max.ms": 200})
    p.init_transactions(60)        # fences the previous incarnation, finishes its transaction
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                  "topic.metadata.refresh.interval.ms": 1000, "fetch.wait.max.ms": 100})
    c.assign([TopicPartition(src, q) for q in range(parts)])   # from the committed offsets
    emit(started=time.time())
    while True:
        msgs = c.consume(num_messages=40, timeout=0.3)
        msgs = [m for m in msgs if not m.error()]
        if not msgs:
            continue
        p.begin_transaction()
        for m in msgs:
            p.produce(dst, value=m.value(), partition=m.partition())
        time.sleep(0.01)           # the "transform": a window for the SIGKILL inside a transaction
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
        emit(committed=len(msgs))
""")


@pytest.mark.timeout(360)
def test_exactly_once_pipeline_under_sigkill(tc, tmp_path, workers):
    """Test 11: a consume-transform-produce process (confluent-kafka,
    transactional, read_committed, offsets sent in the transaction) copies
    A (2000 numbered records over 3 partitions) to B. It is SIGKILLed at
    random moments 3 times and restarted (a process that fails on its own
    is restarted too), and one broker is killed with kill -9 and restarted
    meanwhile. When the group's committed offsets reach A's ends, B holds
    every record of A exactly once, in order per partition."""
    seed = os.environ.get("RUNNEL_EOS_SEED") or str(int(time.time()))
    print("RUNNEL_EOS_SEED=%s" % seed)
    rnd = random.Random(seed)
    N, P = 2000, 3
    a, b = topic_name("tx11a"), topic_name("tx11b")
    tc.create_topic(a, P)
    tc.create_topic(b, P)
    src = Producer({"bootstrap.servers": tc.bootstrap, "linger.ms": 20, "acks": "all"})
    expected = {q: [] for q in range(P)}
    for i in range(N):
        q = i % P
        v = value("a", q, len(expected[q]))
        expected[q].append(v)
        src.produce(a, value=v.encode(), partition=q)
    assert src.flush(60) == 0
    ends = {q: len(expected[q]) for q in range(P)}
    group = "pipe-" + uuid.uuid4().hex[:6]
    txid = "pipe-" + uuid.uuid4().hex[:6]
    args = [tc.bootstrap, a, b, group, txid, str(P), ScriptWorker.OUT]

    def start():
        w = ScriptWorker(tmp_path, "pipe", PIPELINE, args)
        workers.append(w)
        return w

    def caught_up():
        try:
            return committed_offsets(tc.bootstrap, group, a, range(P)) == ends
        except Exception:  # noqa: BLE001 - a broker may be down
            return False

    def progress(w):
        return sum(e.get("committed", 0) for e in w.events())

    w = start()
    kills, restarts, failed_starts, broker_killed = 0, 0, 0, None
    kill_after = rnd.randint(40, 300)   # records this incarnation copies before its SIGKILL
    deadline = time.monotonic() + 180
    last_check = 0.0
    while True:
        assert time.monotonic() < deadline, "pipeline did not catch up: committed %s of %s (kills %d)" % (
            committed_offsets(tc.bootstrap, group, a, range(P)), ends, kills)
        if w.proc.poll() is not None:   # failed on its own (e.g. during the broker kill): restart it
            restarts += 1
            failed_starts = 0 if progress(w) else failed_starts + 1
            assert restarts <= 20 and failed_starts < 4, "the pipeline keeps failing: %s" % (
                open(w.out + ".err").read()[-2000:])
            w = start()
            continue
        if kills < 3:
            if progress(w) >= kill_after:
                time.sleep(rnd.uniform(0, 0.03))   # anywhere in the next transaction
                w.proc.send_signal(signal.SIGKILL)
                w.proc.wait()
                kills += 1
                if kills == 2:
                    broker_killed = rnd.choice(list(tc.brokers))
                    tc.kill(broker_killed)
                w = start()
                kill_after = rnd.randint(40, 300)
            else:
                time.sleep(0.01)
            continue
        if broker_killed is not None and not tc.brokers[broker_killed].alive():
            tc.start_broker(broker_killed)
            continue
        if time.monotonic() - last_check > 0.5:
            last_check = time.monotonic()
            if caught_up():
                break
        time.sleep(0.05)
    assert kills == 3
    if broker_killed is not None and not tc.brokers[broker_killed].alive():
        tc.start_broker(broker_killed)
    w.stop(signal.SIGKILL)
    records = read_confluent(tc.bootstrap, b, list(range(P)), isolation="read_committed", timeout=90)
    check_exactly_once(records, expected, what="pipeline output B")


# ------------------------------------------------------------------ 12

def transactions_sh(bootstrap, *args):
    """scripts/transactions.sh with RUNNEL_BIN set to the built CLI (so the
    script does not start a cargo build)."""
    env = dict(os.environ, RUNNEL_BIN=built_binary("runnel", "RUNNEL_BIN",
                                                   "runnel not built (cargo build --release -p runnel-broker)"))
    return subprocess.run(["bash", os.path.join(REPO, "scripts", "transactions.sh"), "--bootstrap-server",
                           bootstrap, *args], capture_output=True, text=True, timeout=60, env=env)


def test_transactions_sh_list_describe_describe_producers(tc):
    """Test 12: scripts/transactions.sh (kafka-transactions.sh's flags):
    list shows the open transaction's id, producer id and state;
    describe --transactional-id shows its id, producer id, Ongoing and its
    partition; describe-producers --topic --partition shows the producer
    id; after the commit describe shows CompleteCommit."""
    assert os.path.exists(os.path.join(REPO, "scripts", "transactions.sh")), "scripts/transactions.sh missing"
    topic = topic_name("tx12")
    tc.create_topic(topic, 1)
    txid = "sh-" + uuid.uuid4().hex[:6]
    p = txn_producer(tc.bootstrap, txid)
    p.begin_transaction()
    produce_values(p, topic, {0: [value("sh", 0, i) for i in range(3)]})
    pid = fetch_all(leader_port(tc, topic, 0), topic, 0)[0][0]["producer_id"]

    r = transactions_sh(tc.bootstrap, "list")
    assert r.returncode == 0, r.stderr
    row = [l.split() for l in r.stdout.splitlines() if txid in l.split()]
    assert row, "list does not show %s:\n%s" % (txid, r.stdout)
    assert str(pid) in row[0] and "Ongoing" in row[0], "list row %s (producer id %d, Ongoing)" % (row[0], pid)

    r = transactions_sh(tc.bootstrap, "describe", "--transactional-id", txid)
    assert r.returncode == 0, r.stderr
    assert txid in r.stdout and str(pid) in r.stdout and "Ongoing" in r.stdout, r.stdout
    assert "%s-0" % topic in r.stdout, "describe does not name the partition %s-0:\n%s" % (topic, r.stdout)

    r = transactions_sh(tc.bootstrap, "describe-producers", "--topic", topic, "--partition", "0")
    assert r.returncode == 0, r.stderr
    assert any(str(pid) in l.split() for l in r.stdout.splitlines()), \
        "describe-producers does not show producer id %d:\n%s" % (pid, r.stdout)

    p.commit_transaction(30)
    wait_for(lambda: "CompleteCommit" in transactions_sh(tc.bootstrap, "describe", "--transactional-id",
                                                          txid).stdout,
             timeout=30, interval=0.5, desc="describe shows CompleteCommit")
