"""What the replication tests (tests/test_replication*.py) share: a cluster of
one runnel-coord and N runnel-brokers that outlives single tests (fixtures
`shared` and `cl`), workload W (a confluent-kafka producer recording exactly
what was acknowledged), read-back, check C, a record-batch walker over the
brokers' segment files, and a few raw Kafka requests aimed at one chosen
broker (Metadata v7, ListOffsets v4, Produce v3) so a test can ask a
particular broker, not whichever broker a client library picks.

Check C (see check_acknowledged and check_replicas_identical):
  * every acknowledged value is in the final log at the offset it was
    acknowledged with;
  * duplicates: the producer retries without idempotence, so an attempt whose
    answer was lost or was an error after the append (leader killed,
    REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND) can be in the log as
    well as the retry that was acknowledged; a retried request carries every
    record queued behind it too, so a run of values can repeat. A value may
    appear more than once, but only as earlier attempts of its send: every
    copy lies before its acknowledged offset and after every offset the
    partition had acknowledged before the value was handed to the producer
    (those appends happened before any attempt of it). A copy anywhere else
    is a duplicate the producer's retries cannot explain, and fails;
  * acknowledged values are in producer order per partition (acknowledged
    offsets grow with the sequence number; max.in.flight 1 keeps that order);
  * nothing appears that no producer sent;
  * all replicas hold byte-identical batches up to the high watermark (the
    segment files under <log.dirs>/<topic>-<p>/, walked batch by batch).
"""

import bisect
import glob
import json
import os
import signal
import socket
import struct
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.record.util import calc_crc32c
from kazoo.client import KazooClient

from brokerproc import Broker, frame, read_response, zigzag_varint
from coordproc import CoordServer
from procutil import LIVE, wait_for

CHROOT = "/runnel"
# Short timeouts so a failover takes seconds: runnel-coord's tickTime 200 ms
# caps sessions at 4 s (maxSessionTimeout = 20 ticks).
SESSION_MS = 3000
LAG_MS = 2500

# Kafka error codes the tests name.
NONE = 0
OFFSET_OUT_OF_RANGE = 1
LEADER_NOT_AVAILABLE = 5
NOT_LEADER_OR_FOLLOWER = 6
REQUEST_TIMED_OUT = 7
NOT_ENOUGH_REPLICAS = 19
NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75

BROKER_CONFIG = {
    "zookeeper.session.timeout.ms": SESSION_MS,
    "replica.lag.time.max.ms": LAG_MS,
    "default.replication.factor": 3,
    "min.insync.replicas": 2,
    "unclean.leader.election.enable": "false",
    "controlled.shutdown.enable": "true",
    # Leaders stay where the failures put them, so each test sees only the
    # moves it causes.
    "auto.leader.rebalance.enable": "false",
    "group.initial.rebalance.delay.ms": 0,
    "num.partitions": 1,
}


def topic_name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


# ------------------------------------------------------------------ cluster

