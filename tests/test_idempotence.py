"""Idempotent producers (issue 9), end to end with real clients and real
processes on 127.0.0.1.

Two clusters, each shared by the tests of this module that need it:
  * `single`: one runnel-coord and one broker whose advertised listener is
    a FaultProxy (tests/faultproxy.py) forwarding to the broker's real
    listener, so every client connection goes through the proxy and a test
    can drop Produce responses; raw requests go to the broker itself.
  * `cl`: replication_util's one coord and three brokers
    (default.replication.factor=3, min.insync.replicas=2).

Tests
  1. test_default_producers_write_and_read_back[single|cluster-<client>]:
     kafka-python 3.x KafkaProducer(acks="all") and nothing else (idempotent
     by default), confluent-kafka / aiokafka / kcat with idempotence on and
     with their plain (non-idempotent) defaults: every record read back once,
     in order, per partition, at the offset acknowledged; the stored batches
     carry a producer id exactly when the client is idempotent.
  2. test_lost_produce_responses_are_retried_exactly_once[confluent|kafka-python]:
     the proxy drops the response to every 3rd Produce request and closes the
     connection after the broker appended; the idempotent producer retries and
     every record is stored once, in order, at the offset first assigned.
  3. test_leader_kill9_mid_stream_idempotent (cluster): kill -9 of the
     partition leader while confluent-kafka (idempotent, max.in.flight 5)
     writes; every acknowledged record present once, in order.
  4. test_restarted_broker_deduplicates_retry[kill9|kill9-rolled-segments|
     sigterm-rolled-segments] (raw protocol): a batch acknowledged before
     the broker stops and sent again after the restart gets its original
     offset back, and nothing is appended (state rebuilt from the log, or from
     a producer-state snapshot plus the log after it).
  5. test_bad_sequences_and_epochs (raw protocol): sequence gap -> 45,
     stale epoch after a (client-side, KIP-360) epoch bump -> 47, duplicate
     of one of the last 5
     batches -> original offset; nothing appended by any of them; an
     unknown producer id may start at any sequence; the broker stays up.
"""

import asyncio
import os
import subprocess
import threading
import time
import uuid

import pytest
from confluent_kafka import Producer

from brokerproc import Broker
from coordproc import CoordServer
from eosutil import (INVALID_PRODUCER_EPOCH, NOT_LEADER_OR_FOLLOWER, OUT_OF_ORDER_SEQUENCE_NUMBER,
                     check_exactly_once, create_topic, fetch_all, init_producer_id, log_end_offset,
                     parse_value, produce, read_confluent, record_batch, topic_name, value)
from faultproxy import FaultProxy
from procutil import wait_for
from replication_util import cl, shared  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(240)

PARTITIONS = 3
PER_PARTITION = 100

SINGLE_CONFIG = {
    "num.partitions": "1",
    "default.replication.factor": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "zookeeper.session.timeout.ms": "3000",
}


class Single:
    """One coord, one broker, a FaultProxy the broker advertises."""

    def __init__(self, base):
        self.coord = CoordServer(base / "coord", name="runnel-coord")
        self.coord.start()
        self.broker = Broker(base / "broker", self.coord.hosts + "/runnel", broker_id=1,
                             extra=SINGLE_CONFIG)
        self.proxy = FaultProxy(self.broker.port).start()
        self.broker.extra["advertised.listeners"] = "PLAINTEXT://127.0.0.1:%d" % self.proxy.port
        self.broker.write_config()
        self.broker.start()

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.proxy.port

    def leader_port(self, topic, p):
        return self.broker.port

    def create_topic(self, topic, partitions):
        create_topic(self.bootstrap, topic, partitions, 1)

    def restart(self):
        """kill -9 and start again; returns once it answers."""
        self.broker.kill()
        self.broker.start()

    def close(self):
        self.proxy.close()
        self.broker.close()
        self.coord.close()


@pytest.fixture(scope="module")
def single_shared(tmp_path_factory):
    s = Single(tmp_path_factory.mktemp("idem-single"))
    yield s
    s.close()


@pytest.fixture
def single(single_shared):
    s = single_shared
    s.proxy.clear()
    if not s.broker.alive():
        s.broker.start()
    yield s
    s.proxy.clear()


