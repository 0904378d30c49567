"""Leader failover in a 3-member ensemble.

* Baseline: the concurrent workload below with no faults at all.
* The leader is killed with SIGKILL (and restarted) a few times while
  several kazoo clients create nodes, set data and compare-and-set a shared
  register: afterwards every member holds the same tree, every acknowledged
  write is in it, zxids only grow, writes resumed within a bound after
  every kill, and the register's history is linearizable.
* Many sessions (RUNNEL_ENSEMBLE_MANY_WRITERS, default 64) write at once
  through all three members, so the leader groups their proposals into
  shared Raft entries, while the leader is killed: every acknowledged write
  is on every member and acknowledged writes have distinct zxids in
  real-time order (so each session's writes are in its order).
* A client connected to a follower keeps its session, its ephemeral node
  and its watches while the leader is killed.

Seed of the workload: RUNNEL_ENSEMBLE_SEED (printed on failure).
"""

import os
import socket
import time

import pytest
from kazoo.protocol.states import KazooState

import zkproto
from coordproc import poll_until, wait_for
from ensemble import Workload, connected_port, converged_trees, kazoo_client, run_checks, stop_client
from zkproto import ConnectionClosed, CreateMode, Op, RawClient

pytestmark = [pytest.mark.ensemble, pytest.mark.usefixtures("ensemble_supported")]

KILLS = 3
WRITERS = 4
# Writes must resume this soon after the leader is killed (tickTime 200 ms;
# the runnel-coord target is ~2 s with the default tickTime of 2000 ms).
RESUME_BOUND_S = float(os.environ.get("RUNNEL_ENSEMBLE_RESUME_S", "6"))
MANY_WRITERS = int(os.environ.get("RUNNEL_ENSEMBLE_MANY_WRITERS", "64"))


def test_concurrent_workload_without_faults(make_ensemble, root):
    """Baseline for the failover test: the same workload with no faults.
    A failure here is a steady-state bug, not a failover bug."""
    ens = make_ensemble(3)
    seed = int(os.environ.get("RUNNEL_ENSEMBLE_SEED", "0")) or int(time.time())
    wl = Workload(ens.hosts, root, writers=WRITERS, seed=seed).start()
    try:
        wl.wait_acks(600, timeout=120)
    finally:
        wl.stop()
    print("seed %d; %s" % (seed, wl.summary()))
    tree = converged_trees(ens, root, timeout=30)
    run_checks(("no unexpected error replies", wl.check_no_errors),
               ("acknowledged writes on every member", lambda: wl.check_tree(tree)),
               ("zxids only grow", wl.check_zxids),
               ("register history linearizable", wl.check_linearizable))


def test_leader_sigkill_under_load(make_ensemble, root):
    ens = make_ensemble(3)
    seed = int(os.environ.get("RUNNEL_ENSEMBLE_SEED", "0")) or int(time.time())
    wl = Workload(ens.hosts, root, writers=WRITERS, seed=seed).start()
    resumes = []
    try:
        wl.wait_acks(100, timeout=60)
        for _ in range(KILLS):
            leader = ens.leader()
            t_kill = time.monotonic()
            ens.kill(leader)
            got = poll_until(lambda: wl.first_ack_after(t_kill) is not None, timeout=RESUME_BOUND_S + 20,
                             interval=0.01)
            took = wl.first_ack_after(t_kill)
            resumes.append(took)
            assert got, "no write was acknowledged within %.0fs after killing leader %d (%s)" % (
                RESUME_BOUND_S + 20, leader, wl.summary())
            assert took <= RESUME_BOUND_S, (
                "writes resumed %.2fs after killing leader %d (bound %.1fs)" % (took, leader, RESUME_BOUND_S))
            wl.wait_acks(100, timeout=60, desc="100 writes with member %d down" % leader)
            ens.start_member(leader)
            ens.wait_ready()
            wl.wait_acks(50, timeout=60, desc="50 writes after member %d rejoined" % leader)
    finally:
        wl.stop()
    print("seed %d; resumed after %s s; %s" % (seed, ["%.2f" % t for t in resumes], wl.summary()))
    tree = converged_trees(ens, root, timeout=30)
    results = {}

    def linearizable():
        results["lin"] = wl.check_linearizable()
        reads = sum(1 for op in wl.history.ops() if op.kind == "read")
        assert reads > 20, "too few register reads to say anything (%d)" % reads

    run_checks(("no unexpected error replies", wl.check_no_errors),
               ("acknowledged writes on every member", lambda: wl.check_tree(tree)),
               ("zxids only grow", wl.check_zxids),
               ("register history linearizable", linearizable))
    print("register history: %s" % results["lin"].explain())


