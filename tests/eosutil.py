"""What the exactly-once tests (tests/test_idempotence.py,
tests/test_transactions.py) share: a table-driven CRC-32C, hand-built v2
record batches with a producer id / epoch / sequence (and control batches),
a parser for record-batch bytes, raw InitProducerId, Produce (v8 and the
flexible v9), Fetch v4 (isolation level, last stable offset, aborted
transactions) and ListOffsets aimed at one broker, read-back with each of
the three Python clients, and the "exactly once, in order" check.

Values written by these tests carry their own sequence number
("<prefix>-<partition>-<seq>") so a check can tell a lost, a duplicated
and a reordered record apart.
"""

import socket
import struct
import time
import uuid

from brokerproc import frame, read_response, zigzag_varint
from procutil import wait_for

# ------------------------------------------------------------------ error codes

NONE = 0
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
NOT_LEADER_OR_FOLLOWER = 6
INVALID_REQUIRED_ACKS = 21
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
DUPLICATE_SEQUENCE_NUMBER = 46
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
INVALID_PRODUCER_ID_MAPPING = 49
INVALID_TRANSACTION_TIMEOUT = 50
CONCURRENT_TRANSACTIONS = 51
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
UNKNOWN_PRODUCER_ID = 59
PRODUCER_FENCED = 90

ATTR_TRANSACTIONAL = 0x10
ATTR_CONTROL = 0x20

# ------------------------------------------------------------------ CRC-32C


def _crc_table():
    poly = 0x82F63B78  # Castagnoli, reflected
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data, crc=0):
    """CRC-32C of `data` (Kafka's record-batch checksum)."""
    crc ^= 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283, "crc32c self-check"

# ------------------------------------------------------------------ varints


def uvarint(n):
    out = b""
    while n & ~0x7F:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


class Reader:
    """A cursor over a response body: fixed-size fields, (compact) strings,
    arrays, varints and tagged fields."""

    def __init__(self, buf, flexible=False):
        self.b, self.i, self.flexible = bytes(buf), 0, flexible

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.i)
        self.i += struct.calcsize(fmt)
        return v if len(v) > 1 else v[0]

    def raw(self, n):
        v = self.b[self.i:self.i + n]
        if len(v) != n:
            raise ValueError("short read: %d of %d bytes at %d" % (len(v), n, self.i))
        self.i += n
        return v

    def uvarint(self):
        shift, n = 0, 0
        while True:
            c = self.b[self.i]
            self.i += 1
            n |= (c & 0x7F) << shift
            if not c & 0x80:
                return n
            shift += 7

    def varint(self):
        n = self.uvarint()
        return (n >> 1) ^ -(n & 1)

    def _len(self, classic_fmt):
        if self.flexible:
            return self.uvarint() - 1
        return self.take(classic_fmt)

    def string(self):
        n = self._len(">h")
        return None if n < 0 else self.raw(n).decode()

    def bytes_(self):
        n = self._len(">i")
        return None if n < 0 else self.raw(n)

    def array(self, item):
        n = self._len(">i")
        if n < 0:
            return None
        return [item() for _ in range(n)]

    def tags(self):
        if self.flexible:
            for _ in range(self.uvarint()):
                self.uvarint()
                self.raw(self.uvarint())

    def done(self):
        return self.i >= len(self.b)


class Writer:
    """Request body builder, classic or flexible (compact) encodings."""

    def __init__(self, flexible=False):
        self.parts, self.flexible = [], flexible

    def put(self, fmt, *v):
        self.parts.append(struct.pack(fmt, *v))
        return self

    def string(self, s):
        if s is None:
            self.parts.append(uvarint(0) if self.flexible else struct.pack(">h", -1))
        else:
            b = s.encode()
            self.parts.append((uvarint(len(b) + 1) if self.flexible else struct.pack(">h", len(b))) + b)
        return self

    def bytes_(self, b):
        if b is None:
            self.parts.append(uvarint(0) if self.flexible else struct.pack(">i", -1))
        else:
            self.parts.append((uvarint(len(b) + 1) if self.flexible else struct.pack(">i", len(b))) + b)
        return self

    def array(self, items, each):
        self.parts.append(uvarint(len(items) + 1) if self.flexible else struct.pack(">i", len(items)))
        for x in items:
            each(x)
        return self

    def tags(self):
        if self.flexible:
            self.parts.append(b"\x00")
        return self

    def build(self):
        return b"".join(self.parts)


# ------------------------------------------------------------------ record batches


