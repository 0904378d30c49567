"""A small fault-injecting TCP proxy for Kafka connections (for the
exactly-once tests).

FaultProxy(target_port) listens on 127.0.0.1:<port> and forwards every
connection to 127.0.0.1:<target_port>. It reads the Kafka frames of both
directions (4-byte size prefix; request header api_key, api_version,
correlation_id; response header correlation_id), so it can pair each
response with its request. A rule decides, per response to a Produce
request, whether to pass it on or to DROP it and close the client's
connection (and the broker-side one): the broker has appended the batch but
the producer never hears of it, as after a lost packet and a reset.

The proxy records what it dropped: for each dropped Produce response, the
batches of the request (producer id, epoch, base sequence, values of
uncompressed records) with the base offset and error the broker had
answered — "the offset first assigned" to those records.

    proxy = FaultProxy(broker.port).start()
    proxy.drop_produce_responses(every=3, limit=10)   # every 3rd, at most 10
    ...
    proxy.clear()                                     # pass everything again
    proxy.close()
"""

import socket
import struct
import threading

from eosutil import Reader, parse_batches

PRODUCE = 0


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _recv_frame(sock):
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    size = struct.unpack(">i", head)[0]
    body = _recv_exact(sock, size)
    if body is None:
        return None
    return head + body


def _skip_header_v2_tags(r):
    # request header v2: tagged fields after the client id
    for _ in range(r.uvarint()):
        r.uvarint()
        r.raw(r.uvarint())


def parse_produce_request(body, version):
    """The partitions of a Produce request body (after the request header):
    (acks, [(topic, partition, record-set bytes)])."""
    flex = version >= 9
    r = Reader(body, flexible=flex)
    r.string()  # transactional id
    acks, _timeout = r.take(">hi")
    out = []

    def part(topic):
        idx = r.take(">i")
        recs = r.bytes_()
        r.tags()
        out.append((topic, idx, recs or b""))

    def top():
        name = r.string()
        r.array(lambda: part(name))
        r.tags()
    r.array(top)
    return acks, out


def parse_produce_response(body, version):
    """{(topic, partition): (error, base_offset)} of a Produce response body
    (after the response header)."""
    flex = version >= 9
    r = Reader(body, flexible=flex)
    out = {}

    def part(topic):
        idx, err, base = r.take(">ihq")
        if version >= 2:
            r.take(">q")
        if version >= 5:
            r.take(">q")
        if version >= 8:
            r.array(lambda: (r.take(">i"), r.string(), r.tags()))
            r.string()
        r.tags()
        out[(topic, idx)] = (err, base)

    def top():
        name = r.string()
        r.array(lambda: part(name))
        r.tags()
    r.array(top)
    return out


class FaultProxy:
    def __init__(self, target_port, port=0, host="127.0.0.1"):
        self.target = (host, target_port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.rule = None            # (api_key, version, n-th such request) -> True to drop
        self.produce_seen = 0       # Produce requests (acks != 0) seen since the rule was set
        self.dropped = []           # one dict per dropped Produce response
        self.connections = 0
        self.errors = []            # parse errors (a proxy bug, not the broker's)
        self.closed = False
        self.conns = set()
        self.thread = None

    # -- rules
    def drop_produce_responses(self, every=3, limit=None, first=None):
        """Drop the response to every `every`-th Produce request (acks != 0)
        seen from now on, at most `limit` times (and only after the `first`-th
        when given), closing the connection each time."""
        with self.lock:
            self.produce_seen = 0
            state = {"n": 0}

            def rule(nth):
                if first is not None and nth < first:
                    return False
                if nth % every != 0:
                    return False
                if limit is not None and state["n"] >= limit:
                    return False
                state["n"] += 1
                return True
            self.rule = rule

    def clear(self):
        with self.lock:
            self.rule = None

    def n_dropped(self):
        with self.lock:
            return len(self.dropped)

    # -- lifecycle
    def start(self):
        self.thread = threading.Thread(target=self._accept, daemon=True, name="faultproxy-accept")
        self.thread.start()
        return self

    def close(self):
        self.closed = True
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.conns)
        for s in conns:
            self._shut(s)

    @staticmethod
    def _shut(s):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.lsock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._shut(client)
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pending = {}  # correlation id -> (api_key, version, nth produce or None, request body)
            with self.lock:
                self.connections += 1
                self.conns.update((client, upstream))
            threading.Thread(target=self._c2s, args=(client, upstream, pending), daemon=True).start()
            threading.Thread(target=self._s2c, args=(client, upstream, pending), daemon=True).start()

    def _drop_conn(self, client, upstream):
        with self.lock:
            self.conns.discard(client)
            self.conns.discard(upstream)
        self._shut(client)
        self._shut(upstream)

    def _c2s(self, client, upstream, pending):
        try:
            while True:
                f = _recv_frame(client)
                if f is None:
                    break
                api_key, version, corr = struct.unpack_from(">hhi", f, 4)
                info = None
                if api_key == PRODUCE:
                    try:
                        r = Reader(f[4:])
                        r.take(">hhi")
                        r.string()  # client id
                        if version >= 9:
                            _skip_header_v2_tags(r)
                        acks, parts = parse_produce_request(f[4 + r.i:], version)
                    except Exception as e:  # noqa: BLE001 - recorded, the frame still goes through
                        self.errors.append("produce request v%d: %r" % (version, e))
                        acks, parts = 0, []
                    if acks != 0:
                        with self.lock:
                            self.produce_seen += 1
                            drop = bool(self.rule and self.rule(self.produce_seen))
                        info = (version, parts, drop)
                with self.lock:
                    pending[corr] = (api_key, info)
                upstream.sendall(f)
        except OSError:
            pass
        self._drop_conn(client, upstream)

    def _s2c(self, client, upstream, pending):
        try:
            while True:
                f = _recv_frame(upstream)
                if f is None:
                    break
                corr = struct.unpack_from(">i", f, 4)[0]
                with self.lock:
                    api_key, info = pending.pop(corr, (None, None))
                if api_key == PRODUCE and info is not None and info[2]:
                    version, parts, _ = info
                    try:
                        off = 8 + (1 if version >= 9 else 0)  # size, correlation id, header tags
                        answers = parse_produce_response(f[off:], version)
                    except Exception as e:  # noqa: BLE001
                        self.errors.append("produce response v%d: %r" % (version, e))
                        answers = {}
                    with self.lock:
                        for topic, p, recs in parts:
                            err, base = answers.get((topic, p), (None, None))
                            delta = 0  # batches after the first follow it in the log
                            for b in parse_batches(recs):
                                self.dropped.append({
                                    "topic": topic, "partition": p, "error": err,
                                    "base_offset": None if base is None else base + delta,
                                    "producer_id": b["producer_id"], "producer_epoch": b["producer_epoch"],
                                    "base_sequence": b["base_sequence"], "count": b["count"],
                                    "values": None if b["records"] is None else
                                    [v.decode() if v is not None else None for _, _, v in b["records"]]})
                                delta += b["count"]
                    break  # the response is lost and the connection closes
                client.sendall(f)
        except OSError:
            pass
        self._drop_conn(client, upstream)