class RepCluster:
    """One runnel-coord and brokers 1..n (broker.id = K) on 127.0.0.1,
    started once per test module; tests kill, pause and restart brokers and
    heal() puts everything back."""

    def __init__(self, workdir, n=3, **config):
        self.workdir = str(workdir)
        self.coord = CoordServer(os.path.join(self.workdir, "coord"), name="runnel-coord")
        conf = dict(BROKER_CONFIG)
        conf.update({k.replace("_", "."): v for k, v in config.items()})
        self.config = {k: str(v) for k, v in conf.items()}
        self.brokers = {}
        for k in range(1, n + 1):
            self.brokers[k] = Broker(os.path.join(self.workdir, "broker-%d" % k),
                                     self.coord.hosts + CHROOT, broker_id=k, extra=self.config)
        self.zk = None
        self.owners = {}  # broker id -> coord session of its registration

    # -- lifecycle
    def start(self):
        self.coord.start()
        self.zk = KazooClient(hosts=self.coord.hosts, timeout=10.0)
        self.zk.start(timeout=15)
        for k in self.brokers:
            self.start_broker(k, wait_registered=False)
        for k in self.brokers:
            self.wait_registered(k)
        return self

    def close(self):
        if self.zk is not None:
            try:
                self.zk.stop()
                self.zk.close()
            except Exception:  # noqa: BLE001 - teardown
                pass
        for b in self.brokers.values():
            b.close()
        self.coord.close()

    @property
    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.brokers.values())

    def bootstrap_of(self, ids):
        return ",".join(self.brokers[k].bootstrap for k in ids)

    def admin(self, ids=None):
        return AdminClient({"bootstrap.servers": self.bootstrap_of(ids) if ids else self.bootstrap})

    def live(self):
        """Ids of brokers that run and are not paused."""
        return [k for k, b in self.brokers.items() if b.alive() and not self.paused(k)]

    def paused(self, k):
        b = self.brokers[k]
        if not b.alive():
            return False
        try:
            with open("/proc/%d/stat" % b.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "T"
        except OSError:
            return False

    # -- single brokers
    def registration(self, k):
        st = self.zk.exists("%s/brokers/ids/%d" % (CHROOT, k))
        return st.ephemeralOwner if st else None

    def wait_registered(self, k, timeout=30):
        """Until /brokers/ids/K belongs to a session other than the one seen
        before (a restarted broker re-registers once its old session ends)."""
        old = self.owners.get(k)

        def new_owner():
            if not self.brokers[k].alive():
                raise AssertionError("broker %d exited:\n%s" % (k, self.brokers[k].log_tail(30)))
            owner = self.registration(k)
            return owner if owner is not None and owner != old else None
        self.owners[k] = wait_for(new_owner, timeout=timeout, interval=0.05,
                                  desc="broker %d registered in coord" % k)

    def start_broker(self, k, wait_registered=True):
        self.brokers[k].start()
        if wait_registered:
            self.wait_registered(k)

    def kill(self, k):
        """SIGKILL broker k and reap it; returns the time of the signal."""
        b = self.brokers[k]
        self.owners[k] = self.registration(k)
        t = time.monotonic()
        b.proc.send_signal(signal.SIGKILL)
        b.proc.wait()
        return t

    def pause(self, k):
        self.owners[k] = self.registration(k)
        self.brokers[k].pause()
        wait_for(lambda: self.paused(k), timeout=5, desc="broker %d stopped" % k)
        return time.monotonic()

    def resume(self, k):
        self.brokers[k].resume()
        wait_for(lambda: not self.paused(k), timeout=5, desc="broker %d running" % k)
        return time.monotonic()

    def terminate(self, k, timeout=60):
        """SIGTERM broker k; returns (signal time, exit time, exit code)."""
        b = self.brokers[k]
        self.owners[k] = self.registration(k)
        t = time.monotonic()
        b.proc.send_signal(signal.SIGTERM)
        rc = b.proc.wait(timeout)
        return t, time.monotonic(), rc

    def heal(self):
        """Resume paused brokers, start stopped ones, wait until all are
        registered in coord again."""
        for k in self.brokers:
            if self.paused(k):
                self.resume(k)
        started = []
        for k, b in self.brokers.items():
            if not b.alive():
                b.start()
                started.append(k)
        for k in started:
            self.wait_registered(k, timeout=60)
        for k in self.brokers:
            wait_for(lambda k=k: self.registration(k) is not None, timeout=60, interval=0.05,
                     desc="broker %d registered" % k)

    def session_s(self):
        """The brokers' zookeeper.session.timeout.ms, in seconds."""
        return int(self.config["zookeeper.session.timeout.ms"]) / 1000

    # -- coord's view
    def controller(self):
        """Broker id in /controller, or None."""
        try:
            data, _ = self.zk.get(CHROOT + "/controller")
        except Exception:  # noqa: BLE001 - no controller right now
            return None
        return json.loads(data.decode()).get("brokerid")

    def controller_epoch(self):
        try:
            data, _ = self.zk.get(CHROOT + "/controller_epoch")
            return int(data.decode())
        except Exception:  # noqa: BLE001
            return None

    def state(self, topic, p):
        """The partition state znode: {leader, leader_epoch, isr, controller_epoch, ...}."""
        data, st = self.zk.get("%s/brokers/topics/%s/partitions/%d/state" % (CHROOT, topic, p))
        s = json.loads(data.decode())
        s["zk_version"] = st.version
        return s

    def states(self, topic, partitions):
        return {p: self.state(topic, p) for p in range(partitions)}

    def assignment(self, topic):
        data, _ = self.zk.get("%s/brokers/topics/%s" % (CHROOT, topic))
        parts = json.loads(data.decode())["partitions"]
        return {int(p): r for p, r in parts.items()}

    def leader(self, topic, p):
        return self.state(topic, p)["leader"]

    def wait_isr(self, topic, p, want, timeout=30):
        want = sorted(want)
        return wait_for(lambda: sorted(self.state(topic, p)["isr"]) == want and self.state(topic, p),
                        timeout=timeout, interval=0.05,
                        desc="%s-%d ISR %s (last %s)" % (topic, p, want, self._safe_state(topic, p)))

    def wait_full_isr(self, topic, partitions, timeout=45):
        """Every partition led, every replica in the ISR (coord and the
        leader's own Metadata agree)."""
        assign = self.assignment(topic)

        def full():
            for p in range(partitions):
                s = self.state(topic, p)
                if s["leader"] < 0 or sorted(s["isr"]) != sorted(assign[p]):
                    return False
            return True
        wait_for(full, timeout=timeout, interval=0.1,
                 desc="full ISR on %s (last %s)" % (topic, {p: self._safe_state(topic, p)
                                                         for p in range(partitions)}))

    def _safe_state(self, topic, p):
        try:
            s = self.state(topic, p)
            return {"leader": s["leader"], "epoch": s["leader_epoch"], "isr": s["isr"]}
        except Exception as e:  # noqa: BLE001 - for messages only
            return repr(e)

    # -- topics
    def create_topic(self, topic, partitions, rf=3, min_isr=2, config=None, assignment=None):
        conf = {"min.insync.replicas": str(min_isr)}
        conf.update(config or {})
        if assignment:
            nt = NewTopic(topic, num_partitions=-1, replication_factor=-1,
                          replica_assignment=assignment, config=conf)
        else:
            nt = NewTopic(topic, num_partitions=partitions, replication_factor=rf, config=conf)
        admin = self.admin()  # kept alive until the answer

        def create():
            # The controller may not have seen a restarted broker come back yet.
            try:
                admin.create_topics([nt], request_timeout=15)[topic].result(20)
            except KafkaException as e:
                if e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                    return True  # an earlier attempt went through
                if e.args[0].code() != KafkaError.INVALID_REPLICATION_FACTOR:
                    raise
                return False
            return True
        wait_for(create, timeout=30, interval=0.2, desc="topic %s created" % topic)
        wait_for(lambda: all(self._led(topic, p) for p in range(partitions)), timeout=30, interval=0.05,
                 desc="every partition of %s has a leader" % topic)
        if rf > 1:
            self.wait_full_isr(topic, partitions)
        # Every live broker's metadata knows the topic and its leaders.
        for k in self.live():
            wait_for(lambda k=k: all(m["leader"] >= 0 and m["error"] == 0
                                     for m in metadata(self.brokers[k], [topic])[topic].values())
                     and len(metadata(self.brokers[k], [topic])[topic]) == partitions,
                     timeout=30, interval=0.05, desc="broker %d's metadata of %s" % (k, topic))

    def _led(self, topic, p):
        try:
            return self.state(topic, p)["leader"] >= 0
        except Exception:  # noqa: BLE001 - not created yet
            return False

    def log_tails(self, n=40):
        return "\n".join("---- %s\n%s" % (b.name, b.log_tail(n)) for b in self.brokers.values())


@pytest.fixture(scope="module")
def shared(tmp_path_factory, request):
    """One RepCluster per test module that imports it (tests take `cl`)."""
    c = RepCluster(tmp_path_factory.mktemp(request.module.__name__)).start()
    yield c
    c.close()


@pytest.fixture
def cl(shared):
    """The module's cluster with every broker running; healed afterwards."""
    shared.heal()
    yield shared
    shared.heal()


def topic_with_workload(cl, prefix, partitions):
    """A fresh topic (RF 3, min.insync.replicas=2) with workload W started
    on it: (topic, W)."""
    topic = topic_name(prefix)
    cl.create_topic(topic, partitions)
    w = Workload(cl.bootstrap, topic, partitions)
    w.start()
    return topic, w


def led_by(states, brokers):
    """Broker id -> the partitions it leads in `states` ({p: state})."""
    return {k: [p for p, s in states.items() if s["leader"] == k] for k in brokers}


# ------------------------------------------------------------------ raw requests

def _str(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


class Reader:
    def __init__(self, buf):
        self.b, self.i = buf, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.i)
        self.i += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.b[self.i:self.i + n].decode()
        self.i += n
        return s

    def array(self, item):
        n = self.take(">i")
        return [item() for _ in range(max(n, 0))]


_corr = [1000]


def call(broker, api_key, version, body, timeout=10.0, sock=None):
    """One request on a new connection (or `sock`); the response body after
    the correlation id. Raises OSError/ConnectionError on a dead broker."""
    _corr[0] += 1
    corr = _corr[0]
    hdr = struct.pack(">hhih", api_key, version, corr, 4) + b"repl"
    own = sock is None
    if own:
        sock = socket.create_connection(("127.0.0.1", broker.port), timeout=timeout)
    try:
        sock.settimeout(timeout)
        sock.sendall(frame(hdr + body))
        r = read_response(sock)
    finally:
        if own:
            sock.close()
    assert struct.unpack(">i", r[:4])[0] == corr
    return r[4:]


def metadata(broker, topics, timeout=5.0):
    """Metadata v7 asked of `broker`: {topic: {p: {error, leader, epoch,
    replicas, isr, offline}}}; a topic-level error shows as {"error": code}
    under partition -1 with no partitions."""
    body = struct.pack(">i", len(topics)) + b"".join(_str(t) for t in topics) + b"\x00"
    r = Reader(call(broker, 3, 7, body, timeout=timeout))
    r.take(">i")  # throttle
    r.array(lambda: (r.take(">i"), r.string(), r.take(">i"), r.string()))
    r.string()  # cluster id
    controller = r.take(">i")
    out = {}

    def topic():
        err = r.take(">h")
        name = r.string()
        r.take(">b")

        def part():
            e, idx, leader, epoch = r.take(">hiii")
            replicas = r.array(lambda: r.take(">i"))
            isr = r.array(lambda: r.take(">i"))
            offline = r.array(lambda: r.take(">i"))
            return idx, {"error": e, "leader": leader, "epoch": epoch, "replicas": replicas,
                         "isr": isr, "offline": offline}
        parts = dict(r.array(part))
        if err and not parts:
            parts = {-1: {"error": err, "leader": -1, "epoch": -1, "replicas": [], "isr": [], "offline": []}}
        out[name] = parts
    r.array(topic)
    out["__controller__"] = controller
    return out


def kill_leader(brokers, topic, partition=0, timeout=30):
    """kill -9 of `topic`-`partition`'s leader among `brokers`; waits until
    another broker is leader. Returns (victim, a surviving broker)."""
    leader = metadata(brokers[0], [topic])[topic][partition]["leader"]
    victim = next(b for b in brokers if b.broker_id == leader)
    victim.kill()
    other = next(b for b in brokers if b is not victim)
    wait_for(lambda: metadata(other, [topic])[topic][partition]["leader"] not in (-1, leader),
             timeout=timeout, interval=0.1, desc="a new leader for %s-%d" % (topic, partition))
    return victim, other


def list_offsets(broker, topic, partitions, timestamp=-1, current_epoch=-1, timeout=5.0):
    """ListOffsets v4 (read_uncommitted) asked of `broker`: {p: (error, offset,
    leader_epoch)}. Latest (-1) is the high watermark."""
    body = struct.pack(">ib", -1, 0) + struct.pack(">i", 1) + _str(topic) + \
        struct.pack(">i", len(partitions)) + \
        b"".join(struct.pack(">iiq", p, current_epoch, timestamp) for p in partitions)
    r = Reader(call(broker, 2, 4, body, timeout=timeout))
    r.take(">i")
    out = {}

    def t():
        r.string()

        def p():
            idx, err, _ts, off, epoch = r.take(">ihqqi")
            out[idx] = (err, off, epoch)
        r.array(p)
    r.array(t)
    return out


def record_batch(values):
    """A magic-2 record batch (no compression, no producer id) of `values`."""
    recs = b""
    for i, v in enumerate(values):
        body = (b"\x00" + zigzag_varint(0) + zigzag_varint(i) + zigzag_varint(-1) + zigzag_varint(len(v)) + v
                + zigzag_varint(0))
        recs += zigzag_varint(len(body)) + body
    ts = int(time.time() * 1000)
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, ts, ts, -1, -1, -1, len(values)) + recs
    rest = struct.pack(">ib", -1, 2) + struct.pack(">I", calc_crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(rest)) + rest