class ClusterEnv:
    """The 3-broker RepCluster seen through the same small interface as Single."""

    def __init__(self, cl):
        self.cl = cl
        self.bootstrap = cl.bootstrap

    def leader_port(self, topic, p):
        return self.cl.brokers[self.cl.leader(topic, p)].port

    def create_topic(self, topic, partitions):
        self.cl.create_topic(topic, partitions)  # RF 3, min.insync.replicas 2


# ------------------------------------------------------------------ producers of each client
#
# Each sends values(prefix, p, seq) for seq in 0..n-1, interleaving the
# partitions, and returns {value: (partition, offset)} of the acknowledgements.

def plan(prefix, partitions, n):
    return [(p, value(prefix, p, i)) for i in range(n) for p in range(partitions)]


def produce_kafka_python(bootstrap, topic, sends, **conf):
    from kafka import KafkaProducer
    prod = KafkaProducer(bootstrap_servers=bootstrap, **conf)
    try:
        futs = [(v, prod.send(topic, value=v.encode(), partition=p)) for p, v in sends]
        prod.flush(60)
        acks = {}
        for v, f in futs:
            md = f.get(timeout=60)
            acks[v] = (md.partition, md.offset)
        return acks
    finally:
        prod.close(timeout=10)


def produce_confluent(bootstrap, topic, sends, conf=None, timeout=60, pace=0.0):
    c = {"bootstrap.servers": bootstrap, "linger.ms": 5}
    c.update(conf or {})
    client_errors = []
    c["error_cb"] = client_errors.append  # fatal errors (e.g. idempotence refused) land here
    prod = Producer(c)
    acks, errors = {}, []

    def done(err, msg):
        if err is not None:
            errors.append(err)  # msg is not touched: after a fatal error it may raise
        else:
            acks[msg.value().decode()] = (msg.partition(), msg.offset())
    try:
        for i, (p, v) in enumerate(sends):
            while True:
                try:
                    prod.produce(topic, value=v.encode(), partition=p, on_delivery=done)
                    break
                except BufferError:
                    prod.poll(0.05)
            prod.poll(0)
            if pace and i % 10 == 9:
                time.sleep(pace)  # many small Produce requests, several in flight

        left = prod.flush(timeout)
    except Exception as e:  # noqa: BLE001 - name the client's own errors
        # a fatal error surfaces as an exception set under the delivery callbacks
        raise AssertionError("confluent-kafka flush: %r (caused by %r); client errors: %s" % (
            e, e.__cause__ or e.__context__, client_errors[:3]))
    fatal = [e for e in client_errors if e.fatal()]
    assert not fatal, "confluent-kafka fatal error: %s" % fatal
    assert left == 0, "%d deliveries unresolved after %ds; client errors: %s" % (left, timeout, client_errors[:3])
    assert not errors, "delivery errors: %s" % errors[:5]
    return acks


def produce_aiokafka(bootstrap, topic, sends, **conf):
    from aiokafka import AIOKafkaProducer

    async def run():
        prod = AIOKafkaProducer(bootstrap_servers=bootstrap, **conf)
        await prod.start()
        try:
            futs = [(v, await prod.send(topic, value=v.encode(), partition=p)) for p, v in sends]
            acks = {}
            for v, f in futs:
                md = await asyncio.wait_for(f, 60)
                acks[v] = (md.partition, md.offset)
            return acks
        finally:
            await prod.stop()
    return asyncio.run(run())


def produce_kcat(bootstrap, topic, sends, idempotent):
    by_p = {}
    for p, v in sends:
        by_p.setdefault(p, []).append(v)
    for p, vals in sorted(by_p.items()):
        args = ["kcat", "-b", bootstrap, "-P", "-t", topic, "-p", str(p), "-X", "acks=all"]
        if idempotent:
            args += ["-X", "enable.idempotence=true"]
        r = subprocess.run(args, input="".join(v + "\n" for v in vals), capture_output=True, text=True,
                           timeout=60)
        lines = list(dict.fromkeys(r.stderr.splitlines()))  # unique lines, in order
        assert r.returncode == 0 and "ERROR" not in r.stderr and "failed" not in r.stderr, \
            "kcat partition %d: rc %d, stderr: %s" % (p, r.returncode, "\n".join(lines[:8]))
    return None  # kcat does not print offsets


