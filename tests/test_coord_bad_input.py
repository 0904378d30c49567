"""Bad input over raw sockets.

Each case is sent to Apache ZooKeeper 3.8 and to runnel-coord; what the
server answers (the frames it sends back, and whether it closes the
connection) must be the same, and afterwards the server must still answer
`ruok` and an already-connected kazoo client must keep working.
"""

import socket
import struct
import threading
import time

import pytest
from kazoo.client import KazooClient

from zkproto import (Op, Reader, Writer, body_create, body_path_watch, connect_request, frame,
                     recv_frame, request_header, err_name)

PROBE_XID = 4242


def probe_frame():
    return frame(request_header(PROBE_XID, Op.EXISTS) + body_path_watch("/"))


def handshaken(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(frame(connect_request(4000)))
    recv_frame(s)
    return s


def outcome(sock, timeout=2.0):
    """Frames received until the connection closes, the probe is answered, or timeout."""
    got = []
    deadline = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            got.append("no answer (connection left open)")
            return got
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            if buf:
                got.append(("partial bytes", len(buf)))
            got.append("closed")
            return got
        buf += chunk
        while len(buf) >= 4:
            (n,) = struct.unpack(">i", buf[:4])
            if len(buf) < 4 + n:
                break
            payload, buf = buf[4:4 + n], buf[4 + n:]
            r = Reader(payload)
            xid, _zxid, err = r.int(), r.long(), r.int()
            got.append(("reply", xid, err_name(err)))
            if xid == PROBE_XID:
                return got
    got.append("no answer (connection left open)")
    return got


# (name, when, bytes to send). when: "pre" = instead of the handshake; "post" =
# after a valid handshake, followed by a valid probe request (exists "/", xid
# 4242) in the same write; "post-alone" = after a handshake, without the probe
# (ZooKeeper answers an unknown opcode, then closes the connection: a probe sent
# along would race with the close).
CASES = [
    ("http request", "pre", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("garbage frame instead of handshake", "pre", frame(b"\x13\x37" * 20)),
    ("truncated handshake", "pre", frame(b"\x00\x00\x00\x00")),
    ("negative length before handshake", "pre", b"\xff\xff\xff\xf0" + b"x" * 16),
    ("huge length before handshake", "pre", struct.pack(">i", 0x100000) + b"x" * 100),
    ("zero length before handshake", "pre", struct.pack(">i", 0)),
    ("handshake with negative password length", "pre",
     frame(Writer().int(0).long(0).int(4000).long(0).int(-7).bytes())),
    ("handshake with huge password length", "pre",
     frame(Writer().int(0).long(0).int(4000).long(0).int(0x7ffffff0).bytes())),
    ("negative length", "post", b"\xff\xff\xff\xf0" + b"x" * 16),
    ("huge length", "post", struct.pack(">i", 0x100000) + b"x" * 100),
    ("length INT_MAX", "post", struct.pack(">i", 0x7fffffff) + b"x" * 100),
    ("zero length", "post", struct.pack(">i", 0)),
    ("frame shorter than a request header", "post", frame(b"\x00\x00\x01")),
    ("unknown opcode", "post-alone", frame(request_header(1, 4242))),
    ("unknown negative opcode", "post-alone", frame(request_header(1, -77))),
    ("garbage frame after handshake", "post-alone", frame(b"\x13\x37" * 20)),
    ("getData without body", "post", frame(request_header(1, Op.GET_DATA))),
    ("create with truncated path", "post",
     frame(request_header(1, Op.CREATE) + struct.pack(">i", 100) + b"/abc")),
    ("create without acl and flags", "post",
     frame(request_header(1, Op.CREATE) + Writer().string("/trunc").buffer(b"x").bytes())),
    ("setData with truncated data", "post",
     frame(request_header(1, Op.SET_DATA) + Writer().string("/").bytes() + struct.pack(">i", 50))),
    ("exists with negative string length", "post",
     frame(request_header(1, Op.EXISTS) + struct.pack(">i", -5) + b"\x00")),
    ("path not UTF-8", "post",
     frame(request_header(1, Op.CREATE) + Writer().buffer(b"/\xff\xfe").buffer(b"").acls([(31, "world", "anyone")]).int(0).bytes())),
]


@pytest.fixture(scope="module")
def watchers(zk_server, coord_server):
    """One kazoo client per server, connected before any bad input is sent."""
    clients = {}
    for srv in (zk_server, coord_server):
        c = KazooClient(hosts=srv.hosts, timeout=4.0)
        c.start(timeout=15)
        c.ensure_path("/bad-input")
        clients[srv.name] = (c, c.client_id[0])
    yield clients
    for c, _ in clients.values():
        c.stop()
        c.close()


def run_case(srv, when, data):
    if when == "pre":
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    else:
        sock = handshaken(srv.port)
    try:
        try:
            sock.sendall(data + (probe_frame() if when == "post" else b""))
        except (BrokenPipeError, ConnectionResetError):
            return ["closed while sending"]
        return outcome(sock)
    finally:
        sock.close()


def check_still_serving(srv, watchers, tag):
    assert srv.alive(), "%s died" % srv.name
    assert srv.four("ruok") == "imok"
    c, sid = watchers[srv.name]
    c.set("/bad-input", tag.encode())
    assert c.get("/bad-input")[0] == tag.encode()
    assert c.client_id[0] == sid, "the other client's session changed"


@pytest.mark.parametrize("name,when,data", CASES, ids=[c[0] for c in CASES])
def test_bad_input_answered_like_zookeeper(name, when, data, zk_server, coord_server, watchers):
    expected = run_case(zk_server, when, data)
    got = run_case(coord_server, when, data)
    check_still_serving(coord_server, watchers, name)
    check_still_serving(zk_server, watchers, name)
    assert got == expected, "ZooKeeper: %r, runnel-coord: %r" % (expected, got)


def test_dribbled_and_pipelined_requests(coord_server, watchers):
    sock = handshaken(coord_server.port)
    msg = frame(request_header(7, Op.EXISTS) + body_path_watch("/"))
    for b in msg:                       # one byte per write
        sock.sendall(bytes([b]))
        time.sleep(0.002)
    assert Reader(recv_frame(sock)).int() == 7
    # three requests in one write: three replies, in order
    sock.sendall(frame(request_header(8, Op.EXISTS) + body_path_watch("/")) +
                 frame(request_header(9, Op.GET_CHILDREN) + body_path_watch("/")) +
                 frame(request_header(10, Op.CREATE) + body_create("/bad-input/pipelined")))
    xids = [Reader(recv_frame(sock)).int() for _ in range(3)]
    assert xids == [8, 9, 10]
    # half a frame, then the client goes away
    sock.sendall(struct.pack(">i", 100) + b"abc")
    sock.close()
    check_still_serving(coord_server, watchers, "dribble")


def test_many_bad_connections_at_once(coord_server, watchers):
    errors = []

    def worker(i):
        try:
            s = socket.create_connection(("127.0.0.1", coord_server.port), timeout=10)
            s.sendall([b"\xff\xff\xff\xff", b"\x00\x00\x00\x05abc", b"GET / HTTP/1.0\r\n\r\n",
                       frame(b"\x00" * 44)][i % 4])
            s.close()
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    check_still_serving(coord_server, watchers, "many")