def encode_record(offset_delta, key, value, ts_delta=0, headers=()):
    body = b"\x00" + zigzag_varint(ts_delta) + zigzag_varint(offset_delta)
    body += zigzag_varint(-1) if key is None else zigzag_varint(len(key)) + key
    body += zigzag_varint(-1) if value is None else zigzag_varint(len(value)) + value
    body += zigzag_varint(len(headers))
    for hk, hv in headers:
        body += zigzag_varint(len(hk)) + hk + zigzag_varint(len(hv)) + hv
    return zigzag_varint(len(body)) + body


def record_batch(values, producer_id=-1, producer_epoch=-1, base_sequence=-1, transactional=False,
                 control=False, keys=None, base_offset=0, leader_epoch=-1, ts=None):
    """A magic-2 record batch, uncompressed, of `values` (bytes), with the
    producer fields given; CRC-32C computed here."""
    keys = keys or [None] * len(values)
    recs = b"".join(encode_record(i, k, v) for i, (k, v) in enumerate(zip(keys, values)))
    ts = int(time.time() * 1000) if ts is None else ts
    attrs = (ATTR_TRANSACTIONAL if transactional else 0) | (ATTR_CONTROL if control else 0)
    after_crc = struct.pack(">hiqqqhii", attrs, len(values) - 1, ts, ts, producer_id, producer_epoch,
                            base_sequence, len(values)) + recs
    rest = struct.pack(">ib", leader_epoch, 2) + struct.pack(">I", crc32c(after_crc)) + after_crc
    return struct.pack(">qi", base_offset, len(rest)) + rest


BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")  # 61 bytes


def parse_batches(data, decode=True):
    """The v2 batches in record-set bytes (a Fetch answer or a Produce
    request): a list of dicts with base_offset, last_offset, producer_id,
    producer_epoch, base_sequence, count, transactional, control, crc_ok
    and, when uncompressed and `decode`, records [(offset, key, value)];
    a control batch also carries control_type (0 abort, 1 commit). A
    trailing partial batch is ignored (Fetch may cut one)."""
    out = []
    i = 0
    data = data or b""
    while i + BATCH_HEADER.size <= len(data):
        (base, length, _lepoch, magic, crc, attrs, last_delta, _ts0, _ts1, pid, pepoch, bseq,
         count) = BATCH_HEADER.unpack_from(data, i)
        end = i + 12 + length
        if end > len(data):
            break
        if magic != 2:
            raise AssertionError("batch at byte %d has magic %d" % (i, magic))
        b = {"base_offset": base, "last_offset": base + last_delta, "producer_id": pid,
             "producer_epoch": pepoch, "base_sequence": bseq, "count": count,
             "transactional": bool(attrs & ATTR_TRANSACTIONAL), "control": bool(attrs & ATTR_CONTROL),
             "compression": attrs & 7, "crc_ok": crc32c(data[i + 21:end]) == crc, "records": None}
        if decode and attrs & 7 == 0:
            r = Reader(data[i + BATCH_HEADER.size:end])
            recs = []
            for _ in range(count):
                rlen = r.varint()
                start = r.i
                r.take(">b")
                r.varint()  # timestamp delta
                od = r.varint()
                kl = r.varint()
                k = None if kl < 0 else r.raw(kl)
                vl = r.varint()
                v = None if vl < 0 else r.raw(vl)
                r.i = start + rlen
                recs.append((base + od, k, v))
            b["records"] = recs
            if b["control"] and recs and recs[0][1] is not None and len(recs[0][1]) >= 4:
                b["control_type"] = struct.unpack(">hh", recs[0][1][:4])[1]
        out.append(b)
        i = end
    return out


# ------------------------------------------------------------------ raw connection

