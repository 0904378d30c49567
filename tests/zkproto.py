"""A tiny ZooKeeper wire-protocol (jute) client for the end-to-end tests.

It speaks the protocol byte by byte, so that the tests can send what kazoo
cannot (container/TTL creates, addWatch, getAllChildrenNumber, getEphemerals,
multiRead, whoAmI, malformed frames, unknown opcodes) and can look at the
exact order of frames the server sends (notifications before replies).

Reference: zookeeper-jute/src/main/resources/zookeeper.jute and
ZooDefs.OpCode / KeeperException.Code of Apache ZooKeeper 3.8.
"""

import socket
import struct
import time

# ---------------------------------------------------------------- constants

class Op:
    NOTIFICATION = 0
    CREATE = 1
    DELETE = 2
    EXISTS = 3
    GET_DATA = 4
    SET_DATA = 5
    GET_ACL = 6
    SET_ACL = 7
    GET_CHILDREN = 8
    SYNC = 9
    PING = 11
    GET_CHILDREN2 = 12
    CHECK = 13
    MULTI = 14
    CREATE2 = 15
    RECONFIG = 16
    CHECK_WATCHES = 17
    REMOVE_WATCHES = 18
    CREATE_CONTAINER = 19
    DELETE_CONTAINER = 20
    CREATE_TTL = 21
    MULTI_READ = 22
    AUTH = 100
    SET_WATCHES = 101
    SASL = 102
    GET_EPHEMERALS = 103
    GET_ALL_CHILDREN_NUMBER = 104
    SET_WATCHES2 = 105
    ADD_WATCH = 106
    WHO_AM_I = 107
    CREATE_SESSION = -10
    CLOSE_SESSION = -11
    ERROR = -1


class CreateMode:
    PERSISTENT = 0
    EPHEMERAL = 1
    PERSISTENT_SEQUENTIAL = 2
    EPHEMERAL_SEQUENTIAL = 3
    CONTAINER = 4
    PERSISTENT_WITH_TTL = 5
    PERSISTENT_SEQUENTIAL_WITH_TTL = 6


class AddWatchMode:
    PERSISTENT = 0
    PERSISTENT_RECURSIVE = 1


class WatcherType:  # for checkWatches / removeWatches
    CHILDREN = 1
    DATA = 2
    ANY = 3


EVENT_TYPES = {
    -1: "None",
    1: "NodeCreated",
    2: "NodeDeleted",
    3: "NodeDataChanged",
    4: "NodeChildrenChanged",
    5: "DataWatchRemoved",
    6: "ChildWatchRemoved",
    7: "PersistentWatchRemoved",
}

KEEPER_STATES = {
    -1: "Unknown",
    0: "Disconnected",
    3: "SyncConnected",
    4: "AuthFailed",
    5: "ConnectedReadOnly",
    6: "SaslAuthenticated",
    -112: "Expired",
    7: "Closed",
}

ERRORS = {
    0: "OK",
    -1: "SystemError",
    -2: "RuntimeInconsistency",
    -3: "DataInconsistency",
    -4: "ConnectionLoss",
    -5: "MarshallingError",
    -6: "Unimplemented",
    -7: "OperationTimeout",
    -8: "BadArguments",
    -12: "UnknownSession",
    -13: "NewConfigNoQuorum",
    -14: "ReconfigInProgress",
    -100: "APIError",
    -101: "NoNode",
    -102: "NoAuth",
    -103: "BadVersion",
    -108: "NoChildrenForEphemerals",
    -110: "NodeExists",
    -111: "NotEmpty",
    -112: "SessionExpired",
    -113: "InvalidCallback",
    -114: "InvalidACL",
    -115: "AuthFailed",
    -118: "SessionMoved",
    -119: "NotReadOnly",
    -120: "EphemeralOnLocalSession",
    -121: "NoWatcher",
    -122: "RequestTimeout",
    -123: "ReconfigDisabled",
    -124: "SessionClosedRequireSasl",
    -125: "QuotaExceeded",
    -127: "Throttled",
}

PERM_ALL = 0x1F
OPEN_ACL = [(PERM_ALL, "world", "anyone")]
JUTE_MAXBUFFER = 0xFFFFF

WATCH_XID = -1
PING_XID = -2
AUTH_XID = -4
SET_WATCHES_XID = -8


def err_name(code):
    return ERRORS.get(code, "Error(%d)" % code)


# ---------------------------------------------------------------- encoding

