"""Ensembles of coordination servers (3 or 5 members) for the end-to-end
tests, and a fault-injecting TCP proxy between the members.

Members are Apache ZooKeeper 3.8 (QuorumPeerMain) or runnel-coord, chosen
like the standalone servers of coordproc.py (RUNNEL_COORD_IMPL=zookeeper
puts Apache ZooKeeper in the runnel-coord slot).

Peer links and fault injection
------------------------------
Every member has its own zoo.cfg. Its own ``server.<myid>`` line names its
real peer port (ZooKeeper: quorum and election port); with ``proxies=True``
its ``server.<j>`` line for every other member j names a proxy port
P(i->j) that forwards to j's real port. A member connects to j only through
the address in its own config, so blocking P(i->j) and P(j->i) cuts the
link i-j in both directions (TCP connections between two members may be
opened by either side).

    ens = Ensemble(tmp_path, n=3, proxies=True).start()
    ens.partition([1], [2, 3])      # member ids are 1-based, as in myid
    ...
    ens.heal()

Proxy modes for a blocked link:
  * "drop"  (default) -- open connections go silent: they stay open but
    every byte is discarded in both directions, so peers notice only through
    their own timeouts (a cable pulled). New connections are refused.
  * "reset" -- open connections are closed at once; new ones are refused.
A blocked proxy stops listening (connections are refused, as by a REJECT
rule; accepting and then blackholing them instead makes Apache ZooKeeper's
followers "connect" to an unreachable old leader again and again, each time
waiting initLimit ticks). heal() closes every connection that was
blackholed (its byte stream is broken) and listens again. The members run
with reconfigEnabled=false, so ZooKeeper never learns and falls back to a
peer's real port.

Ports are taken below the kernel's ephemeral range, so that a killed
member's port is not taken by some outgoing connection before it restarts.

Also here, for the ensemble tests: kazoo clients that reconnect quickly
(kazoo_client), reading a member's whole tree under a root (member_tree,
converged_trees: full data and Stat per node, compared across members), and
a concurrent kazoo workload (Workload / Writer) that records acknowledged
and unknown-outcome writes, reply zxids and a shared register's history for
linearizability.check.
"""

import os
import random
import signal
import socket
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

import coordproc
from coordproc import CoordServer, poll_until, serving, srvr_mode, wait_for
from procutil import ephemeral_range

ZK_MAIN_STANDALONE = "org.apache.zookeeper.server.ZooKeeperServerMain"
ZK_MAIN_QUORUM = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

SERVING_MODES = ("leader", "follower")


# ------------------------------------------------------------------ ports

_PORT_LOCK = threading.Lock()
_HANDED_OUT = set()


def ensemble_port():
    """A free 127.0.0.1 port below the ephemeral range, not handed out before
    by this process."""
    lo, _ = ephemeral_range()
    lo = max(lo, 12000)
    rng = random.Random()
    with _PORT_LOCK:
        for _ in range(2000):
            port = rng.randrange(10000, lo)
            if port in _HANDED_OUT:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _HANDED_OUT.add(port)
            return port
    return coordproc.free_port()


# ------------------------------------------------------------------ proxy