def produce_request(topic, p, values, acks=-1, timeout_ms=10000):
    """The body of a Produce v3 request."""
    batch = record_batch(values)
    return struct.pack(">hhi", -1, acks, timeout_ms) + struct.pack(">i", 1) + _str(topic) + \
        struct.pack(">i", 1) + struct.pack(">ii", p, len(batch)) + batch


def parse_produce_response(body):
    """(error, base_offset) of the one partition in a Produce v3 response."""
    r = Reader(body)
    res = []

    def t():
        r.string()
        r.array(lambda: res.append(r.take(">ihqq")))
    r.array(t)
    _idx, err, base, _ = res[0]
    return err, base


def raw_produce(broker, topic, p, values, acks=-1, timeout_ms=10000, timeout=15.0):
    """Produce v3 aimed at `broker` itself: (error, base_offset)."""
    return parse_produce_response(call(broker, 0, 3, produce_request(topic, p, values, acks, timeout_ms),
                                       timeout=timeout))


# ------------------------------------------------------------------ segment files

BATCH_HEADER = struct.Struct(">qiibIhi")  # baseOffset, batchLength, leaderEpoch, magic, crc, attrs, lastOffsetDelta


def walk_batches(data):
    """The v2 batches of a segment's bytes: [(base_offset, next_offset,
    leader_epoch, start, end)], stopping at a partial or bad tail."""
    out = []
    i = 0
    while i + 61 <= len(data):
        base, length, epoch, magic, _crc, _attrs, last_delta = BATCH_HEADER.unpack_from(data, i)
        end = i + 12 + length
        if magic != 2 or length < 49 or end > len(data):
            break
        out.append((base, base + last_delta + 1, epoch, i, end))
        i = end
    return out