class Writer:
    def __init__(self):
        self.b = bytearray()

    def int(self, v):
        self.b += struct.pack(">i", v)
        return self

    def long(self, v):
        self.b += struct.pack(">q", v)
        return self

    def bool(self, v):
        self.b += b"\x01" if v else b"\x00"
        return self

    def buffer(self, v):
        if v is None:
            return self.int(-1)
        self.int(len(v))
        self.b += v
        return self

    def string(self, v):
        return self.buffer(None if v is None else v.encode("utf-8"))

    def strings(self, vs):
        self.int(len(vs))
        for v in vs:
            self.string(v)
        return self

    def acls(self, acls):
        self.int(len(acls))
        for perms, scheme, ident in acls:
            self.int(perms).string(scheme).string(ident)
        return self

    def raw(self, v):
        self.b += v
        return self

    def bytes(self):
        return bytes(self.b)


class Truncated(Exception):
    pass


class Reader:
    def __init__(self, data, pos=0):
        self.d = data
        self.p = pos

    def _take(self, n):
        if self.p + n > len(self.d):
            raise Truncated("need %d bytes at %d, have %d" % (n, self.p, len(self.d)))
        v = self.d[self.p:self.p + n]
        self.p += n
        return v

    def int(self):
        return struct.unpack(">i", self._take(4))[0]

    def long(self):
        return struct.unpack(">q", self._take(8))[0]

    def bool(self):
        return self._take(1) != b"\x00"

    def buffer(self):
        n = self.int()
        if n < 0:
            return None
        return bytes(self._take(n))

    def string(self):
        v = self.buffer()
        return None if v is None else v.decode("utf-8")

    def strings(self):
        n = self.int()
        return [self.string() for _ in range(max(n, 0))]

    def acls(self):
        n = self.int()
        return [(self.int(), self.string(), self.string()) for _ in range(max(n, 0))]

    def rest(self):
        return bytes(self.d[self.p:])

    def at_end(self):
        return self.p >= len(self.d)


class Stat:
    # jute order
    FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion",
              "aversion", "ephemeralOwner", "dataLength", "numChildren", "pzxid")

    def __init__(self, *vals):
        assert len(vals) == len(self.FIELDS)
        for k, v in zip(self.FIELDS, vals):
            setattr(self, k, v)

    def __repr__(self):
        return "Stat(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.FIELDS)


def _read_stat(r):
    return Stat(r.long(), r.long(), r.long(), r.long(), r.int(), r.int(), r.int(),
                r.long(), r.int(), r.int(), r.long())


Reader.stat = _read_stat


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def connect_request(timeout_ms=4000, session_id=0, passwd=b"\x00" * 16,
                    last_zxid=0, read_only=False, with_readonly_byte=True,
                    protocol_version=0):
    w = Writer().int(protocol_version).long(last_zxid).int(timeout_ms).long(session_id).buffer(passwd)
    if with_readonly_byte:
        w.bool(read_only)
    return w.bytes()


def request_header(xid, op):
    return Writer().int(xid).int(op).bytes()


# request bodies -----------------------------------------------------------

def body_path_watch(path, watch=False):
    return Writer().string(path).bool(watch).bytes()


def body_path(path):
    return Writer().string(path).bytes()


def body_create(path, data=b"", acl=OPEN_ACL, flags=0):
    return Writer().string(path).buffer(data).acls(acl).int(flags).bytes()


def body_create_ttl(path, data=b"", acl=OPEN_ACL, flags=CreateMode.PERSISTENT_WITH_TTL, ttl=1000):
    return Writer().string(path).buffer(data).acls(acl).int(flags).long(ttl).bytes()


def body_delete(path, version=-1):
    return Writer().string(path).int(version).bytes()


def body_set_data(path, data, version=-1):
    return Writer().string(path).buffer(data).int(version).bytes()


def body_set_acl(path, acl, version=-1):
    return Writer().string(path).acls(acl).int(version).bytes()


def body_check(path, version):
    return Writer().string(path).int(version).bytes()


def body_add_watch(path, mode):
    return Writer().string(path).int(mode).bytes()


def body_remove_watches(path, wtype):
    return Writer().string(path).int(wtype).bytes()


def body_set_watches(rel_zxid, data=(), exist=(), child=()):
    return (Writer().long(rel_zxid).strings(list(data)).strings(list(exist))
            .strings(list(child)).bytes())


def body_set_watches2(rel_zxid, data=(), exist=(), child=(), persistent=(), recursive=()):
    return (Writer().long(rel_zxid).strings(list(data)).strings(list(exist))
            .strings(list(child)).strings(list(persistent)).strings(list(recursive)).bytes())