CLIENTS = {
    # name: (idempotent?, producer function (bootstrap, topic, sends) -> acks)
    "kafka-python-default": (True, lambda b, t, s: produce_kafka_python(b, t, s, acks="all")),
    "confluent-idempotent": (True, lambda b, t, s: produce_confluent(b, t, s, {"enable.idempotence": True})),
    "confluent-idempotent-zstd": (True, lambda b, t, s: produce_confluent(
        b, t, s, {"enable.idempotence": True, "compression.type": "zstd"})),
    "confluent-default": (False, lambda b, t, s: produce_confluent(b, t, s)),
    "aiokafka-idempotent": (True, lambda b, t, s: produce_aiokafka(b, t, s, enable_idempotence=True)),
    "aiokafka-default": (False, lambda b, t, s: produce_aiokafka(b, t, s)),
    "kcat-idempotent": (True, lambda b, t, s: produce_kcat(b, t, s, True)),
    "kcat-default": (False, lambda b, t, s: produce_kcat(b, t, s, False)),
}


def expected_by_partition(sends):
    out = {}
    for p, v in sends:
        out.setdefault(p, []).append(v)
    return out


def wait_high_watermarks(env, topic, counts, timeout=30):
    """Until each partition's high watermark reaches counts[p] (a client
    with acks=1 is answered before the followers have the records)."""
    for p, n in counts.items():
        wait_for(lambda p=p, n=n: log_end_offset(env.leader_port(topic, p), topic, p) >= n, timeout=timeout,
                 interval=0.1, desc="high watermark of %s-%d at %d" % (topic, p, n))


def check_acks_match(acks, records):
    """Every acknowledged (partition, offset) holds that value in the read-back."""
    if acks is None:
        return
    at = {(p, o): v for p, recs in records.items() for o, v in recs}
    wrong = [(v, po, at.get(po)) for v, po in acks.items() if at.get(po) != v]
    assert not wrong, "acknowledged at an offset that holds something else: %s" % wrong[:5]


def check_producer_ids(env, topic, partitions, idempotent):
    """The stored batches carry a producer id (and sequences from 0 in
    order) when the client is idempotent, none when it is not."""
    for p in range(partitions):
        batches, _ = fetch_all(env.leader_port(topic, p), topic, p)
        assert batches, "no batches in %s-%d" % (topic, p)
        pids = {b["producer_id"] for b in batches}
        if idempotent:
            assert all(x >= 0 for x in pids), "%s-%d: batches without a producer id: %s" % (topic, p, pids)
            assert len(pids) == 1, "%s-%d: one producer wrote, batches carry ids %s" % (topic, p, pids)
            seqs = [(b["base_sequence"], b["count"]) for b in batches]
            nxt = 0
            for s, n in seqs:
                assert s == nxt, "%s-%d: batch sequences not contiguous from 0: %s" % (topic, p, seqs[:20])
                nxt = s + n
        else:
            assert pids == {-1}, "%s-%d: a non-idempotent producer's batches carry ids %s" % (topic, p, pids)


# ------------------------------------------------------------------ 1

@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize("where", ["single", "cluster"])
def test_default_producers_write_and_read_back(where, client, request):
    """Test 1: a client's default (or documented idempotent) producer writes
    300 records over 3 partitions; a consumer reads each once, in order per
    partition, at the offset acknowledged."""
    env = request.getfixturevalue("single") if where == "single" else ClusterEnv(request.getfixturevalue("cl"))
    idempotent, fn = CLIENTS[client]
    topic = topic_name("idem-" + client.split("-")[0])
    env.create_topic(topic, PARTITIONS)
    sends = plan("v", PARTITIONS, PER_PARTITION)
    acks = fn(env.bootstrap, topic, sends)
    if acks is not None:
        assert len(acks) == len(sends), "acknowledged %d of %d" % (len(acks), len(sends))
    wait_high_watermarks(env, topic, {p: len(v) for p, v in expected_by_partition(sends).items()})
    records = read_confluent(env.bootstrap, topic, list(range(PARTITIONS)))
    check_exactly_once(records, expected_by_partition(sends), what=client, contiguous=True)
    check_acks_match(acks, records)
    check_producer_ids(env, topic, PARTITIONS, idempotent)


