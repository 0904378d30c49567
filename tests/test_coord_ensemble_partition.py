"""Minority partitions through the peer proxies (ensemble.TcpProxy).

3 members split 1|2 and 5 members split 2|3: clients of the minority
members never get a write acknowledged (over an existing kazoo session, and
over fresh raw sessions), the majority elects a leader if it needs one and
goes on writing, and after healing every member holds the same tree, with
the majority's writes and none of the minority's attempts.
"""

import threading
import time

import pytest

from coordproc import wait_for
from ensemble import converged_trees, create_eventually, kazoo_client, stop_client
from zkproto import ConnectionClosed, Op, RawClient, SessionExpired, body_create

pytestmark = [pytest.mark.ensemble, pytest.mark.usefixtures("ensemble_supported")]

MAJORITY_WRITES = 50
MIN_PARTITION_S = 4.0     # minority clients keep trying at least this long


class MinorityWriter(threading.Thread):
    """Tries creates on one minority member until stopped: over a kazoo
    session opened before the partition, and over fresh raw sessions.
    Any acknowledged create is a failure."""

    def __init__(self, member, client, root, stop):
        super().__init__(daemon=True, name="minority-%d" % member.myid)
        self.member, self.client, self.root, self.stop_ev = member, client, root, stop
        self.acked = []
        self.attempts = 0
        self.outcomes = {}

    def note(self, what):
        self.outcomes[what] = self.outcomes.get(what, 0) + 1

    def run(self):
        i = 0
        while not self.stop_ev.is_set():
            i += 1
            path = "%s/minority/m%d-%d" % (self.root, self.member.myid, i)
            t0 = time.monotonic()
            self.attempts += 1
            try:
                self.client.create_async(path, b"x").get(timeout=1.5)
                self.acked.append(("kazoo", path, t0, time.monotonic()))
            except Exception as e:  # noqa: BLE001 - any failure is fine here
                self.note("kazoo " + type(e).__name__)
            if self.stop_ev.is_set():
                break
            self.attempts += 1
            r = None
            try:
                r = RawClient(self.member.port, timeout_ms=2000, sock_timeout=1.5)
                rep = r.call(Op.CREATE, body_create(path + "-raw", b"y"), timeout=1.5)
                if rep.err == 0:
                    self.acked.append(("raw", path + "-raw", t0, time.monotonic()))
                else:
                    self.note("raw " + rep.error)
            except (OSError, ConnectionClosed, SessionExpired, TimeoutError, ValueError) as e:
                self.note("raw " + type(e).__name__)
                self.stop_ev.wait(0.05)
            finally:
                if r is not None:
                    r.close_socket()


# mode "drop" silences the open links (peers notice only by their own
# timeouts), "reset" closes them; both refuse new connections (ensemble.py).
CASES = [
    pytest.param(3, "leader", "drop", id="3-members-1|2-leader-cut-off"),
    pytest.param(3, "follower", "reset", id="3-members-1|2-follower-cut-off-reset"),
    pytest.param(5, "leader", "drop", id="5-members-2|3-leader-cut-off"),
    pytest.param(5, "follower", "reset", id="5-members-2|3-followers-cut-off-reset"),
]
MAJORITY_BOUND_S = 30.0


@pytest.mark.parametrize("n,who,mode", CASES)
def test_minority_partition(make_ensemble, root, n, who, mode):
    ens = make_ensemble(n, proxies=True)
    leader = ens.leader()
    followers = ens.followers(leader)
    size = (n - 1) // 2
    minority = ([leader] + followers[:size - 1]) if who == "leader" else followers[:size]
    majority = [k for k in ens.ids if k not in minority]

    setup = kazoo_client(ens.hosts)
    try:
        setup.ensure_path(root + "/majority")
        setup.ensure_path(root + "/minority")
        setup.create(root + "/before", b"")
    finally:
        stop_client(setup)
    min_clients = {k: kazoo_client(ens[k].hosts, timeout=4.0) for k in minority}
    maj = kazoo_client(ens.hosts_of(majority), timeout=4.0)
    stop = threading.Event()
    writers = []
    acked_majority = []
    try:
        for k in minority:  # their sessions work before the partition
            min_clients[k].sync(root)
            assert min_clients[k].exists(root + "/before")

        t_part = time.monotonic()
        ens.partition(minority, majority, mode=mode)
        writers = [MinorityWriter(ens[k], min_clients[k], root, stop) for k in minority]
        for w in writers:
            w.start()

        # the majority goes on (electing a leader among itself if it must)
        create_eventually(maj, root + "/majority/first", timeout=MAJORITY_BOUND_S)
        resumed = time.monotonic() - t_part
        acked_majority.append(root + "/majority/first")
        new_leader = ens.leader(ids=majority, timeout=MAJORITY_BOUND_S)
        for i in range(MAJORITY_WRITES):
            acked_majority.append(maj.create_async(root + "/majority/n-%03d" % i, b"%d" % i).get(timeout=10))
        wait_for(lambda: time.monotonic() - t_part >= MIN_PARTITION_S and all(w.attempts >= 4 for w in writers),
                 MIN_PARTITION_S + 30, interval=0.05,
                 desc="minority clients trying for %.0fs and 4 times each" % MIN_PARTITION_S)
        minority_modes = ens.modes(minority)
        stop.set()
        for w in writers:
            w.join(10)
        assert not any(w.is_alive() for w in writers), "minority writers did not stop"
    except BaseException:
        stop_client(maj)
        raise
    finally:
        stop.set()
        for c in min_clients.values():
            stop_client(c)   # before healing: nothing queued may reach the healed member

    for w in writers:
        assert not w.acked, ("member %d acknowledged writes while cut off from the majority: %s"
                             % (w.member.myid, w.acked[:5]))
        assert w.attempts >= 2, "minority writer %d hardly tried (%d attempts)" % (w.member.myid, w.attempts)

    stop_client(maj)
    ens.heal()
    ens.wait_ready(timeout=60)
    # writes work everywhere again, through each member
    for k in ens.ids:
        c = kazoo_client(ens[k].hosts, timeout=4.0)
        try:
            create_eventually(c, root + "/majority/after-%d" % k, timeout=30)
            acked_majority.append(root + "/majority/after-%d" % k)
        finally:
            stop_client(c)
    tree = converged_trees(ens, root, timeout=30)
    missing = [p for p in acked_majority if p not in tree]
    assert not missing, "acknowledged majority writes missing after healing: %s" % missing[:10]
    leaked = sorted(p for p in tree if p.startswith(root + "/minority/"))
    assert not leaked, "writes tried on the minority appeared after healing: %s" % leaked[:10]
    print("minority %s (%s), majority %s: majority wrote again after %.2fs (leader %d -> %d); "
          "minority srvr modes %s; minority attempts %s"
          % (minority, mode, majority, resumed, leader, new_leader, minority_modes,
             {w.member.myid: w.outcomes for w in writers}))