def body_multi(ops):
    """ops: list of (opcode, body_bytes)."""
    w = Writer()
    for op, body in ops:
        w.int(op).bool(False).int(-1).raw(body)
    w.int(-1).bool(True).int(-1)
    return w.bytes()


def decode_multi(payload, read=False):
    """Per-op results of a multi / multiRead reply: list of (op_or_error, value)."""
    r = Reader(payload)
    out = []
    while True:
        typ, done, err = r.int(), r.bool(), r.int()
        if done:
            break
        if typ == Op.ERROR:
            out.append(("error", err_name(r.int())))
        elif typ in (Op.CREATE, Op.CREATE_CONTAINER):
            out.append(("create", r.string()))
        elif typ in (Op.CREATE2, Op.CREATE_TTL):
            out.append(("create2", (r.string(), r.stat())))
        elif typ == Op.DELETE:
            out.append(("delete", None))
        elif typ == Op.SET_DATA:
            out.append(("setData", r.stat()))
        elif typ == Op.CHECK:
            out.append(("check", None))
        elif typ == Op.GET_CHILDREN:
            out.append(("getChildren", sorted(r.strings())))
        elif typ == Op.GET_DATA:
            out.append(("getData", (r.buffer(), r.stat())))
        else:
            out.append(("op%d" % typ, r.rest()))
            break
    return out


# ---------------------------------------------------------------- socket io