# ------------------------------------------------------------------ 2

LOST_N = 400


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_lost_produce_responses_are_retried_exactly_once(single, client):
    """Test 2: the proxy drops the response to every 3rd Produce request
    (at most 8 times) after the broker appended, closing the connection;
    the idempotent producer retries; every record is stored exactly once,
    in order, and the offset the producer is finally told is the offset the
    broker first assigned (the one in the lost response)."""
    topic = topic_name("lost-" + client)
    single.create_topic(topic, 2)
    sends = plan("lost", 2, LOST_N // 2)
    single.proxy.drop_produce_responses(every=3, limit=8)
    acks = {}

    if client == "confluent":
        conf = {"bootstrap.servers": single.bootstrap, "enable.idempotence": True, "linger.ms": 2,
                "batch.num.messages": 10, "max.in.flight.requests.per.connection": 5,
                "message.timeout.ms": 60000, "request.timeout.ms": 5000, "socket.timeout.ms": 5000,
                "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200, "retry.backoff.ms": 50}
        acks.update(produce_confluent(single.bootstrap, topic, sends, conf, timeout=90, pace=0.005))
    else:
        from kafka import KafkaProducer
        prod = KafkaProducer(bootstrap_servers=single.bootstrap, acks="all", linger_ms=2, batch_size=400,
                             request_timeout_ms=5000, reconnect_backoff_ms=20, retry_backoff_ms=50)
        futs = []
        for i, (p, v) in enumerate(sends):
            futs.append((v, prod.send(topic, value=v.encode(), partition=p)))
            if i % 10 == 9:
                time.sleep(0.005)
        prod.flush(90)
        for v, f in futs:
            md = f.get(timeout=60)
            acks[v] = (md.partition, md.offset)
        prod.close(timeout=10)
    single.proxy.clear()

    dropped = [d for d in single.proxy.dropped if d["topic"] == topic]
    assert not single.proxy.errors, single.proxy.errors
    assert len(dropped) >= 3, "the proxy dropped only %d Produce responses (saw %d requests)" % (
        len(dropped), single.proxy.produce_seen)
    assert len(acks) == len(sends)
    records = read_confluent(single.bootstrap, topic, [0, 1])
    check_exactly_once(records, expected_by_partition(sends), what="lost responses (%s)" % client,
                       contiguous=True)
    check_acks_match(acks, records)
    at = {(p, o): v for p, recs in records.items() for o, v in recs}
    appended = [d for d in dropped if d["error"] == 0]
    assert appended, "no dropped response reported a successful append: %s" % dropped
    for d in appended:
        assert d["producer_id"] >= 0, "the producer was not idempotent: %s" % d
        assert d["values"] is not None, "compressed batch in the lost request"
        for i, v in enumerate(d["values"]):
            first = (d["partition"], d["base_offset"] + i)
            assert at.get(first) == v, "%s was first assigned %s-%d offset %d, which now holds %s" % (
                v, topic, first[0], first[1], at.get(first))
            assert acks[v] == first, "%s first assigned offset %d, the producer was told %s" % (
                v, first[1], acks[v])
    check_producer_ids(single, topic, 2, True)


# ------------------------------------------------------------------ 3

class IdempotentWorkload(threading.Thread):
    """confluent-kafka, enable.idempotence, max.in.flight 5, values with a
    sequence number per partition; records acknowledgements and failures."""

    def __init__(self, bootstrap, topic, partitions):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.partitions = bootstrap, topic, partitions
        self.prefix = "k" + uuid.uuid4().hex[:4]
        self.lock = threading.Lock()
        self.sent = {p: [] for p in range(partitions)}
        self.acked = {}
        self.failed = {}
        self.halt = threading.Event()
        self.error = None
        self.fatal = None
        self.unresolved = None

    def _done(self, err, msg):
        with self.lock:
            if err is None:
                self.acked[msg.value().decode()] = (msg.partition(), msg.offset())
            else:
                self.failed[len(self.failed)] = err  # msg may not be touched after a fatal error

    def _client_error(self, err):
        if err.fatal():
            self.fatal = err

    def run(self):
        try:
            prod = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True,
                             "acks": "all", "max.in.flight.requests.per.connection": 5,
                             "linger.ms": 2, "message.timeout.ms": 90000, "request.timeout.ms": 5000,
                             "socket.timeout.ms": 5000, "topic.metadata.refresh.interval.ms": 1000,
                             "retry.backoff.ms": 50, "retry.backoff.max.ms": 200,
                             "reconnect.backoff.ms": 20, "reconnect.backoff.max.ms": 200,
                             "socket.connection.setup.timeout.ms": 3000,
                             "error_cb": self._client_error})
            seq = 0
            while not self.halt.is_set() and self.fatal is None:
                for p in range(self.partitions):
                    v = value(self.prefix, p, seq)
                    try:
                        prod.produce(self.topic, value=v.encode(), partition=p, on_delivery=self._done)
                    except BufferError:
                        prod.poll(0.05)
                        continue
                    with self.lock:
                        self.sent[p].append(v)
                seq += 1
                prod.poll(0)
                time.sleep(0.003)
            self.unresolved = prod.flush(90)
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.error = e

    def n_acked(self):
        with self.lock:
            return len(self.acked)

    def wait_acks(self, more, timeout=45):
        target = self.n_acked() + more

        def enough():  # or given up: wait_for would swallow an exception until its timeout
            return self.fatal is not None or self.error is not None or self.n_acked() >= target
        wait_for(enough, timeout=timeout, interval=0.05,
                 desc="%d more acks (have %d, failed %d: %s)" % (more, self.n_acked(), len(self.failed),
                                                                 list(self.failed.values())[:3]))
        assert self.fatal is None and self.error is None, "producer failed: %s" % (self.fatal or self.error)

    def stop(self):
        self.halt.set()
        self.join(120)
        assert not self.is_alive(), "producer did not finish"
        assert self.fatal is None, "idempotent producer hit a fatal error: %s" % self.fatal
        if self.error is not None:
            raise self.error
        assert self.unresolved == 0, "%d deliveries unresolved" % self.unresolved