def partition_dir(broker, topic, p):
    return os.path.join(broker.log_dir, "%s-%d" % (topic, p))


def replica_batches(broker, topic, p):
    """Every batch of a replica's log, segments in offset order:
    [(base_offset, next_offset, leader_epoch, bytes)]."""
    out = []
    for path in sorted(glob.glob(os.path.join(partition_dir(broker, topic, p), "*.log"))):
        with open(path, "rb") as f:
            data = f.read()
        for base, nxt, epoch, s, e in walk_batches(data):
            out.append((base, nxt, epoch, data[s:e]))
    return out


def prefix_upto(batches, hw):
    """The concatenated bytes of the batches below `hw`, and the offset
    they end at (== hw when hw is on a batch boundary)."""
    got = b""
    end = None
    for base, nxt, _epoch, b in batches:
        if base >= hw:
            break
        got += b
        end = nxt
    return got, end


def log_end(batches):
    return batches[-1][1] if batches else 0


def read_checkpoint(path):
    """A Kafka offset checkpoint file (replication-offset-checkpoint, ...):
    {(topic, partition): offset}."""
    out = {}
    with open(path) as f:
        lines = f.read().split("\n")
    n = int(lines[1])
    for line in lines[2:2 + n]:
        t, p, off = line.rsplit(" ", 2)
        out[(t, int(p))] = int(off)
    return out