class Conn:
    """One connection to one broker for raw requests; correlation ids
    checked; header v1 or v2 (flexible) chosen by the caller."""

    def __init__(self, port, timeout=10.0, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.corr = 100

    def call(self, api_key, version, body, flexible=False):
        """Sends one request, returns a Reader on the response body (after
        the response header)."""
        self.corr += 1
        hdr = struct.pack(">hhih", api_key, version, self.corr, 3) + b"eos"
        if flexible:
            hdr += b"\x00"
        self.sock.sendall(frame(hdr + body))
        r = Reader(read_response(self.sock), flexible=flexible)
        corr = r.take(">i")
        assert corr == self.corr, "correlation id %d, expected %d" % (corr, self.corr)
        r.tags()
        return r

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _port(b):
    return b if isinstance(b, int) else b.port


def init_producer_id(broker, transactional_id=None, timeout_ms=60000, producer_id=-1, producer_epoch=-1,
                     version=None, conn=None):
    """InitProducerId (key 22) -> (error, producer_id, producer_epoch).
    v1 (classic) unless a producer id/epoch is given (KIP-360 bump: v3,
    flexible) or `version` says otherwise."""
    if version is None:
        version = 3 if producer_id >= 0 else 1
    flex = version >= 2
    w = Writer(flex).string(transactional_id).put(">i", timeout_ms)
    if version >= 3:
        w.put(">qh", producer_id, producer_epoch)
    w.tags()
    c = conn or Conn(_port(broker))
    try:
        r = c.call(22, version, w.build(), flexible=flex)
    except ConnectionError as e:
        raise AssertionError("InitProducerId v%d: the broker closed the connection (%s): api key 22 "
                             "not served?" % (version, e))
    finally:
        if conn is None:
            c.close()
    _throttle, err, pid, epoch = r.take(">ihqh")
    return err, pid, epoch


def end_txn(broker, transactional_id, producer_id, producer_epoch, commit, version=1):
    """EndTxn (key 26) v0/v1 -> error code."""
    w = Writer().string(transactional_id).put(">qhb", producer_id, producer_epoch, 1 if commit else 0)
    with Conn(_port(broker)) as c:
        r = c.call(26, version, w.build())
    _throttle, err = r.take(">ih")
    return err


def add_partitions_to_txn(broker, transactional_id, producer_id, producer_epoch, topic, partitions, version=1):
    """AddPartitionsToTxn (key 24) v0/v1 -> {partition: error}."""
    w = Writer().string(transactional_id).put(">qh", producer_id, producer_epoch)
    w.array([0], lambda _: (w.string(topic), w.array(partitions, lambda p: w.put(">i", p))))
    with Conn(_port(broker)) as c:
        r = c.call(24, version, w.build())
    r.take(">i")
    out = {}

    def top():
        r.string()
        r.array(lambda: out.__setitem__(*r.take(">ih")))
    r.array(top)
    return out


def find_coordinator(broker, key, key_type=1):
    """FindCoordinator v2 (key type 1: transaction, 0: group) -> (error, node_id)."""
    w = Writer().string(key).put(">b", key_type)
    with Conn(_port(broker)) as c:
        r = c.call(10, 2, w.build())
    _throttle, err = r.take(">ih")
    r.string()
    node = r.take(">i")
    return err, node


def produce(broker, topic, partition, batch, acks=-1, timeout_ms=10000, version=9, transactional_id=None,
            conn=None):
    """One Produce of record-set bytes `batch` to topic-partition on
    `broker` -> dict(error, base_offset, log_start_offset, error_message).
    v3-8 classic, v9-12 flexible."""
    flex = version >= 9
    w = Writer(flex)
    w.string(transactional_id).put(">hi", acks, timeout_ms)

    def part(_):
        w.put(">i", partition).bytes_(batch).tags()

    def top(_):
        w.string(topic).array([0], part).tags()
    w.array([0], top).tags()
    c = conn or Conn(_port(broker))
    try:
        r = c.call(0, version, w.build(), flexible=flex)
    finally:
        if conn is None:
            c.close()
    res = []

    def rpart():
        idx, err, base = r.take(">ihq")
        d = {"partition": idx, "error": err, "base_offset": base}
        if version >= 2:
            d["log_append_time"] = r.take(">q")
        if version >= 5:
            d["log_start_offset"] = r.take(">q")
        if version >= 8:
            d["record_errors"] = r.array(lambda: (r.take(">i"), r.string(), r.tags())[:2])
            d["error_message"] = r.string()
        r.tags()
        res.append(d)

    def rtop():
        r.string()
        r.array(rpart)
        r.tags()
    r.array(rtop)
    assert len(res) == 1, res
    return res[0]


def fetch(broker, topic, partitions, offsets=None, isolation=0, max_wait_ms=0, max_bytes=4 << 20,
          conn=None):
    """Fetch v4 of `partitions` from `offsets` ({p: offset}, default 0):
    {p: dict(error, high_watermark, last_stable_offset, aborted [(pid,
    first_offset)] or None, batches [parse_batches])}."""
    offsets = offsets or {}
    body = struct.pack(">iiiib", -1, max_wait_ms, 0, max_bytes, isolation)
    tb = topic.encode()
    body += struct.pack(">ih", 1, len(tb)) + tb + struct.pack(">i", len(partitions))
    for p in partitions:
        body += struct.pack(">iqi", p, offsets.get(p, 0), max_bytes)
    c = conn or Conn(_port(broker))
    try:
        r = c.call(1, 4, body)
    finally:
        if conn is None:
            c.close()
    r.take(">i")
    out = {}

    def part():
        p, err, hw, lso = r.take(">ihqq")
        aborted = r.array(lambda: r.take(">qq"))
        records = r.bytes_()
        out[p] = {"error": err, "high_watermark": hw, "last_stable_offset": lso,
                  "aborted": None if aborted is None else [tuple(a) for a in aborted],
                  "batches": parse_batches(records)}

    def top():
        r.string()
        r.array(part)
    r.array(top)
    return out


def fetch_all(broker, topic, p, isolation=0, upto=None):
    """Every batch of topic-partition p from offset 0 up to its high
    watermark (or `upto`), following the Fetch answers; (batches, last
    answer)."""
    batches, off, last = [], 0, None
    with Conn(_port(broker)) as c:
        for _ in range(10000):
            last = fetch(broker, topic, [p], {p: off}, isolation=isolation, conn=c)[p]
            assert last["error"] == 0, "fetch %s-%d at %d: error %d" % (topic, p, off, last["error"])
            end = upto if upto is not None else (
                last["last_stable_offset"] if isolation == 1 else last["high_watermark"])
            new = [b for b in last["batches"] if b["last_offset"] >= off]
            batches += new
            if new:
                off = new[-1]["last_offset"] + 1
            if off >= end or not new:
                return batches, last
    raise AssertionError("fetch_all did not finish")


def list_offsets(broker, topic, partitions, timestamp=-1, isolation=0):
    """ListOffsets v4 with an isolation level: {p: (error, offset)}."""
    tb = topic.encode()
    body = struct.pack(">ib", -1, isolation) + struct.pack(">ih", 1, len(tb)) + tb + \
        struct.pack(">i", len(partitions)) + b"".join(struct.pack(">iiq", p, -1, timestamp) for p in partitions)
    with Conn(_port(broker)) as c:
        r = c.call(2, 4, body)
    r.take(">i")
    out = {}

    def t():
        r.string()

        def p():
            idx, err, _ts, off, _epoch = r.take(">ihqqi")
            out[idx] = (err, off)
        r.array(p)
    r.array(t)
    return out


def log_end_offset(broker, topic, p):
    err, off = list_offsets(broker, topic, [p])[p]
    assert err == 0, "ListOffsets %s-%d: error %d" % (topic, p, err)
    return off


# ------------------------------------------------------------------ values and checks


def topic_name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def value(prefix, p, seq):
    return "%s-%d-%06d" % (prefix, p, seq)


def parse_value(v):
    """(prefix, partition, seq) of a value made by value()."""
    prefix, p, seq = v.rsplit("-", 2)
    return prefix, int(p), int(seq)


def check_exactly_once(records, expected, what="", contiguous=False):
    """`records` {p: [(offset, value str)]} as read back; `expected` {p:
    [value, ...]} in production order. Each partition holds exactly the
    expected values, each once, in order; offsets strictly increase (and,
    with contiguous, have no gaps — a topic with no control batches)."""
    for p in sorted(set(records) | set(expected)):
        got = records.get(p, [])
        offs = [o for o, _ in got]
        vals = [v for _, v in got]
        assert offs == sorted(set(offs)), "%s partition %d: offsets not increasing: %s" % (what, p, offs[:50])
        if contiguous and offs:
            assert offs == list(range(offs[0], offs[0] + len(offs))), \
                "%s partition %d: offsets not contiguous: %s" % (what, p, _gaps(offs))
        dups = sorted({v for v in vals if vals.count(v) > 1}) if len(vals) != len(set(vals)) else []
        assert not dups, "%s partition %d: duplicated values %s" % (what, p, dups[:10])
        want = list(expected.get(p, []))
        if vals != want:
            missing = sorted(set(want) - set(vals))
            extra = sorted(set(vals) - set(want))
            order = [v for v in vals if v in set(want)] != [v for v in want if v in set(vals)]
            raise AssertionError("%s partition %d: %d records, expected %d; missing %s; unexpected %s; "
                                 "reordered: %s" % (what, p, len(vals), len(want), missing[:10], extra[:10],
                                                    order))


def _gaps(offs):
    return [(a, b) for a, b in zip(offs, offs[1:]) if b != a + 1][:10]


# ------------------------------------------------------------------ read-back with each client


def read_confluent(bootstrap, topic, partitions, isolation="read_uncommitted", until=None, timeout=60,
                   include_keys=False):
    """confluent-kafka consumer from offset 0 of each partition until it is
    at the end of every partition (EOF: the high watermark, or the last
    stable offset for read_committed) and, if `until` ({p: offset}) is
    given, has got past until[p] there; {p: [(offset, value str)]}."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rb-" + uuid.uuid4().hex[:8],
                  "enable.auto.commit": False, "isolation.level": isolation,
                  "enable.partition.eof": True, "fetch.wait.max.ms": 100,
                  "topic.metadata.refresh.interval.ms": 1000})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in partitions])
        out = {p: [] for p in partitions}
        eof = set()
        deadline = time.monotonic() + timeout
        def reached(p):
            if until is None:
                return True
            last = out[p][-1][0] + 1 if out[p] else 0
            return last >= until[p] or c.position([TopicPartition(topic, p)])[0].offset >= until[p]
        while True:
            # at the end of every partition, and past `until` (so nothing
            # after it, a duplicate say, is missed)
            if eof >= set(partitions) and all(reached(p) for p in partitions):
                return out
            if time.monotonic() > deadline:
                raise AssertionError("confluent %s read of %s: only to %s (eof %s, until %s)" % (
                    isolation, topic, {p: (out[p][-1][0] if out[p] else None) for p in partitions},
                    sorted(eof), until))
            m = c.poll(0.3)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                raise AssertionError("confluent consumer: %s" % m.error())
            eof.discard(m.partition())
            v = m.value().decode() if m.value() is not None else None
            out[m.partition()].append((m.offset(), (m.key(), v) if include_keys else v))
    finally:
        c.close()


def read_kafka_python(bootstrap, topic, partitions, isolation="read_uncommitted", expect=None, timeout=60):
    """kafka-python consumer from the beginning; stops once it has `expect`
    records (total) and then nothing new for 1.5 s, or when it has seen
    nothing for 3 s after reaching the end offsets; {p: [(offset, value)]}."""
    from kafka import KafkaConsumer, TopicPartition as KTP
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      isolation_level=isolation, auto_offset_reset="earliest",
                      fetch_max_wait_ms=100, request_timeout_ms=15000)
    try:
        tps = [KTP(topic, p) for p in partitions]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        out = {p: [] for p in partitions}
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = c.poll(timeout_ms=200)
            n = 0
            for tp, msgs in batch.items():
                for m in msgs:
                    out[tp.partition].append((m.offset, m.value.decode() if m.value is not None else None))
                    n += 1
            if n:
                quiet_since = time.monotonic()
            total = sum(len(x) for x in out.values())
            quiet = time.monotonic() - quiet_since
            if expect is not None and total >= expect and quiet > 1.5:
                return out
            if expect is None and quiet > 3.0:
                return out
        raise AssertionError("kafka-python %s read of %s: %d records, expected %s" % (
            isolation, topic, sum(len(x) for x in out.values()), expect))
    finally:
        c.close()


def read_aiokafka(bootstrap, topic, partitions, isolation="read_uncommitted", expect=None, timeout=60):
    """aiokafka consumer from the beginning, as read_kafka_python."""
    import asyncio
    from aiokafka import AIOKafkaConsumer, TopicPartition as ATP

    async def run():
        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             isolation_level=isolation, auto_offset_reset="earliest",
                             fetch_max_wait_ms=100)
        await c.start()
        try:
            tps = [ATP(topic, p) for p in partitions]
            c.assign(tps)
            await c.seek_to_beginning(*tps)
            out = {p: [] for p in partitions}
            deadline = time.monotonic() + timeout
            quiet_since = time.monotonic()
            while time.monotonic() < deadline:
                batch = await c.getmany(timeout_ms=200)
                n = 0
                for tp, msgs in batch.items():
                    for m in msgs:
                        out[tp.partition].append((m.offset, m.value.decode() if m.value is not None else None))
                        n += 1
                if n:
                    quiet_since = time.monotonic()
                total = sum(len(x) for x in out.values())
                quiet = time.monotonic() - quiet_since
                if expect is not None and total >= expect and quiet > 1.5:
                    return out
                if expect is None and quiet > 3.0:
                    return out
            raise AssertionError("aiokafka %s read of %s: %d records, expected %s" % (
                isolation, topic, sum(len(x) for x in out.values()), expect))
        finally:
            await c.stop()
    return asyncio.run(run())


def create_topic(bootstrap, topic, partitions=1, rf=1, config=None, timeout=30):
    """Creates a topic with confluent-kafka's AdminClient and waits until
    every partition has a leader in the metadata."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.create_topics([NewTopic(topic, partitions, rf, config=config or {})])[topic].result(timeout)
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise

    def led():
        md = admin.list_topics(topic, timeout=5).topics.get(topic)
        return md is not None and md.error is None and len(md.partitions) == partitions and \
            all(pm.leader >= 0 for pm in md.partitions.values())
    wait_for(led, timeout=timeout, interval=0.1, desc="leaders for %s" % topic)
    return topic