def test_leader_kill9_mid_stream_idempotent(cl):
    """Test 3: kill -9 of partition 0's leader while an idempotent
    confluent-kafka producer (max.in.flight 5) writes to 3 partitions
    (RF 3, min.insync.replicas 2); the leader comes back; every
    acknowledged record is present exactly once, in order, at the offset it
    was acknowledged with; no value appears twice."""
    topic = topic_name("idem-kill")
    cl.create_topic(topic, PARTITIONS)
    w = IdempotentWorkload(cl.bootstrap, topic, PARTITIONS)
    w.start()
    try:
        w.wait_acks(300)
        s = cl.state(topic, 0)
        old = s["leader"]
        cl.kill(old)
        wait_for(lambda: cl.state(topic, 0)["leader"] not in (-1, old), timeout=30, interval=0.05,
                 desc="a new leader for %s-0" % topic)
        w.wait_acks(300, timeout=60)
        cl.start_broker(old)
        cl.wait_full_isr(topic, PARTITIONS)
        w.wait_acks(150)
    finally:
        w.stop()
    assert not w.failed, "idempotent producer failed deliveries: %s" % list(w.failed.items())[:5]
    cl.wait_full_isr(topic, PARTITIONS)
    records = read_confluent(cl.bootstrap, topic, list(range(PARTITIONS)))
    check_exactly_once(records, w.sent, what="leader kill -9", contiguous=True)
    check_acks_match(w.acked, records)
    for p, recs in records.items():
        seqs = [parse_value(v)[2] for _, v in recs]
        assert seqs == sorted(set(seqs)), "partition %d: sequence numbers out of order or repeated" % p


# ------------------------------------------------------------------ 4 and 5 (raw protocol)

def ok_produce(port, topic, p, batch):
    r = produce(port, topic, p, batch)
    assert r["error"] == 0, "Produce to %s-%d: %s" % (topic, p, r)
    return r["base_offset"]


def batch_of(pid, epoch, seq, n, tag):
    return record_batch([("%s-%d" % (tag, seq + i)).encode() for i in range(n)], producer_id=pid,
                        producer_epoch=epoch, base_sequence=seq)