def high_watermarks(cluster, topic, partitions):
    """{p: HW} from each partition's leader (ListOffsets latest)."""
    out = {}
    for p in range(partitions):
        leader = cluster.leader(topic, p)
        err, off, _ = list_offsets(cluster.brokers[leader], topic, [p])[p]
        assert err == 0, "ListOffsets of %s-%d at its leader %d: error %d" % (topic, p, leader, err)
        out[p] = off
    return out


def check_replicas_identical(cluster, topic, partitions, hws=None, same_end=False):
    """All replicas of each partition hold byte-identical batches below the
    high watermark (and, with same_end, end at the same offset). Returns
    {p: hw}."""
    hws = hws or high_watermarks(cluster, topic, partitions)
    assign = cluster.assignment(topic)
    for p in range(partitions):
        hw = hws[p]
        logs = {k: replica_batches(cluster.brokers[k], topic, p) for k in assign[p]}
        prefixes = {k: prefix_upto(b, hw) for k, b in logs.items()}
        for k, (data, end) in prefixes.items():
            assert (end or 0) == hw, "%s-%d on broker %d: batches below HW %d end at %s (log end %d)" % (
                topic, p, k, hw, end, log_end(logs[k]))
        ref_k = assign[p][0]
        ref = prefixes[ref_k][0]
        for k, (data, _) in prefixes.items():
            if data != ref:
                raise AssertionError("%s-%d: broker %d and broker %d differ below HW %d: %s" % (
                    topic, p, ref_k, k, hw, describe_divergence(logs[ref_k], logs[k])))
        if same_end:
            ends = {k: log_end(b) for k, b in logs.items()}
            assert len(set(ends.values())) == 1, "%s-%d: log ends differ: %s" % (topic, p, ends)
    return hws