def _shut(sock):
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class _Link:
    """One proxied TCP connection: a (accepted) <-> b (to the target)."""

    def __init__(self, proxy, a, b, dropping):
        self.proxy, self.a, self.b = proxy, a, b
        self.dropping = dropping
        self.closed = False

    def start(self):
        threading.Thread(target=self._pump, args=(self.a, self.b), daemon=True,
                         name="proxy-%s-up" % self.proxy.name).start()
        if self.b is not None:
            threading.Thread(target=self._pump, args=(self.b, self.a), daemon=True,
                             name="proxy-%s-down" % self.proxy.name).start()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.dropping or dst is None:
                    continue
                dst.sendall(data)
        except OSError:
            pass
        self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        _shut(self.a)
        _shut(self.b)
        self.proxy._forget(self)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target_port>; see the module
    docstring for block()/heal()."""

    def __init__(self, target_port, name="proxy", port=None, connect_grace=3.0):
        self.target_port = target_port
        self.connect_grace = connect_grace
        self.name = name
        self.mode = "pass"
        self.lock = threading.Lock()
        self.links = set()
        self.accepted = 0
        self.closed = False
        self.lsock = None
        self.port = port or ensemble_port()
        self._listen()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True, name="proxy-%s" % name)
        self.thread.start()

    def _listen(self):
        deadline = time.monotonic() + 5.0
        while True:
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                ls.bind(("127.0.0.1", self.port))
                break
            except OSError:
                ls.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        ls.listen(64)
        ls.settimeout(0.2)
        self.lsock = ls

    def _unlisten(self):
        ls, self.lsock = self.lsock, None
        if ls is not None:
            try:
                ls.close()
            except OSError:
                pass

    def _accept_loop(self):
        while not self.closed:
            ls = self.lsock
            if ls is None:
                time.sleep(0.02)
                continue
            try:
                a, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                if self.closed:
                    return
                time.sleep(0.02)
                continue
            a.settimeout(None)
            a.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.accepted += 1
            with self.lock:
                mode = self.mode
            if mode == "reset":
                _shut(a)
                continue
            threading.Thread(target=self._serve, args=(a, mode), daemon=True,
                             name="proxy-%s-conn" % self.name).start()

    def _serve(self, a, mode):
        b = None
        if mode == "pass":
            # The target may be about to listen (a leader opening its quorum
            # port just after the election): retry for a while rather than
            # close at once, which the connecting member would take as a
            # broken connection to a live peer.
            deadline = time.monotonic() + self.connect_grace
            while True:
                try:
                    b = socket.create_connection(("127.0.0.1", self.target_port), timeout=1.0)
                    b.settimeout(None)
                    b.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    break
                except OSError:
                    if self.closed or self.mode != "pass" or time.monotonic() >= deadline:
                        break
                    time.sleep(0.05)
            if b is None:
                if self.mode == "pass" or self.mode == "reset" or self.closed:
                    _shut(a)  # target down: the connecting member sees the connection close
                    return
                mode = self.mode  # blocked while connecting: blackhole it
        link = _Link(self, a, b, dropping=(mode == "drop"))
        with self.lock:
            if self.closed or self.mode == "reset":
                link.closed = True
                _shut(a)
                _shut(b)
                return
            if self.mode == "drop":
                link.dropping = True
            self.links.add(link)
        link.start()

    def _forget(self, link):
        with self.lock:
            self.links.discard(link)

    def block(self, mode="drop"):
        assert mode in ("drop", "reset"), mode
        with self.lock:
            self.mode = mode
            links = list(self.links)
            self._unlisten()   # new connections are refused
        for link in links:
            if mode == "reset":
                link.close()
            else:
                link.dropping = True

    def heal(self):
        with self.lock:
            was = self.mode
            self.mode = "pass"
            broken = [link for link in self.links if link.dropping]
        for link in broken:
            link.close()
        if was != "pass" and not self.closed:
            self._listen()

    @property
    def blocked(self):
        return self.mode != "pass"

    def close(self):
        self.closed = True
        self._unlisten()
        with self.lock:
            links = list(self.links)
        for link in links:
            link.close()

    def __repr__(self):
        return "<TcpProxy %s :%d -> :%d %s, %d open>" % (self.name, self.port, self.target_port,
                                                        self.mode, len(self.links))


# ------------------------------------------------------------------ members

class EnsembleMember(CoordServer):
    """One member: its own dataDir with myid, its own zoo.cfg with a
    server.K line for every member K (through proxies when the ensemble has
    them)."""

    def __init__(self, ensemble, myid, workdir, kind, tick_ms, extra_cfg, port):
        self.ensemble = ensemble
        self.myid = myid
        super().__init__(workdir, kind=kind, name="%s-%d" % (ensemble.name, myid),
                         tick_ms=tick_ms, extra_cfg=extra_cfg, port=port)
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write("%d\n" % myid)

    def config_items(self):
        items = super().config_items()
        ens = self.ensemble
        items["initLimit"] = str(ens.init_limit)
        items["syncLimit"] = str(ens.sync_limit)
        if self.kind == "zookeeper":
            items["reconfigEnabled"] = "false"
            items["standaloneEnabled"] = "false"
        for k in ens.ids:
            items["server.%d" % k] = ens.server_value(self.myid, k)
        items.update(self.extra_cfg)
        return items

    def command(self):
        cmd = super().command()
        if self.kind == "zookeeper":
            i = cmd.index(ZK_MAIN_STANDALONE)
            cmd[i] = ZK_MAIN_QUORUM
            # quick re-election with small ticks; election connections that
            # hang (blackholed links) give up after a second
            cmd[i - 2:i - 2] = ["-Dzookeeper.fastleader.maxNotificationInterval=1000",
                                "-Dzookeeper.cnxTimeout=1000",
                                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                                "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS"]
        return cmd

    @property
    def mode(self):
        """srvr's Mode (leader/follower/...), "not serving", or None (no answer / not running)."""
        if not self.alive():
            return None
        return srvr_mode(self.port)

    def raise_if_exited(self):
        """ServerExited (with the log's tail) if the member was started and has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise coordproc.ServerExited("member %d exited with code %s; log tail:\n%s"
                                         % (self.myid, self.proc.returncode, self.log_tail(30)))

    def serving_mode(self):
        """leader/follower when the member answers ruok and serves; else None."""
        if not self.alive():
            return None
        m = srvr_mode(self.port)
        if m in SERVING_MODES and serving(self.port):
            return m
        return None

    def __repr__(self):
        return "<member %d %s port=%d pid=%s>" % (self.myid, self.kind, self.port, self.pid)


class EnsembleNotReady(TimeoutError):
    pass


class Ensemble:
    """n members (ids 1..n) in workdir/member-<id>/.

    tick_ms: tickTime (200 ms: min/max session timeout 400/4000 ms).
    proxies: route every member's links to the others through TcpProxy.
    """

    def __init__(self, workdir, n=3, kind=None, tick_ms=coordproc.TICK_MS, proxies=False,
                 init_limit=10, sync_limit=5, extra_cfg=None, name=None):
        self.workdir = str(workdir)
        self.n = n
        self.kind = kind or ("zookeeper" if coordproc.IMPL == "zookeeper" else "runnel")
        self.name = name or ("zk" if self.kind == "zookeeper" else "runnel")
        self.ids = list(range(1, n + 1))
        self.tick_ms = tick_ms
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        # real peer ports: runnel uses one; ZooKeeper a quorum and an election port
        self.peer_ports = {k: ensemble_port() for k in self.ids}
        self.election_ports = {k: ensemble_port() for k in self.ids} if self.kind == "zookeeper" else {}
        self.client_ports = {k: ensemble_port() for k in self.ids}
        # proxies[(i, j)] = list of proxies member i uses to reach member j
        self.proxies = {}
        if proxies:
            for i in self.ids:
                for j in self.ids:
                    if i == j:
                        continue
                    ps = [TcpProxy(self.peer_ports[j], "%d->%d" % (i, j))]
                    if self.kind == "zookeeper":
                        ps.append(TcpProxy(self.election_ports[j], "%d->%d/e" % (i, j)))
                    self.proxies[(i, j)] = ps
        self.members = {}
        for k in self.ids:
            self.members[k] = EnsembleMember(self, k, os.path.join(self.workdir, "member-%d" % k),
                                             self.kind, tick_ms, extra_cfg, self.client_ports[k])

    # -- configuration
    def server_value(self, me, k):
        """The value of `server.k` in member me's zoo.cfg."""
        if k == me or (me, k) not in self.proxies:
            peer = self.peer_ports[k]
            elec = self.election_ports.get(k)
        else:
            ps = self.proxies[(me, k)]
            peer = ps[0].port
            elec = ps[1].port if len(ps) > 1 else None
        if elec is not None:
            return "127.0.0.1:%d:%d" % (peer, elec)
        return "127.0.0.1:%d" % peer

    # -- access
    def __getitem__(self, k):
        return self.members[k]

    def __iter__(self):
        return iter(self.members[k] for k in self.ids)

    @property
    def hosts(self):
        return self.hosts_of(self.ids)

    def hosts_of(self, ids):
        return ",".join("127.0.0.1:%d" % self.members[k].port for k in ids)

    def running(self):
        return [k for k in self.ids if self.members[k].alive()]

    def modes(self, ids=None):
        return {k: self.members[k].mode for k in (ids or self.ids)}

    # -- lifecycle
    def start(self, timeout=60.0):
        for m in self:
            m.start(wait=False)
        self.wait_ready(timeout=timeout)
        return self

    def wait_ready(self, ids=None, timeout=60.0):
        """Wait until every member of ids (default: every running member)
        serves, exactly one of them as leader and the others as followers.
        Returns the leader's id."""
        def ready():
            members = ids or self.running()
            for k in members:
                self.members[k].raise_if_exited()
            modes = {k: self.members[k].serving_mode() for k in members}
            leaders = [k for k, md in modes.items() if md == "leader"]
            if len(leaders) == 1 and all(md == "follower" for k, md in modes.items() if k != leaders[0]):
                return leaders[0]
            return None
        try:
            return wait_for(ready, timeout, interval=0.05, desc="ensemble ready")
        except coordproc.ServerExited:
            raise
        except TimeoutError:
            raise EnsembleNotReady("ensemble not ready within %.0fs: modes %r" % (timeout, self.modes()))

    def leader(self, timeout=30.0, ids=None):
        return self.wait_ready(ids=ids, timeout=timeout)

    def followers(self, leader=None):
        leader = leader or self.leader()
        return [k for k in self.running() if k != leader]

    def kill(self, k):
        """SIGKILL member k and reap it."""
        self.members[k].kill()

    def kill_all(self):
        """SIGKILL every running member as close to simultaneously as possible."""
        procs = [m.proc for m in self if m.alive()]
        for p in procs:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in procs:
            p.wait()

    def start_member(self, k, wait=True, timeout=60.0):
        """(Re)start member k; with wait, until it serves as leader or follower."""
        m = self.members[k]
        m.start(wait=False)
        if wait:
            def up():
                m.raise_if_exited()
                return m.serving_mode()
            try:
                wait_for(up, timeout, interval=0.05, desc="member %d serving" % k)
            except coordproc.ServerExited:
                raise
            except TimeoutError:
                raise EnsembleNotReady("member %d not serving within %.0fs: modes %r"
                                       % (k, timeout, self.modes()))
        return m

    # -- faults
    def _link_proxies(self, i, j):
        return self.proxies.get((i, j), []) + self.proxies.get((j, i), [])

    def cut(self, i, j, mode="drop"):
        assert self.proxies, "ensemble was made without proxies"
        for p in self._link_proxies(i, j):
            p.block(mode)

    def partition(self, *groups, mode="drop"):
        """Cut every link between members of different groups; members not
        named form a group of their own."""
        assert self.proxies, "ensemble was made without proxies"
        named = set(k for g in groups for k in g)
        groups = [set(g) for g in groups] + [{k} for k in self.ids if k not in named]
        where = {k: gi for gi, g in enumerate(groups) for k in g}
        for i in self.ids:
            for j in self.ids:
                if i < j and where[i] != where[j]:
                    self.cut(i, j, mode)

    def heal(self):
        for ps in self.proxies.values():
            for p in ps:
                p.heal()

    def close(self):
        # SIGCONT (a paused member could not stop) and SIGTERM all first,
        # then wait for each: the members stop in parallel
        for m in self:
            if m.alive():
                try:
                    os.kill(m.pid, signal.SIGCONT)
                    m.proc.terminate()
                except ProcessLookupError:
                    pass
        for m in self:
            m.close()
        for ps in self.proxies.values():
            for p in ps:
                p.close()

    def __repr__(self):
        return "<Ensemble %s n=%d %r>" % (self.kind, self.n, [self.members[k] for k in self.ids])


