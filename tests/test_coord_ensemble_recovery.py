"""Recovery of a 3-member ensemble.

* Whole-ensemble crash: every member is SIGKILLed at once while kazoo
  clients write, then all are restarted (twice): every acknowledged write
  survives, nothing appears that nobody wrote, and all members hold the
  same tree (an unacknowledged write is on all of them or on none).
* Catch-up: a member is stopped, 5,000 small creates (and some setData and
  deletes) are done without it, and it is restarted: it serves the same
  tree within a bound (runnel-coord sends it a snapshot; from outside we
  only see that it converges).
"""

import os
import time

import pytest

from coordproc import wait_for
from ensemble import (Workload, converged_trees, describe_tree_diff, kazoo_client, member_tree, run_checks,
                      stop_client)

pytestmark = [pytest.mark.ensemble, pytest.mark.usefixtures("ensemble_supported")]

CRASHES = 2
CATCH_UP_NODES = 5000
CATCH_UP_BOUND_S = float(os.environ.get("RUNNEL_ENSEMBLE_CATCHUP_S", "60"))


def test_whole_ensemble_sigkill_and_restart(make_ensemble, root):
    ens = make_ensemble(3)
    seed = int(os.environ.get("RUNNEL_ENSEMBLE_SEED", "0")) or int(time.time())
    wl = Workload(ens.hosts, root, writers=3, register=False, seed=seed,
                  mix=(("create", 60), ("set", 40)), op_timeout=5.0).start()
    downtimes = []
    try:
        wl.wait_acks(100, timeout=60)
        for _ in range(CRASHES):
            wl.wait_acks(150, timeout=60)
            ens.kill_all()
            t0 = time.monotonic()
            for m in ens:
                m.start(wait=False)
            ens.wait_ready(timeout=60)
            downtimes.append(time.monotonic() - t0)
            wl.wait_acks(50, timeout=60, desc="50 writes after restarting every member")
    finally:
        wl.stop()
    print("seed %d; back after %s s; %s" % (seed, ["%.1f" % t for t in downtimes], wl.summary()))
    tree = converged_trees(ens, root, timeout=30)
    run_checks(("no unexpected error replies", wl.check_no_errors),
               ("acknowledged writes survive", lambda: wl.check_tree(tree)),
               ("zxids only grow", wl.check_zxids))


def test_restarted_member_catches_up(make_ensemble, root):
    # a generous initLimit: the catching-up member may need a while to load
    # what it is sent (ZooKeeper drops a learner that takes longer)
    ens = make_ensemble(3, init_limit=50)
    leader = ens.leader()
    lagging = ens.followers(leader)[0]
    c = kazoo_client(ens.hosts_of([k for k in ens.ids if k != lagging]), timeout=4.0)
    try:
        c.ensure_path(root)
        c.create(root + "/before", b"x")
        ens.kill(lagging)
        ens.wait_ready()  # the other two still form a quorum

        # 5,000 small creates, pipelined in windows, plus some setData and deletes
        t0 = time.monotonic()
        window = 250
        for start in range(0, CATCH_UP_NODES, window):
            reqs = [c.create_async("%s/n-%05d" % (root, i), b"%d" % i)
                    for i in range(start, min(start + window, CATCH_UP_NODES))]
            for r in reqs:
                r.get(timeout=60)
        reqs = [c.set_async("%s/n-%05d" % (root, i), b"set") for i in range(0, CATCH_UP_NODES, 7)]
        reqs += [c.delete_async("%s/n-%05d" % (root, i)) for i in range(3, CATCH_UP_NODES, 10)]
        for r in reqs:
            r.get(timeout=60)
        wrote = time.monotonic() - t0
        expected = CATCH_UP_NODES + 1 - len(range(3, CATCH_UP_NODES, 10))

        t1 = time.monotonic()
        ens.start_member(lagging, timeout=CATCH_UP_BOUND_S)
        m = ens[lagging]
        probe = kazoo_client(m.hosts, timeout=4.0)
        try:
            # reads served by the restarted member itself (no sync): the whole tree is there
            wait_for(lambda: len(probe.get_children(root)) == expected, CATCH_UP_BOUND_S, interval=0.2,
                     desc="member %d serving all %d children of %s" % (lagging, expected, root))
            caught_up = time.monotonic() - t1
            assert probe.get(root + "/n-00007")[0] == b"set"
            assert probe.exists(root + "/n-00003") is None
            # and it takes part in new writes
            probe.create(root + "/after", b"y")
        finally:
            stop_client(probe)
        c.sync(root)
        assert c.get(root + "/after")[0] == b"y"
        ens.wait_ready()
        ref = member_tree(ens[leader], root)
        got = member_tree(m, root, sync=False)
        assert got == ref, "member %d differs from the leader:\n%s" % (
            lagging, describe_tree_diff(ref, got, "leader", "member %d" % lagging))
        converged_trees(ens, root, timeout=30)
        # informational only: whether the member's log mentions a snapshot
        with open(m.log_path, "rb") as f:
            snap = [line for line in f.read().decode("utf-8", "replace").splitlines()
                    if "snapshot" in line.lower() and "install" in line.lower()]
        print("%d writes in %.1fs without member %d; it served them %.1fs after restarting; "
              "its log mentions %d snapshot installs" % (CATCH_UP_NODES + len(reqs), wrote, lagging, caught_up,
                                                        len(snap)))
    finally:
        stop_client(c)