def describe_divergence(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "batch %d: (base %d, next %d, epoch %d, %d bytes) vs (base %d, next %d, epoch %d, %d bytes)" % (
                i, x[0], x[1], x[2], len(x[3]), y[0], y[1], y[2], len(y[3]))
    return "one is a prefix of the other (%d vs %d batches)" % (len(a), len(b))


# ------------------------------------------------------------------ workload W

class Workload(threading.Thread):
    """Workload W: a confluent-kafka producer sending unique sequenced values
    "<prefix>-<seq>" to partition seq % partitions, one in flight per
    connection (max.in.flight 1, retries on, no idempotence), recording
    every acknowledgement (value -> partition, offset, time) and every
    failed delivery (value -> error code)."""

    def __init__(self, bootstrap, topic, partitions, acks="all", prefix=None, interval=0.002,
                 config=None):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.partitions, self.acks = bootstrap, topic, partitions, acks
        self.prefix = prefix or "w%s" % uuid.uuid4().hex[:4]
        self.interval = interval
        self.conf = {
            "bootstrap.servers": bootstrap, "acks": acks, "enable.idempotence": False,
            "max.in.flight.requests.per.connection": 1, "retries": 1000000,
            "retry.backoff.ms": 50, "retry.backoff.max.ms": 200, "linger.ms": 2,
            "message.timeout.ms": 30000, "request.timeout.ms": 5000,
            "topic.metadata.refresh.interval.ms": 1000, "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200, "socket.connection.setup.timeout.ms": 3000,
            # librdkafka gives up on a request after socket.timeout.ms (60 s by
            # default), not request.timeout.ms: a request in flight to a
            # SIGSTOPped leader would hold its partition (one in flight) that long.
            "socket.timeout.ms": 5000,
        }
        self.conf.update(config or {})
        self.lock = threading.Lock()
        self.sent = {}     # value -> (seq, partition)
        self.acked = {}    # value -> (partition, offset, t)
        self.failed = {}   # value -> error code
        self.fail_times = {}  # value -> time of the failed delivery report
        self.sent_times = {}  # value -> time handed to the producer
        self.ack_times = []
        self.halt = threading.Event()
        self.error = None
        self.unresolved = None

    def value(self, seq):
        return "%s-%08d" % (self.prefix, seq)

    def _done(self, err, msg):
        v = msg.value().decode()
        now = time.monotonic()
        with self.lock:
            if err is None:
                self.acked[v] = (msg.partition(), msg.offset(), now)
                self.ack_times.append(now)
            else:
                self.failed[v] = err.code()
                self.fail_times[v] = now

    def run(self):
        try:
            p = Producer(self.conf)
            seq = 0
            while not self.halt.is_set():
                v = self.value(seq)
                part = seq % self.partitions
                try:
                    p.produce(self.topic, value=v.encode(), partition=part, on_delivery=self._done)
                except BufferError:
                    p.poll(0.05)
                    continue
                with self.lock:
                    self.sent[v] = (seq, part)
                    self.sent_times[v] = time.monotonic()
                seq += 1
                p.poll(0)
                if self.interval:
                    time.sleep(self.interval)
            self.unresolved = p.flush(60)
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.error = e

    def n_acked(self):
        with self.lock:
            return len(self.acked)

    def wait_acks(self, more, timeout=30, desc=None):
        """Until `more` acknowledgements beyond now."""
        target = self.n_acked() + more
        wait_for(lambda: self.n_acked() >= target, timeout=timeout, interval=0.02,
                 desc=desc or "%d more acks from %s (have %d, failed %d)" % (
                     more, self.prefix, self.n_acked(), len(self.failed)))

    def first_ack_after(self, t):
        with self.lock:
            later = [x for x in self.ack_times if x > t]
        return min(later) if later else None

    def longest_pause(self, since=None, until=None):
        """Longest gap between consecutive acknowledgements (seconds)."""
        with self.lock:
            ts = sorted(x for x in self.ack_times if (since is None or x >= since) and
                        (until is None or x <= until))
        return max((b - a for a, b in zip(ts, ts[1:])), default=0.0)

    def stop(self):
        self.halt.set()
        self.join(90)
        assert not self.is_alive(), "producer %s did not finish" % self.prefix
        if self.error is not None:
            raise self.error
        assert self.unresolved == 0, "%d deliveries unresolved after flush" % self.unresolved

    def summary(self):
        out = "%s: sent %d, acked %d, failed %d (%s)" % (
            self.prefix, len(self.sent), len(self.acked), len(self.failed),
            sorted(set(self.failed.values()))[:5])
        if self.failed:
            seqs = sorted(self.sent[v][0] for v in self.failed)
            first = min(self.sent_times[v] for v in self.failed)
            last = max(self.fail_times[v] for v in self.failed)
            out += "; failed seqs %d..%d, handed over from t=%.2f, last failure report t=%.2f" % (
                seqs[0], seqs[-1], first, last)
        return out


class Sent:
    """Values a test sent itself (raw requests, a one-off producer), for
    check_acknowledged: `sent` value -> (seq, partition), `acked` value ->
    (partition, offset, t), `failed` value -> error code."""

    def __init__(self, topic, prefix):
        self.topic, self.prefix = topic, prefix
        self.sent, self.acked, self.failed = {}, {}, {}
        self.n = 0

    def values(self, p, count):
        out = []
        for _ in range(count):
            v = "%s-%08d" % (self.prefix, self.n)
            self.sent[v] = (self.n, p)
            self.n += 1
            out.append(v)
        return out

    def raw(self, broker, p, count, acks=-1, timeout_ms=10000, timeout=15.0):
        """Produce v3 of `count` new values to `broker`: (error, base offset)."""
        vals = self.values(p, count)
        err, base = raw_produce(broker, self.topic, p, [v.encode() for v in vals], acks, timeout_ms, timeout)
        now = time.monotonic()
        for i, v in enumerate(vals):
            if err == 0:
                self.acked[v] = (p, base + i, now)
            else:
                self.failed[v] = err
        return err, base

    def one_by_one(self, bootstrap, p, count, acks="all", timeout=20):
        """Sends `count` values with a confluent-kafka producer, one at a time
        and without retries: [error code or None] per value."""
        prod = Producer({"bootstrap.servers": bootstrap, "acks": acks, "retries": 0,
                         "enable.idempotence": False, "linger.ms": 0,
                         "message.timeout.ms": timeout * 1000, "request.timeout.ms": timeout * 1000})
        codes = []
        for v in self.values(p, count):
            res = []
            prod.produce(self.topic, value=v.encode(), partition=p,
                         on_delivery=lambda err, msg, res=res: res.append((err, msg.offset())))
            prod.flush(timeout + 5)
            assert res, "no delivery report for %s" % v
            err, off = res[0]
            if err is None:
                self.acked[v] = (p, off, time.monotonic())
                codes.append(None)
            else:
                self.failed[v] = err.code()
                codes.append(err.code())
        return codes


def read_all(bootstrap, topic, partitions, timeout=60):
    """Everything in the topic from the beginning up to each partition's
    high watermark: {p: [(offset, value str)]}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "check-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "enable.partition.eof": False,
                  "topic.metadata.refresh.interval.ms": 1000, "fetch.wait.max.ms": 100})
    try:
        ends = {}
        for p in range(partitions):
            ends[p] = wait_for(lambda p=p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=5),
                               timeout=30, interval=0.2, desc="watermarks of %s-%d" % (topic, p))[1]
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out = {p: [] for p in range(partitions)}
        pos = {p: 0 for p in range(partitions)}
        deadline = time.monotonic() + timeout
        while any(pos[p] < ends[p] for p in range(partitions)):
            if time.monotonic() > deadline:
                raise AssertionError("read %s only to %s of %s" % (topic, pos, ends))
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError("consumer: %s" % m.error())
            out[m.partition()].append((m.offset(), m.value().decode()))
            pos[m.partition()] = m.offset() + 1
        return out
    finally:
        c.close()


def check_acknowledged(records, workloads, all_prefixes=None):
    """Check C on read-back `records` ({p: [(offset, value)]}) for the
    acknowledged values of `workloads` (the rule is in this module's
    docstring). Values of other producers that wrote to the topic are
    named by `all_prefixes` (their workloads); nothing else may appear.
    Returns the number of tolerated retry duplicates."""
    by_value = {}
    for p, recs in records.items():
        offs = [o for o, _ in recs]
        assert offs == sorted(offs) and len(set(offs)) == len(offs), "offsets of partition %d not increasing" % p
        for o, v in recs:
            by_value.setdefault(v, []).append((p, o))
    known = {}
    for w in list(workloads) + list(all_prefixes or []):
        known.update(w.sent)
    phantoms = [v for v in by_value if v not in known]
    assert not phantoms, "values no producer sent: %s" % phantoms[:10]
    dups = 0
    for w in workloads:
        sent_times = getattr(w, "sent_times", {})
        # Per partition: acknowledgement (callback) times and offsets, and the
        # running maximum offset, to find what was acknowledged before a
        # value was handed to the producer.
        by_time = {}
        for v, (p, o, t) in w.acked.items():
            by_time.setdefault(p, []).append((t, o))
        floors = {}
        for p, xs in by_time.items():
            xs.sort()
            run, m = [], -1
            for t, o in xs:
                m = max(m, o)
                run.append(m)
            floors[p] = ([t for t, _ in xs], run)
        acks = sorted(((p, w.sent[v][0], o, v) for v, (p, o, _) in w.acked.items()))
        prev = {}
        for p, seq, off, v in acks:
            where = by_value.get(v, [])
            assert (p, off) in where, "%s acknowledged at %s-%d offset %d, found at %s" % (
                v, w.topic, p, off, where or "nowhere")
            assert off > prev.get(p, -1), "%s acknowledged at offset %d, not after the previous ack at %d " \
                "(producer order)" % (v, off, prev.get(p, -1))
            if v in sent_times:
                ts, run = floors[p]
                i = bisect.bisect_left(ts, sent_times[v])
                floor = run[i - 1] if i > 0 else -1
            else:  # a raw send: no retries, so no earlier attempt
                floor = off
            for (pp, oo) in where:
                if (pp, oo) != (p, off):
                    assert pp == p and floor < oo < off, \
                        "%s at %s-%d offset %d besides its acknowledged offset %d: not an earlier attempt of " \
                        "the same send (acknowledged up to offset %d before it was sent)" % (
                            v, w.topic, pp, oo, off, floor)
                    dups += 1
            prev[p] = off
    return dups


def read_back_and_check(cl, topic, partitions, workloads, others=(), same_end=False):
    """Waits for the full ISR, reads everything back and runs check C
    (check_acknowledged, then check_replicas_identical, polled until it
    holds); returns the records."""
    cl.wait_full_isr(topic, partitions)
    records = read_all(cl.bootstrap, topic, partitions)
    dups = check_acknowledged(records, workloads, others)
    wait_for(lambda: check_replicas_identical(cl, topic, partitions, same_end=same_end), timeout=20,
             interval=0.2, desc="replicas identical up to the high watermark")
    print("check C: %s; %d retry duplicates" % ("; ".join(w.summary() for w in workloads
                                                         if hasattr(w, "summary")), dups))
    return records


def dump_state(cluster, topic, partitions):
    lines = []
    for p in range(partitions):
        lines.append("p%d %s" % (p, cluster._safe_state(topic, p)))
    return "\n".join(lines)


__all__ = ["RepCluster", "shared", "cl", "topic_with_workload", "led_by", "Workload", "read_all",
           "check_acknowledged", "check_replicas_identical", "read_back_and_check",
           "metadata", "list_offsets", "raw_produce", "record_batch", "walk_batches", "replica_batches",
           "read_checkpoint", "high_watermarks", "topic_name", "LIVE", "KafkaException"]