# ------------------------------------------------------------------ clients and trees

def kazoo_client(hosts, timeout=4.0, start=True, start_timeout=20.0, **kw):
    """A KazooClient that reconnects quickly (members come and go) and does
    not shuffle hosts unless asked."""
    kw.setdefault("connection_retry", dict(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5,
                                           max_jitter=0.1))
    kw.setdefault("randomize_hosts", False)
    c = KazooClient(hosts=hosts, timeout=timeout, **kw)
    if start:
        c.start(timeout=start_timeout)
    return c


def stop_client(c):
    try:
        c.stop()
    except Exception:  # noqa: BLE001 - its server may be gone
        pass
    try:
        c.close()
    except Exception:  # noqa: BLE001
        pass


def stat_key(st):
    return (st.czxid, st.mzxid, st.pzxid, st.ctime, st.mtime, st.version, st.cversion,
            st.aversion, st.ephemeralOwner, st.dataLength, st.numChildren)


STAT_FIELDS = ("czxid", "mzxid", "pzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren")


def dump_tree(client, root, sync=True, timeout=60.0):
    """{path: (data, stat_key)} for root and everything below it, read with
    pipelined requests from the member client is connected to (after a sync
    when asked). Nodes that vanish while being read are left out."""
    if sync:
        client.sync_async(root).get(timeout=timeout)
    out = {}
    level = [root]
    deadline = time.monotonic() + timeout
    while level:
        data_req = [(p, client.get_async(p)) for p in level]
        kid_req = [(p, client.get_children_async(p)) for p in level]
        nxt = []
        for p, a in data_req:
            try:
                data, st = a.get(timeout=max(0.1, deadline - time.monotonic()))
            except NoNodeError:
                continue
            out[p] = (data, stat_key(st))
        for p, a in kid_req:
            try:
                kids = a.get(timeout=max(0.1, deadline - time.monotonic()))
            except NoNodeError:
                continue
            base = p.rstrip("/")
            nxt.extend(base + "/" + k for k in sorted(kids))
        level = nxt
    return out


