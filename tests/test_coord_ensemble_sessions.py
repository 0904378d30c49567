"""Session expiry in a 3-member ensemble.

A kazoo client in its own process, connected to a follower, owns two
ephemeral nodes. It is SIGSTOPped past its session timeout: the ensemble
(its leader) expires the session and deletes both nodes exactly once, and
watchers connected to every member see NodeDeleted / NodeChildrenChanged;
the same session can't be resumed on any member; the resumed client
process gets SESSION_EXPIRED (kazoo: state LOST).
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from coordproc import wait_for
from ensemble import kazoo_client, stop_client
from zkproto import AddWatchMode, ConnectionClosed, RawClient, SessionExpired

pytestmark = [pytest.mark.ensemble, pytest.mark.usefixtures("ensemble_supported")]

SESSION_TIMEOUT_S = 2.0

CHILD = r'''
import sys, time
from kazoo.client import KazooClient
hosts, root, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
c = KazooClient(hosts=hosts, timeout=timeout, randomize_hosts=False,
                connection_retry=dict(max_tries=-1, delay=0.05, backoff=1.5, max_delay=0.5))
c.add_listener(lambda s: print("STATE", s, flush=True))
c.start(timeout=20)
sid, passwd = c.client_id
c.create(root + "/eph-a", b"a", ephemeral=True)
c.create(root + "/eph-b", b"b", ephemeral=True)
print("READY %d %s" % (sid, passwd.hex()), flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "session":
        print("SESSION %d" % (c.client_id[0] if c.client_id else 0), flush=True)
    elif cmd == "quit":
        break
c.stop()
'''


class Child:
    def __init__(self, hosts, root):
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, hosts, root, str(SESSION_TIMEOUT_S)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def expect(self, prefix, timeout=30.0):
        deadline = time.monotonic() + timeout
        while True:
            for line in self.seen:
                if line.startswith(prefix):
                    self.seen.remove(line)
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("client process: no %r line within %.0fs (got %s; stderr: %s)"
                                     % (prefix, timeout, self.seen, self._stderr()))
            try:
                self.seen.append(self.lines.get(timeout=left))
            except queue.Empty:
                pass

    def _stderr(self):
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read()[-2000:]

    def send(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            try:
                self.send("quit")
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class Watcher:
    """Raw sessions on one member: one with a persistent recursive watch on
    root (counts every event), one with one-shot watches (child watch on
    root, exists watches on the ephemeral nodes)."""

    def __init__(self, member, root, paths):
        self.member = member
        self.rec = RawClient(member.port, timeout_ms=4000)
        rep = self.rec.add_watch(root, AddWatchMode.PERSISTENT_RECURSIVE)
        assert rep.err == 0, rep
        self.one = RawClient(member.port, timeout_ms=4000)
        self.one.sync(root)
        assert self.one.get_children(root, watch=True).err == 0
        for p in paths:
            rep = self.one.exists(p, watch=True)
            assert rep.err == 0, "member %d does not see %s: %s" % (member.myid, p, rep)

    def pump(self):
        for r in (self.rec, self.one):
            r.ping()  # keeps the session alive; events arriving meanwhile are kept

    def events(self):
        return ([e.key() for e in self.rec.events], [e.key() for e in self.one.events])

    def close(self):
        for r in (self.rec, self.one):
            try:
                r.close()
            except (OSError, ConnectionClosed):
                pass


def test_stopped_client_session_expires_once(make_ensemble, root):
    ens = make_ensemble(3)
    leader = ens.leader()
    follower = ens.followers(leader)[0]
    setup = kazoo_client(ens.hosts)
    setup.ensure_path(root)
    stop_client(setup)
    eph = [root + "/eph-a", root + "/eph-b"]
    child = Child(ens.hosts_of([follower] + [k for k in ens.ids if k != follower]), root)
    watchers = []
    checker = None
    try:
        ready = child.expect("READY", timeout=30)
        _, sid, pw = ready.split()
        sid, passwd = int(sid), bytes.fromhex(pw)
        watchers = [Watcher(m, root, eph) for m in ens]
        checker = kazoo_client(ens.hosts)
        before = checker.exists(root)
        for p in eph:
            st = checker.exists(p)
            assert st is not None and st.ephemeralOwner == sid

        t_stop = time.monotonic()
        os.kill(child.proc.pid, signal.SIGSTOP)

        want_rec = sorted([("NodeDeleted", eph[0]), ("NodeDeleted", eph[1])])
        want_one = sorted([("NodeDeleted", eph[0]), ("NodeDeleted", eph[1]), ("NodeChildrenChanged", root)])

        def all_seen():
            for w in watchers:
                w.pump()
            return all(len(w.events()[0]) >= len(want_rec) and len(w.events()[1]) >= len(want_one)
                       for w in watchers)

        wait_for(all_seen, timeout=SESSION_TIMEOUT_S * 4 + 20, interval=0.1,
                 desc="every member's watchers seeing the ephemeral nodes deleted")
        expired_after = time.monotonic() - t_stop
        # the client pinged up to a third of the timeout before it stopped
        assert expired_after >= SESSION_TIMEOUT_S * 0.5, (
            "nodes deleted %.2fs after SIGSTOP, before the %.1fs session timeout" % (expired_after, SESSION_TIMEOUT_S))
        # everything the members sent up to now has arrived (sync round trip)
        for w in watchers:
            w.rec.sync(root)
            w.one.sync(root)
        for w in watchers:
            rec, one = w.events()
            assert sorted(rec) == want_rec, "member %d, persistent recursive watch: %s" % (w.member.myid, rec)
            assert sorted(one) == want_one, "member %d, one-shot watches: %s" % (w.member.myid, one)

        # deleted exactly once, identically on every member: the parent's
        # cversion went up by 2 (two deletes), and all members agree on its stat
        stats = {}
        for m in ens:
            c = kazoo_client(m.hosts)
            try:
                c.sync(root)
                stats[m.myid] = c.exists(root)
                assert c.get_children(root) == [], "member %d still lists %s" % (m.myid, c.get_children(root))
            finally:
                stop_client(c)
        assert len({(s.cversion, s.pzxid, s.numChildren) for s in stats.values()}) == 1, stats
        st = stats[leader]
        assert st.cversion == before.cversion + 2, (before, st)
        assert st.numChildren == 0

        # the session is gone on every member
        for m in ens:
            with pytest.raises(SessionExpired):
                RawClient(m.port, session_id=sid, passwd=passwd, timeout_ms=4000).close()

        # the client process, resumed, learns that its session expired
        os.kill(child.proc.pid, signal.SIGCONT)
        child.expect("STATE LOST", timeout=30)
        for p in eph:
            checker.sync(root)
            assert checker.exists(p) is None, "%s came back after the owner resumed" % p
        print("session 0x%x (timeout %.1fs) expired %.2fs after SIGSTOP" % (sid, SESSION_TIMEOUT_S, expired_after))
    finally:
        if checker is not None:
            stop_client(checker)
        for w in watchers:
            w.close()
        child.close()