class ConnectionClosed(Exception):
    pass


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionClosed("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def recv_frame(sock):
    (n,) = struct.unpack(">i", recv_exact(sock, 4))
    if n < 0 or n > 64 * 1024 * 1024:
        raise ValueError("bad frame length from server: %d" % n)
    return recv_exact(sock, n)


def connection_closed_by_peer(sock, timeout=5.0):
    """True if the peer closes the connection (EOF or reset) within timeout.
    Any bytes it sends meanwhile are discarded and returned as the second item."""
    deadline = time.monotonic() + timeout
    got = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False, got
        except (ConnectionResetError, BrokenPipeError):
            return True, got
        if not chunk:
            return True, got
        got += chunk
    return False, got


def four_letter(port, cmd, host="127.0.0.1", timeout=5.0):
    """Send a four-letter word and return the whole answer as text."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode() if isinstance(cmd, str) else cmd)
        out = bytearray()
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return out.decode("utf-8", "replace")


class Reply:
    def __init__(self, xid, zxid, err, payload):
        self.xid, self.zxid, self.err, self.payload = xid, zxid, err, payload

    @property
    def error(self):
        return err_name(self.err)

    def reader(self):
        return Reader(self.payload)

    def __repr__(self):
        return "Reply(xid=%d, zxid=%d, err=%s, %d bytes)" % (self.xid, self.zxid, self.error, len(self.payload))


class Event:
    def __init__(self, type_, state, path, zxid):
        self.type, self.state, self.path, self.zxid = type_, state, path, zxid

    @property
    def type_name(self):
        return EVENT_TYPES.get(self.type, str(self.type))

    def __repr__(self):
        return "Event(%s, %s, %r)" % (self.type_name, KEEPER_STATES.get(self.state, self.state), self.path)

    def key(self):
        return (self.type_name, self.path)


class SessionExpired(Exception):
    pass


class RawClient:
    """A synchronous single-connection ZooKeeper client.

    Notifications that arrive while waiting for a reply are kept in
    ``self.events``; ``self.frames`` logs every frame received, in arrival
    order, as ("event", type, path) or ("reply", xid, error).
    """

    def __init__(self, port, host="127.0.0.1", timeout_ms=4000, session_id=0,
                 passwd=b"\x00" * 16, last_zxid=0, read_only=False,
                 with_readonly_byte=True, sock_timeout=10.0):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=sock_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.xid = 0
        self.events = []
        self.frames = []
        self.last_zxid = last_zxid
        self.sock.sendall(frame(connect_request(timeout_ms, session_id, passwd, last_zxid,
                                                read_only, with_readonly_byte)))
        payload = recv_frame(self.sock)
        r = Reader(payload)
        self.protocol_version = r.int()
        self.timeout_ms = r.int()
        self.session_id = r.long()
        self.passwd = r.buffer()
        self.read_only = r.bool() if not r.at_end() else None
        if self.session_id == 0 or self.timeout_ms <= 0:
            self.close_socket()
            raise SessionExpired("server answered the handshake with session 0 / timeout %d"
                                 % self.timeout_ms)

    # -- low level
    def send(self, op, body=b"", xid=None):
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.sock.sendall(frame(request_header(xid, op) + body))
        return xid

    def read_frame(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            payload = recv_frame(self.sock)
        finally:
            if timeout is not None:
                self.sock.settimeout(10.0)
        r = Reader(payload)
        xid, zxid, err = r.int(), r.long(), r.int()
        if zxid > 0:
            self.last_zxid = max(self.last_zxid, zxid)
        if xid == WATCH_XID:
            ev = Event(r.int(), r.int(), r.string(), zxid)
            self.events.append(ev)
            self.frames.append(("event", ev.type_name, ev.path))
            return ev
        rep = Reply(xid, zxid, err, r.rest())
        self.frames.append(("reply", xid, rep.error))
        return rep

    def call(self, op, body=b"", timeout=10.0):
        xid = self.send(op, body)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply to op %d (xid %d)" % (op, xid))
            f = self.read_frame(timeout=left)
            if isinstance(f, Reply):
                if f.xid == xid:
                    return f
                if f.xid == PING_XID:
                    continue
                raise AssertionError("reply for xid %d while waiting for %d" % (f.xid, xid))

    def wait_events(self, n, timeout=5.0):
        """Read frames until at least n events are queued or timeout; returns events."""
        deadline = time.monotonic() + timeout
        while len(self.events) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                self.read_frame(timeout=left)
            except socket.timeout:
                break
        return list(self.events)

    def take_events(self):
        ev, self.events = self.events, []
        return ev

    def ping(self):
        self.send(Op.PING, xid=PING_XID)
        deadline = time.monotonic() + 10
        while True:
            f = self.read_frame(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(f, Reply) and f.xid == PING_XID:
                return f

    # -- operations (return Reply; decode helpers below)
    def create(self, path, data=b"", flags=0, acl=OPEN_ACL):
        return self.call(Op.CREATE, body_create(path, data, acl, flags))

    def create2(self, path, data=b"", flags=0, acl=OPEN_ACL):
        return self.call(Op.CREATE2, body_create(path, data, acl, flags))

    def create_container(self, path, data=b"", acl=OPEN_ACL):
        return self.call(Op.CREATE_CONTAINER, body_create(path, data, acl, CreateMode.CONTAINER))

    def create_ttl(self, path, ttl, data=b"", flags=CreateMode.PERSISTENT_WITH_TTL, acl=OPEN_ACL):
        return self.call(Op.CREATE_TTL, body_create_ttl(path, data, acl, flags, ttl))

    def delete(self, path, version=-1):
        return self.call(Op.DELETE, body_delete(path, version))

    def exists(self, path, watch=False):
        return self.call(Op.EXISTS, body_path_watch(path, watch))

    def get_data(self, path, watch=False):
        return self.call(Op.GET_DATA, body_path_watch(path, watch))

    def set_data(self, path, data, version=-1):
        return self.call(Op.SET_DATA, body_set_data(path, data, version))

    def get_children(self, path, watch=False):
        return self.call(Op.GET_CHILDREN, body_path_watch(path, watch))

    def get_children2(self, path, watch=False):
        return self.call(Op.GET_CHILDREN2, body_path_watch(path, watch))

    def get_acl(self, path):
        return self.call(Op.GET_ACL, body_path(path))

    def set_acl(self, path, acl, version=-1):
        return self.call(Op.SET_ACL, body_set_acl(path, acl, version))

    def sync(self, path):
        return self.call(Op.SYNC, body_path(path))

    def add_watch(self, path, mode):
        return self.call(Op.ADD_WATCH, body_add_watch(path, mode))

    def remove_watches(self, path, wtype):
        return self.call(Op.REMOVE_WATCHES, body_remove_watches(path, wtype))

    def check_watches(self, path, wtype):
        return self.call(Op.CHECK_WATCHES, body_remove_watches(path, wtype))

    def get_all_children_number(self, path):
        return self.call(Op.GET_ALL_CHILDREN_NUMBER, body_path(path))

    def get_ephemerals(self, prefix):
        return self.call(Op.GET_EPHEMERALS, body_path(prefix))

    def who_am_i(self):
        return self.call(Op.WHO_AM_I)

    def multi(self, ops):
        return self.call(Op.MULTI, body_multi(ops))

    def multi_read(self, ops):
        return self.call(Op.MULTI_READ, body_multi(ops))

    def close(self):
        """closeSession, then close the socket."""
        try:
            rep = self.call(Op.CLOSE_SESSION, timeout=5.0)
        except (OSError, ConnectionClosed, TimeoutError, ValueError):
            rep = None
        self.close_socket()
        return rep

    def close_socket(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