def member_tree(member, root, sync=True, timeout=60.0):
    """dump_tree through a fresh client connected to this member only."""
    c = kazoo_client(member.hosts, timeout=4.0, start_timeout=timeout)
    try:
        return dump_tree(c, root, sync=sync, timeout=timeout)
    finally:
        stop_client(c)


def describe_tree_diff(a, b, name_a="a", name_b="b", limit=20):
    lines = []
    for p in sorted(set(a) | set(b)):
        if p not in a:
            lines.append("only on %s: %s %r" % (name_b, p, b[p]))
        elif p not in b:
            lines.append("only on %s: %s %r" % (name_a, p, a[p]))
        elif a[p] != b[p]:
            da, sa = a[p]
            db, sb = b[p]
            what = []
            if da != db:
                what.append("data %r != %r" % (da[:40] if da else da, db[:40] if db else db))
            for f, x, y in zip(STAT_FIELDS, sa, sb):
                if x != y:
                    what.append("%s %r != %r" % (f, x, y))
            lines.append("differs %s: %s" % (p, ", ".join(what)))
        if len(lines) >= limit:
            lines.append("...")
            break
    return "\n".join(lines)


def converged_trees(ens, root, ids=None, timeout=30.0):
    """Wait until every member of ids (default: all running) holds the same
    tree under root (each read after a sync on that member); returns it.
    Raises AssertionError with the differences on timeout."""
    ids = ids or ens.running()
    last = {}

    def same():
        trees = {}
        for k in ids:
            trees[k] = member_tree(ens[k], root, sync=True, timeout=30.0)
        last.clear()
        last.update(trees)
        first = trees[ids[0]]
        return first if all(trees[k] == first for k in ids[1:]) else None

    got = poll_until(same, timeout=timeout, interval=0.5)
    if got:
        return got
    if not last:
        raise AssertionError("could not read the trees under %s from members %r" % (root, ids))
    k0 = ids[0]
    diffs = "\n".join("member %d vs member %d:\n%s" % (k0, k, describe_tree_diff(last[k0], last[k], str(k0), str(k)))
                      for k in ids[1:] if last[k] != last[k0])
    raise AssertionError("members' trees under %s differ after %.0fs:\n%s" % (root, timeout, diffs))