def test_many_sessions_through_all_members_leader_sigkill(make_ensemble, root):
    ens = make_ensemble(3)
    seed = int(os.environ.get("RUNNEL_ENSEMBLE_SEED", "0")) or int(time.time())
    wl = Workload(ens.hosts, root, writers=MANY_WRITERS, register=False, seed=seed).start()
    try:
        wl.wait_acks(500, timeout=120)
        leader = ens.leader()
        t_kill = time.monotonic()
        ens.kill(leader)
        got = poll_until(lambda: wl.first_ack_after(t_kill) is not None, timeout=RESUME_BOUND_S + 20,
                         interval=0.01)
        assert got, "no write was acknowledged within %.0fs after killing leader %d (%s)" % (
            RESUME_BOUND_S + 20, leader, wl.summary())
        wl.wait_acks(300, timeout=120, desc="300 writes with member %d down" % leader)
        ens.start_member(leader)
        ens.wait_ready()
        wl.wait_acks(300, timeout=120, desc="300 writes after member %d rejoined" % leader)
    finally:
        wl.stop()
    print("seed %d; %s" % (seed, wl.summary()))
    tree = converged_trees(ens, root, timeout=30)
    run_checks(("no unexpected error replies", wl.check_no_errors),
               ("acknowledged writes on every member", lambda: wl.check_tree(tree)),
               ("zxids only grow and are distinct in real-time order", wl.check_zxids))


class RawSession:
    """A raw-protocol session that survives losing its member: it pings to
    stay alive and, when its connection breaks, resumes the same session on
    another member (sessionId, password, lastZxidSeen) and re-registers its
    watches with setWatches, as ZooKeeper's own clients do."""

    def __init__(self, ports, timeout_ms=4000):
        self.ports = list(ports)
        self.timeout_ms = timeout_ms
        self.r = RawClient(self.ports[0], timeout_ms=timeout_ms, sock_timeout=3.0)
        self.session_id, self.passwd = self.r.session_id, self.r.passwd
        self.data_watches, self.child_watches = [], []
        self.events = []
        self.resumes = []   # ports it resumed on

    def watch_data(self, path):
        rep = self.r.get_data(path, watch=True)
        assert rep.err == 0, rep
        self.data_watches.append(path)

    def watch_children(self, path):
        rep = self.r.get_children(path, watch=True)
        assert rep.err == 0, rep
        self.child_watches.append(path)

    def _collect(self):
        self.events.extend(self.r.take_events())

    def alive(self):
        """Ping; on a broken connection resume elsewhere. Raises SessionExpired."""
        try:
            self.r.ping()
            self._collect()
            return True
        except (OSError, ConnectionClosed, TimeoutError, ValueError):
            self._collect()
            self.r.close_socket()
        deadline = time.monotonic() + self.timeout_ms / 1000.0 * 3
        while time.monotonic() < deadline:
            for port in self.ports:
                try:
                    r = RawClient(port, timeout_ms=self.timeout_ms, session_id=self.session_id,
                                  passwd=self.passwd, last_zxid=self.r.last_zxid, sock_timeout=3.0)
                except (OSError, ConnectionClosed, ValueError):
                    continue
                assert r.session_id == self.session_id
                rel = self.r.last_zxid
                self.r = r
                self.resumes.append(port)
                r.send(Op.SET_WATCHES, zkproto.body_set_watches(rel, data=self.data_watches,
                                                                 child=self.child_watches),
                       xid=zkproto.SET_WATCHES_XID)
                while True:
                    f = r.read_frame(timeout=5)
                    if isinstance(f, zkproto.Reply) and f.xid == zkproto.SET_WATCHES_XID:
                        assert f.err == 0, f
                        break
                self._collect()
                return False
            time.sleep(0.05)
        raise AssertionError("could not resume session 0x%x on any of %s" % (self.session_id, self.ports))

    def wait_events(self, n, timeout=15.0):
        deadline = time.monotonic() + timeout
        while len(self.events) < n and time.monotonic() < deadline:
            self.alive()
            try:
                self.r.read_frame(timeout=0.2)
            except socket.timeout:
                pass
            except (OSError, ConnectionClosed, ValueError):
                pass
            self._collect()
        return self.events

    def close(self):
        self.r.close()