def stored(port, topic, p):
    """(producer id, epoch, base sequence, count) of every stored batch."""
    batches, _ = fetch_all(port, topic, p)
    return [(b["producer_id"], b["producer_epoch"], b["base_sequence"], b["count"]) for b in batches]


def new_producer_id(port):
    err, pid, epoch = init_producer_id(port)
    assert err == 0 and pid >= 0 and epoch >= 0, "InitProducerId: error %d, id %d, epoch %d" % (err, pid, epoch)
    return pid, epoch


def test_bad_sequences_and_epochs(single):
    """Test 5: raw Produce v9 of hand-built batches with a producer id from
    a raw InitProducerId (key 22): gap -> OUT_OF_ORDER_SEQUENCE_NUMBER (45),
    duplicates of any of the last 5 batches -> their original offsets, a
    stale epoch after a KIP-360 epoch bump -> INVALID_PRODUCER_EPOCH (47), a
    new epoch not starting at sequence 0 -> 45; none of them appends
    anything; an id the partition never saw may start at any sequence;
    the broker stays up."""
    port = single.broker.port
    topic = topic_name("idem-bad")
    single.create_topic(topic, 1)
    pid, epoch = new_producer_id(port)
    pid2, epoch2 = new_producer_id(port)
    assert pid2 != pid, "two InitProducerId calls gave the same producer id %d" % pid

    # Five batches in sequence: 0-2, 3-4, 5-6, 7-8, 9-9.
    spans = [(0, 3), (3, 2), (5, 2), (7, 2), (9, 1)]
    bases = {}
    for seq, n in spans:
        bases[seq] = ok_produce(port, topic, 0, batch_of(pid, epoch, seq, n, "a"))
    assert [bases[s] for s, _ in spans] == [0, 3, 5, 7, 9], bases
    end = log_end_offset(port, topic, 0)
    assert end == 10

    # A gap: next expected sequence is 10.
    r = produce(port, topic, 0, batch_of(pid, epoch, 12, 2, "gap"))
    assert r["error"] == OUT_OF_ORDER_SEQUENCE_NUMBER, "sequence gap answered %s" % r
    assert log_end_offset(port, topic, 0) == end, "a batch with a sequence gap was appended"

    # Duplicates of each of the last five batches: original offsets, nothing appended.
    for seq, n in reversed(spans):
        r = produce(port, topic, 0, batch_of(pid, epoch, seq, n, "a"))
        assert r["error"] == 0 and r["base_offset"] == bases[seq], \
            "duplicate of batch seq %d (first at offset %d) answered %s" % (seq, bases[seq], r)
    assert log_end_offset(port, topic, 0) == end, "a duplicate batch was appended"

    # The sequence continues after the duplicates.
    assert ok_produce(port, topic, 0, batch_of(pid, epoch, 10, 2, "a")) == 10
    end = 12

    # An id this partition never saw: Kafka 3.x accepts any first sequence.
    assert ok_produce(port, topic, 0, batch_of(pid2, epoch2, 7, 1, "b")) == end
    end += 1

    # KIP-360: an idempotent (non-transactional) producer bumps its epoch
    # itself and starts over at sequence 0 (Java's bumpIdempotentEpoch; an
    # InitProducerId without a transactional id always hands out a new id).
    bepoch = epoch + 1
    assert ok_produce(port, topic, 0, batch_of(pid, bepoch, 0, 2, "c")) == end
    end += 2
    # ... and the old epoch is refused from now on, new sequence or duplicate alike.
    r = produce(port, topic, 0, batch_of(pid, epoch, 12, 1, "stale"))
    assert r["error"] == INVALID_PRODUCER_EPOCH, "stale epoch answered %s" % r
    r = produce(port, topic, 0, batch_of(pid, epoch, 10, 2, "a"))
    assert r["error"] == INVALID_PRODUCER_EPOCH, "stale epoch (old duplicate) answered %s" % r
    # A new epoch not starting at 0 is out of order.
    r = produce(port, topic, 0, batch_of(pid, bepoch + 1, 5, 1, "e"))
    assert r["error"] == OUT_OF_ORDER_SEQUENCE_NUMBER, "new epoch starting at sequence 5 answered %s" % r
    assert log_end_offset(port, topic, 0) == end, "a refused batch was appended"

    # Exactly the accepted batches are in the log.
    assert stored(port, topic, 0) == [(pid, epoch, s, n) for s, n in spans] + [
        (pid, epoch, 10, 2), (pid2, epoch2, 7, 1), (pid, bepoch, 0, 2)]
    assert single.broker.alive() and single.broker.answers(), "broker died"