# ------------------------------------------------------------------ workload

class Writer(threading.Thread):
    """One kazoo client running a random mix of operations until `stop` is set:

      create   a new node <root>/nodes/<name>-<n> (unique path)
      set      setData on one of its own acknowledged nodes
      read     sync + getData of the shared register (linearizable read)
      cas      setData of the register with the version of its last read

    It records what it knows: acknowledged creates and the last acknowledged
    value of each of its nodes, writes whose outcome is unknown (connection
    loss, timeout), the zxid of every acknowledged write with its call and
    return times, the client's last seen zxid after every reply, and the
    register operations in `history` (a linearizability.History).
    """

    def __init__(self, name, hosts, root, stop, seed, history=None, register=None,
                 mix=(("create", 35), ("set", 25), ("read", 20), ("cas", 20)),
                 op_timeout=8.0, session_timeout=4.0, randomize_hosts=True):
        super().__init__(daemon=True, name="writer-%s" % name)
        self.wname, self.hosts, self.root, self.stop_ev = name, hosts, root, stop
        self.rng = random.Random(seed)
        self.history, self.register = history, register
        if register is None:
            mix = tuple((k, w) for k, w in mix if k not in ("read", "cas"))
        self.kinds = [k for k, _ in mix]
        self.weights = [w for _, w in mix]
        self.op_timeout = op_timeout
        self.session_timeout = session_timeout
        self.randomize_hosts = randomize_hosts
        self.client = None
        self.counter = 0
        self.acked = {}            # path -> last acknowledged value (create or set)
        self.maybe_created = set() # creates with unknown outcome
        self.unknown_after = {}    # path -> values sent after its last ack with unknown outcome
        self.write_zxids = []      # (call, ret, zxid, what) of acknowledged writes
        self.zxid_seen = []        # (client.last_zxid, op, server port) after every reply
        self.ack_times = []        # (call, ret) of acknowledged writes
        self.errors = []           # unexpected replies
        self.unknowns = 0
        self.reg_version = None    # version of the register at this client's last read
        self.exc = None

    # -- plumbing
    def _wait(self, async_result):
        return async_result.get(timeout=self.op_timeout)

    def _note_zxid(self, what):
        z = self.client.last_zxid
        if z:
            self.zxid_seen.append((z, what, connected_port(self.client)))

    def run(self):
        try:
            self.client = kazoo_client(self.hosts, timeout=self.session_timeout, start=False,
                                       randomize_hosts=self.randomize_hosts)
            self.client.start(timeout=30)
            while not self.stop_ev.is_set():
                self.one()
        except Exception as e:  # noqa: BLE001 - reported by check()
            self.exc = e

    def acks(self):
        return len(self.ack_times)

    def one(self):
        from kazoo.exceptions import BadVersionError, KazooException
        from kazoo.handlers.threading import KazooTimeoutError
        import linearizability as lz
        unknown_exc = (KazooException, KazooTimeoutError, OSError)
        c = self.client
        kind = self.rng.choices(self.kinds, self.weights)[0]
        if kind == "set" and not self.acked:
            kind = "create"
        self.counter += 1
        value = ("%s-%d" % (self.wname, self.counter)).encode()
        if kind == "create":
            path = "%s/nodes/%s-%06d" % (self.root, self.wname, self.counter)
            t0 = time.monotonic()
            try:
                _, st = self._wait(c.create_async(path, value, include_data=True))
            except unknown_exc as e:
                if not self._definite(e, kind, path):
                    self.maybe_created.add(path)
                    self.unknowns += 1
                return
            t1 = time.monotonic()
            self._note_zxid("create")
            self.acked[path] = value
            self.write_zxids.append((t0, t1, st.czxid, "create " + path))
            self.ack_times.append((t0, t1))
        elif kind == "set":
            path = self.rng.choice(sorted(self.acked))
            t0 = time.monotonic()
            try:
                st = self._wait(c.set_async(path, value))
            except unknown_exc as e:
                if not self._definite(e, kind, path):
                    self.unknown_after.setdefault(path, []).append(value)
                    self.unknowns += 1
                return
            t1 = time.monotonic()
            self._note_zxid("setData")
            self.acked[path] = value
            self.unknown_after.pop(path, None)
            self.write_zxids.append((t0, t1, st.mzxid, "set " + path))
            self.ack_times.append((t0, t1))
        elif kind == "read":
            op = self.history.invoke(self.wname, lz.READ)
            try:
                self._wait(c.sync_async(self.register))
                data, st = self._wait(c.get_async(self.register))
            except unknown_exc as e:
                self.history.unknown(op)
                self._definite(e, kind, self.register)
                return
            self.history.ok(op, (data, st.version))
            self._note_zxid("sync+getData")
            self.reg_version = st.version
        elif kind == "cas":
            if self.reg_version is None:
                return
            ev = self.reg_version
            op = self.history.invoke(self.wname, lz.CAS, (ev, value))
            t0 = op.call
            try:
                st = self._wait(c.set_async(self.register, value, version=ev))
            except BadVersionError:
                self.history.fail(op)
                self._note_zxid("setData(version) -> BadVersion")
                self.reg_version = None
                return
            except unknown_exc as e:
                self.history.unknown(op)
                self._definite(e, kind, self.register)
                self.reg_version = None
                return
            self.history.ok(op, ("ok", st.version))
            t1 = time.monotonic()
            self._note_zxid("setData(version)")
            self.reg_version = st.version
            self.write_zxids.append((t0, t1, st.mzxid, "cas %s v%d" % (self.register, ev)))
            self.ack_times.append((t0, t1))

    def _definite(self, e, kind, path):
        """Record replies that are not about the connection (they should not
        happen in this workload); returns True for those."""
        from kazoo.exceptions import (ConnectionLoss, SessionExpiredError, OperationTimeoutError,
                                      ConnectionClosedError, SessionMovedError, KazooException)
        transient = (ConnectionLoss, SessionExpiredError, OperationTimeoutError, ConnectionClosedError,
                     SessionMovedError)
        if isinstance(e, KazooException) and not isinstance(e, transient):
            self.errors.append((kind, path, type(e).__name__))
            return True
        return False

    def close(self):
        if self.client is not None:
            stop_client(self.client)