def test_session_survives_leader_failover(make_ensemble, root):
    """A kazoo client and a raw client, both on a follower, keep their
    sessions, ephemeral nodes and (raw client: server-side) watches while
    the leader is killed; the data and child watches set before the
    failover fire for changes made after it."""
    ens = make_ensemble(3)
    leader = ens.leader()
    follower, other = ens.followers(leader)
    # hosts are tried in order: the follower first
    c = kazoo_client(ens.hosts_of([follower, other, leader]), timeout=4.0)
    states = []
    c.add_listener(states.append)
    raw = None
    other_client = None
    try:
        assert connected_port(c) in (None, ens[follower].port), "not connected to the follower"
        sid = c.client_id[0]
        c.ensure_path(root)
        c.create(root + "/eph", b"mine", ephemeral=True)
        c.create(root + "/watched", b"0")
        raw = RawSession([ens[follower].port, ens[other].port])
        assert raw.r.create(root + "/raw-eph", b"", CreateMode.EPHEMERAL).err == 0
        raw.watch_data(root + "/watched")
        raw.watch_children(root)

        ens.kill(leader)
        ens.leader(ids=[follower, other], timeout=30)
        raw.alive()
        other_client = kazoo_client(ens.hosts_of([other, follower]), timeout=4.0)
        wait_for(lambda: other_client.set(root + "/watched", b"1"), 20, desc="write after failover")
        other_client.create(root + "/new", b"")
        evs = raw.wait_events(2, timeout=15)
        got = sorted((e.type_name, e.path) for e in evs)
        assert got == [("NodeChildrenChanged", root), ("NodeDataChanged", root + "/watched")], (
            "watches set before the failover: %s (resumed on %s)" % (got, raw.resumes))

        # both sessions live on through more than a session timeout
        deadline = time.monotonic() + 6.0
        while time.monotonic() < deadline:
            raw.alive()
            other_client.sync(root)
            st = other_client.exists(root + "/eph")
            assert st is not None, "ephemeral node of the follower's kazoo client vanished after the failover"
            assert st.ephemeralOwner == sid
            st = other_client.exists(root + "/raw-eph")
            assert st is not None, "ephemeral node of the raw session vanished after the failover"
            assert st.ephemeralOwner == raw.session_id
            time.sleep(0.25)
        assert c.client_id[0] == sid, "the kazoo client got a new session"
        assert KazooState.LOST not in states, "the kazoo session was lost: %s" % states
        assert c.get(root + "/eph")[0] == b"mine"

        # the old leader comes back as a follower and sees the same
        ens.start_member(leader)
        ens.wait_ready()
        raw.alive()
        probe = kazoo_client(ens[leader].hosts, timeout=4.0)
        try:
            probe.sync(root)
            st = probe.exists(root + "/eph")
            assert st is not None and st.ephemeralOwner == sid
            st = probe.exists(root + "/raw-eph")
            assert st is not None and st.ephemeralOwner == raw.session_id
        finally:
            stop_client(probe)
        c.create(root + "/eph2", b"", ephemeral=True)
        assert KazooState.LOST not in states
        print("raw session resumed on %s; kazoo states %s" % (raw.resumes or "its own connection", states))
    finally:
        if raw is not None:
            raw.close()
        if other_client is not None:
            stop_client(other_client)
        stop_client(c)
