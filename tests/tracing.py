"""Normalised traces for differential tests (Apache ZooKeeper vs runnel-coord).

A trace is a list of (label, value) pairs. Values are normalised so that
what legitimately differs between two servers (zxid values, times, session
ids) is replaced by what must not differ:

* zxids become ranks ("z0", "z1", ...) of the distinct zxids seen in the
  trace, so equal zxids (one multi), their order and pzxid/mzxid relations
  are still compared;
* ctime/mtime become "now" (a millisecond time within 10 minutes of the
  wall clock), 0, or the raw value when neither;
* session ids (ephemeralOwner) become the label of the client that owns
  them ("A", "B", ...), 0 stays 0, any other value is kept as hex
  (containers and TTL nodes report 0 to clients in ZooKeeper).
"""

import hashlib
import pprint
import threading
import time

from kazoo.exceptions import KazooException
from kazoo.protocol.states import ZnodeStat

import zkproto


class ZX:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


class Trace:
    def __init__(self, root, sessions=None):
        self.root = root
        self.sessions = dict(sessions or {})  # session id -> label
        self.items = []

    def session(self, session_id, label):
        self.sessions[session_id] = label

    # ---- recording
    def add(self, label, value):
        self.items.append((label, self.norm(value)))

    def call(self, label, fn, *a, **kw):
        """Run fn, record ("ok", result) or ("err", ExceptionClassName)."""
        try:
            v = fn(*a, **kw)
        except KazooException as e:
            self.add(label, ("err", type(e).__name__))
            return e
        except (ValueError, TypeError) as e:  # client-side validation
            self.add(label, ("client-err", type(e).__name__))
            return e
        self.add(label, ("ok", v))
        return v

    def raw(self, label, reply, decode=None):
        """Record a zkproto.Reply: error name, and decoded payload on success."""
        if reply.err != 0:
            self.add(label, ("err", reply.error))
            return None
        v = decode(reply.reader()) if decode else None
        self.add(label, ("ok", v))
        return v

    # ---- normalisation
    def rel(self, path):
        if isinstance(path, str) and (path == self.root or path.startswith(self.root + "/")):
            return "<root>" + path[len(self.root):]
        return path

    def norm_stat(self, s):
        eo = s.ephemeralOwner
        if eo == 0:
            owner = 0
        elif eo in self.sessions:
            owner = self.sessions[eo]
        else:
            owner = "0x%x" % (eo & 0xFFFFFFFFFFFFFFFF)
        return {
            "czxid": ZX(s.czxid), "mzxid": ZX(s.mzxid), "pzxid": ZX(s.pzxid),
            "ctime": self.norm_time(s.ctime), "mtime": self.norm_time(s.mtime),
            "version": s.version, "cversion": s.cversion, "aversion": s.aversion,
            "ephemeralOwner": owner, "dataLength": s.dataLength, "numChildren": s.numChildren,
        }

    @staticmethod
    def norm_time(ms):
        if ms == 0:
            return 0
        if abs(ms / 1000.0 - time.time()) < 600:
            return "now"
        return ms

    def norm(self, v):
        if isinstance(v, (ZnodeStat, zkproto.Stat)):
            return self.norm_stat(v)
        if isinstance(v, str):
            return self.rel(v)
        if isinstance(v, bytes):
            if len(v) <= 64:
                return v
            return ("bytes", len(v), hashlib.sha1(v).hexdigest()[:12])
        if isinstance(v, zkproto.Event):
            return ("event", v.type_name, zkproto.KEEPER_STATES.get(v.state, v.state), self.rel(v.path))
        if isinstance(v, BaseException):
            return ("exc", type(v).__name__)
        if isinstance(v, dict):
            return {k: self.norm(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return type(v)(self.norm(x) for x in v) if not hasattr(v, "_fields") else tuple(self.norm(x) for x in v)
        return v

    def finish(self):
        """Replace ZX markers by ranks; returns a list of (label, value)."""
        seen = set()

        def collect(v):
            if isinstance(v, ZX):
                seen.add(v.v)
            elif isinstance(v, dict):
                for x in v.values():
                    collect(x)
            elif isinstance(v, (list, tuple)):
                for x in v:
                    collect(x)

        collect(self.items)
        ranks = {z: "z%d" % i for i, z in enumerate(sorted(seen))}

        def sub(v):
            if isinstance(v, ZX):
                return ranks[v.v]
            if isinstance(v, dict):
                return {k: sub(x) for k, x in v.items()}
            if isinstance(v, list):
                return [sub(x) for x in v]
            if isinstance(v, tuple):
                return tuple(sub(x) for x in v)
            return v

        return [(label, sub(v)) for label, v in self.items]


def render(items):
    return ["%s: %s" % (label, pprint.pformat(v, width=100000, sort_dicts=True)) for label, v in items]


class KazooEvents:
    """Collects kazoo watch callbacks (WatchedEvent) in order."""

    def __init__(self, client, trace):
        self.client = client
        self.trace = trace
        self.lock = threading.Lock()
        self.events = []

    def watcher(self, name):
        def cb(ev):
            with self.lock:
                self.events.append((name, ev.type, ev.state, self.trace.rel(ev.path)))
        return cb

    def drain(self, client=None):
        """Make sure every event the server sent before now has been delivered:
        a sync round trip (events precede later replies on the connection), then
        a marker through kazoo's callback queue (callbacks run in order)."""
        client = client or self.client
        client.sync("/")
        done = threading.Event()
        from kazoo.protocol.states import Callback
        client.handler.dispatch_callback(Callback("watch", done.set, ()))
        done.wait(10)

    def take(self, expect=None, timeout=5.0):
        """Wait until at least `expect` events arrived (or timeout), drain, return and clear."""
        if expect:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with self.lock:
                    if len(self.events) >= expect:
                        break
                time.sleep(0.01)
        self.drain()
        with self.lock:
            ev, self.events = self.events, []
        return ev