class Workload:
    """Several Writers against one ensemble, under <root>/nodes, with an
    optional shared register <root>/register."""

    def __init__(self, hosts, root, writers=3, register=True, seed=None, setup_client=None, **kw):
        self.root = root
        self.seed = seed if seed is not None else random.randrange(1 << 30)
        self.stop_ev = threading.Event()
        import linearizability as lz
        self.history = lz.History() if register else None
        self.register = root + "/register" if register else None
        self.init = (b"r0", 0)
        c = setup_client or kazoo_client(hosts)
        try:
            c.ensure_path(root + "/nodes")
            if register and not c.exists(self.register):
                c.create(self.register, self.init[0])
        finally:
            if setup_client is None:
                stop_client(c)
        self.writers = [Writer("w%d" % i, hosts, root, self.stop_ev, self.seed + i,
                               history=self.history, register=self.register, **kw)
                        for i in range(writers)]

    def start(self):
        for w in self.writers:
            w.start()
        return self

    def acks(self):
        return sum(w.acks() for w in self.writers)

    def wait_acks(self, n, timeout=60.0, desc=None):
        base = self.acks()
        wait_for(lambda: self.acks() >= base + n, timeout, interval=0.02,
                 desc=desc or "%d more acknowledged writes" % n)

    def first_ack_after(self, t):
        """(ret - t) of the earliest acknowledged write invoked at or after t, or None."""
        rets = [r for w in self.writers for (c0, r) in list(w.ack_times) if c0 >= t]
        return (min(rets) - t) if rets else None

    def stop(self, timeout=30.0):
        self.stop_ev.set()
        for w in self.writers:
            w.join(timeout)
        for w in self.writers:
            w.close()
        stuck = [w.wname for w in self.writers if w.is_alive()]
        assert not stuck, "writers did not stop: %s" % stuck
        for w in self.writers:
            if w.exc is not None:
                raise AssertionError("writer %s failed: %r" % (w.wname, w.exc))

    def summary(self):
        return ", ".join("%s: %d acked, %d unknown, %d errors" % (w.wname, w.acks(), w.unknowns, len(w.errors))
                         for w in self.writers)

    # -- checks (after stop())
    def check_no_errors(self):
        errs = [(w.wname,) + e for w in self.writers for e in w.errors]
        assert not errs, "unexpected error replies: %s" % errs[:20]

    def check_tree(self, tree):
        """Every acknowledged create is in tree (a dump_tree result) with its
        last acknowledged value, or with a value written after it whose
        outcome is unknown; nothing is there that nobody tried to create."""
        problems = []
        nodes = self.root + "/nodes"
        present = {p for p in tree if p.startswith(nodes + "/")}
        allowed = set()
        for w in self.writers:
            allowed |= set(w.acked) | w.maybe_created
            for path, value in w.acked.items():
                if path not in tree:
                    problems.append("acknowledged create lost: %s" % path)
                    continue
                ok_values = [value] + w.unknown_after.get(path, [])
                if tree[path][0] not in ok_values:
                    problems.append("%s holds %r, expected the last acknowledged value %r%s"
                                    % (path, tree[path][0], value,
                                       " or one of %r" % ok_values[1:] if ok_values[1:] else ""))
        phantoms = sorted(present - allowed)
        if phantoms:
            problems.append("%d nodes nobody tried to create, e.g. %s" % (len(phantoms), phantoms[:5]))
        assert not problems, "\n".join(problems[:30])

    def check_zxids(self):
        """Each client's last seen zxid never goes down; acknowledged writes
        have distinct zxids in real-time order: a write acknowledged before
        another was invoked has the smaller zxid."""
        problems = []
        for w in self.writers:
            seen = w.zxid_seen
            for (a, wa, pa), (b, wb, pb) in zip(seen, seen[1:]):
                if b < a:
                    problems.append("%s: last zxid went down from 0x%x (reply to %s, server port %s) to 0x%x "
                                    "(reply to the next %s, server port %s)" % (w.wname, a, wa, pa, b, wb, pb))
                    break
        writes = sorted((x for w in self.writers for x in w.write_zxids), key=lambda x: x[0])
        zx = [x[2] for x in writes]
        if len(set(zx)) != len(zx):
            problems.append("%d acknowledged writes share a zxid" % (len(zx) - len(set(zx))))
        by_ret = sorted(writes, key=lambda x: x[1])
        i = 0
        max_done = None  # the write with the largest zxid among those returned before the current call
        for call, ret, z, what in writes:
            while i < len(by_ret) and by_ret[i][1] < call:
                if max_done is None or by_ret[i][2] > max_done[2]:
                    max_done = by_ret[i]
                i += 1
            if max_done is not None and z <= max_done[2]:
                problems.append("%s (zxid 0x%x) was invoked after %s (zxid 0x%x) was acknowledged"
                                % (what, z, max_done[3], max_done[2]))
                if len(problems) > 10:
                    break
        assert not problems, "\n".join(problems)

    def check_linearizable(self):
        import linearizability as lz
        res = lz.check(self.history.ops(), self.init)
        assert res.ok, res.explain()
        return res


def connected_port(client):
    """The server port a KazooClient is connected to (kazoo internals; None if unknown)."""
    try:
        return client._connection._socket.getpeername()[1]
    except Exception:  # noqa: BLE001
        return None


def run_checks(*checks):
    """Run every (name, fn) check and fail once with all their messages, so
    that one broken property does not hide another."""
    failures = []
    for name, fn in checks:
        try:
            fn()
        except AssertionError as e:
            failures.append("[%s] %s" % (name, e))
    assert not failures, "\n\n".join(failures)


def create_eventually(client, path, data=b"", timeout=30.0, attempt_timeout=2.0):
    """Create path, retrying through connection loss until timeout; a
    NodeExists after an attempt with unknown outcome counts as created.
    Returns the seconds it took."""
    from kazoo.exceptions import NodeExistsError
    t0 = time.monotonic()
    tried = [False]

    def attempt():
        try:
            client.create_async(path, data).get(timeout=attempt_timeout)
            return True
        except NodeExistsError:
            if tried[0]:
                return True
            raise
        except Exception:
            tried[0] = True
            raise
    wait_for(attempt, timeout, interval=0.05, desc="creating %s" % path)
    return time.monotonic() - t0