@pytest.mark.parametrize("how", ["kill9", "kill9-rolled-segments", "sigterm-rolled-segments"])
def test_restarted_broker_deduplicates_retry(single, how):
    """Test 4: a batch (seq 0..4) acknowledged before the broker stops
    (kill -9, or SIGTERM) is sent again, byte for byte, after the restart:
    the same base offset is answered and the log end does not move; so is a
    retry of the batch before it; the sequence then continues at 5 and a
    gap is still refused (the producer state was rebuilt, not forgotten).
    With tiny segments (segment.bytes=1024) the state comes from a
    producer-state snapshot taken at a segment roll (or at the clean close)
    plus the log after it."""
    port = single.broker.port
    topic = topic_name("idem-restart")
    rolled = "rolled" in how
    create_topic(single.bootstrap, topic, 1, 1, config={"segment.bytes": "1024"} if rolled else None)
    # Something before it, so the base offset is not trivially 0.
    pre = record_batch([b"pre-%d" % i for i in range(3)])
    assert ok_produce(port, topic, 0, pre) == 0
    pid, epoch = new_producer_id(port)
    seq, off = 0, 3
    if rolled:   # ~20 batches of ~200 bytes: several segments, snapshots at each roll
        for _ in range(20):
            assert ok_produce(port, topic, 0, batch_of(pid, epoch, seq, 3, "x" * 40)) == off
            seq, off = seq + 3, off + 3
    before = batch_of(pid, epoch, seq, 2, "q")
    assert ok_produce(port, topic, 0, before) == off
    batch = batch_of(pid, epoch, seq + 2, 5, "r")
    base = ok_produce(port, topic, 0, batch)
    assert base == off + 2
    end = log_end_offset(port, topic, 0)
    assert end == base + 5
    if rolled:
        files = os.listdir(os.path.join(single.broker.log_dir, "%s-0" % topic))
        segs = [f for f in files if f.endswith(".log")]
        assert len(segs) >= 3, "segment.bytes=1024 did not roll: %s" % segs
        assert any(f.endswith(".snapshot") for f in files), "no producer-state snapshot after rolls: %s" % files

    if how.startswith("sigterm"):
        assert single.broker.stop() == 0, "SIGTERM exit code"
        single.broker.start()
    else:
        single.restart()

    def answered():
        r = produce(port, topic, 0, batch)
        # not leading yet: UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER
        return r if r["error"] not in (3, 5, NOT_LEADER_OR_FOLLOWER) else None
    r = wait_for(answered, timeout=30, interval=0.1, desc="the restarted broker leading %s-0" % topic)
    assert r["error"] == 0 and r["base_offset"] == base, \
        "retry after restart answered %s; first append was at %d" % (r, base)
    r = produce(port, topic, 0, before)
    assert r["error"] == 0 and r["base_offset"] == base - 2, \
        "retry of the batch before it answered %s; first append was at %d" % (r, base - 2)
    assert log_end_offset(port, topic, 0) == end, "a retry was appended again after the restart"
    # State continues: seq + 7 is next; a gap is refused.
    nxt = seq + 7
    r = produce(port, topic, 0, batch_of(pid, epoch, nxt + 2, 1, "r"))
    assert r["error"] == OUT_OF_ORDER_SEQUENCE_NUMBER, "gap after restart answered %s" % r
    assert ok_produce(port, topic, 0, batch_of(pid, epoch, nxt, 2, "r")) == end
    stored_batches = stored(port, topic, 0)
    assert stored_batches[0] == (-1, -1, -1, 3)
    assert stored_batches[-3:] == [(pid, epoch, seq, 2), (pid, epoch, seq + 2, 5), (pid, epoch, nxt, 2)]
    assert len(stored_batches) == (24 if rolled else 4), stored_batches
