"""Replication across brokers, issue 5 tests 1-4: one coord and three brokers
(shared by the tests of this module, each test on a fresh topic, killed and
paused brokers brought back after each test), workload W (acks=all,
confluent-kafka, RF=3, min.insync.replicas=2) and check C
(tests/replication_util.py states the rule for retry duplicates).

  1. kill -9 the leader of a partition mid-stream, five times, restarting it
     each time;
  2. both followers SIGSTOPped past replica.lag.time.max.ms: acks=all is
     refused with NOT_ENOUGH_REPLICAS, acks=1 is served, the ISR grows back
     after SIGCONT;
  3. ISR down to the leader, leader killed: the partition stays offline
     instead of electing a stale replica; the old leader leads again when it
     returns;
  4. two successive leaders each die with an acks=1 tail the others do not
     have: after restarting everything the replicas converge by leader epoch
     and committed data survives.

Brokers run with zookeeper.session.timeout.ms=3000 and
replica.lag.time.max.ms=2500 so each failover takes seconds.
"""

import time

import pytest

from procutil import wait_for
from replication_util import (LAG_MS, LEADER_NOT_AVAILABLE, NOT_ENOUGH_REPLICAS,
                              NOT_ENOUGH_REPLICAS_AFTER_APPEND, Sent, Workload, check_replicas_identical,
                              dump_state, log_end, metadata, read_back_and_check, replica_batches, topic_name,
                              topic_with_workload)
from replication_util import cl, shared  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(240)


def wait_new_leader(cl, topic, p, old_leader, old_epoch, timeout=30):
    """Until coord names a live leader other than `old_leader`, with a
    higher epoch; returns the state."""
    def moved():
        s = cl.state(topic, p)
        return s if s["leader"] not in (-1, old_leader) and s["leader_epoch"] > old_epoch else None
    return wait_for(moved, timeout=timeout, interval=0.02,
                    desc="%s-%d led by another broker than %d (last %s)" % (
                        topic, p, old_leader, cl._safe_state(topic, p)))


def wait_ack_after(w, p, t, timeout=30):
    """Until W has an acknowledgement on partition p later than t."""
    def later():
        with w.lock:
            return any(pp == p and at > t for pp, _, at in w.acked.values())
    wait_for(later, timeout=timeout, interval=0.02,
             desc="an ack on partition %d after the failure (%s)" % (p, w.summary()))


# ---------------------------------------------------------------- 1

def test_leader_hard_bounce_five_times(cl):
    """Kill -9 the leader of partition 0 mid-stream, five times, restarting
    it each time and waiting for the full ISR before the next kill; each
    time a new leader with a higher epoch takes over and acks=all writes
    continue on it. Then check C."""
    P = 3
    topic, w = topic_with_workload(cl, "bounce", P)
    leaders = []
    try:
        w.wait_acks(150)
        for _ in range(5):
            s = cl.state(topic, 0)
            old = s["leader"]
            killed_at = cl.kill(old)
            new = wait_new_leader(cl, topic, 0, old, s["leader_epoch"])
            assert new["leader"] in s["isr"], "new leader %d was not in the ISR %s" % (new["leader"], s["isr"])
            leaders.append((old, new["leader"], new["leader_epoch"]))
            wait_ack_after(w, 0, killed_at)
            cl.start_broker(old)
            cl.wait_full_isr(topic, P)
            w.wait_acks(50)
    finally:
        w.stop()
    print("leader changes (killed, new, epoch):", leaders)
    epochs = [e for _, _, e in leaders]
    assert epochs == sorted(set(epochs)), "leader epochs did not grow: %s" % leaders
    read_back_and_check(cl, topic, P, [w])


# ---------------------------------------------------------------- 2

def test_followers_paused_acks_all_refused_acks1_served(cl):
    """Both followers SIGSTOPped past replica.lag.time.max.ms: the ISR
    shrinks to the leader; acks=all writes are refused with
    NOT_ENOUGH_REPLICAS (never acknowledged, and those refused before the
    append never appear), W's acks=all writes get no acknowledgement while
    the ISR is below min.insync.replicas; acks=1 writes are served. After
    SIGCONT the ISR grows back to all three and W's retried writes go
    through. Check C for the acks=all writes and the acks=1 ones."""
    topic = topic_name("isr-shrink")
    cl.create_topic(topic, 1)
    leader = cl.leader(topic, 0)
    followers = [k for k in cl.brokers if k != leader]
    w = Workload(cl.bootstrap, topic, 1)
    w.start()
    strict = Sent(topic, "strict")
    ones = Sent(topic, "acks1")
    try:
        w.wait_acks(100)
        for f in followers:
            cl.pause(f)
        cl.wait_isr(topic, 0, [leader], timeout=LAG_MS / 1000 + 20)
        shrunk_at = time.monotonic()
        # acks=all without retries: refused, every one of them.
        codes = strict.one_by_one(cl.brokers[leader].bootstrap, 0, 10, acks="all")
        assert all(c in (NOT_ENOUGH_REPLICAS, NOT_ENOUGH_REPLICAS_AFTER_APPEND) for c in codes), codes
        assert codes[-1] == NOT_ENOUGH_REPLICAS, codes
        # acks=1 is served by the leader alone.
        codes1 = ones.one_by_one(cl.brokers[leader].bootstrap, 0, 10, acks="1")
        assert codes1 == [None] * 10, codes1
        resumed_at = time.monotonic()
    finally:
        for f in followers:
            if cl.paused(f):
                cl.resume(f)
    early = [v for v, (_, _, t) in w.acked.items() if shrunk_at <= t <= resumed_at]
    assert not early, "acks=all acknowledged while the ISR was [%d] < min.insync.replicas: %s" % (
        leader, early[:5])
    cl.wait_full_isr(topic, 1)
    wait_ack_after(w, 0, resumed_at)
    w.wait_acks(50)
    w.stop()
    records = read_back_and_check(cl, topic, 1, [w, ones], [strict])
    present = {v for recs in records.values() for _, v in recs}
    refused_before_append = [v for v, c in strict.failed.items() if c == NOT_ENOUGH_REPLICAS]
    assert not present & set(refused_before_append), \
        "refused with NOT_ENOUGH_REPLICAS yet in the log: %s" % sorted(present & set(refused_before_append))
    assert not strict.acked


# ---------------------------------------------------------------- 3

def test_isr_of_one_leader_killed_stays_offline_until_it_returns(cl):
    """The topic has min.insync.replicas=1 here, so that acks=all writes are
    acknowledged while the ISR is the leader alone: exactly the data an
    unclean election would lose. Followers SIGSTOPped until ISR=[leader],
    more acks=all writes, the leader killed, followers resumed: the
    partition stays offline (coord leader -1, Metadata from both live
    brokers says leader -1 / LEADER_NOT_AVAILABLE) rather than electing a
    stale replica. When the old leader returns it leads again, the others
    catch up, and nothing acknowledged is lost."""
    topic = topic_name("offline")
    cl.create_topic(topic, 1, min_isr=1)
    s0 = cl.state(topic, 0)
    leader = s0["leader"]
    followers = [k for k in cl.brokers if k != leader]
    w = Workload(cl.bootstrap, topic, 1)
    w.start()
    try:
        w.wait_acks(100)
        for f in followers:
            cl.pause(f)
        cl.wait_isr(topic, 0, [leader], timeout=LAG_MS / 1000 + 20)
        # Their sessions end too (so that they come back as new registrations).
        for f in followers:
            wait_for(lambda f=f: cl.registration(f) is None, timeout=30, interval=0.05,
                     desc="paused broker %d's registration gone" % f)
        w.wait_acks(100, desc="acks=all acknowledged by the leader alone (min.insync.replicas=1)")
    finally:
        w.stop()
    only_on_leader = len(w.acked)
    cl.kill(leader)
    for f in followers:
        cl.resume(f)
    # The followers' sessions ended while paused: wait for their new
    # registrations and for the leader's to go, then for the controller
    # (one of the followers) to mark the partition offline.
    for f in followers:
        cl.wait_registered(f, timeout=30)
    wait_for(lambda: cl.registration(leader) is None, timeout=30, interval=0.05,
             desc="broker %d's registration gone" % leader)

    def offline_everywhere():
        s = cl.state(topic, 0)
        if s["leader"] != -1:
            return False
        for f in followers:
            m = metadata(cl.brokers[f], [topic])[topic][0]
            if m["leader"] != -1:
                return False
        return True
    wait_for(offline_everywhere, timeout=30, interval=0.1,
             desc="partition offline (%s)" % dump_state(cl, topic, 1))
    # It stays so: no stale replica is elected.
    seen = []
    deadline = time.monotonic() + 2 * cl.session_s()
    while time.monotonic() < deadline:
        s = cl.state(topic, 0)
        seen.append(s["leader"])
        for f in followers:
            m = metadata(cl.brokers[f], [topic])[topic][0]
            assert m["leader"] == -1 and m["error"] in (0, LEADER_NOT_AVAILABLE), \
                "broker %d's metadata: %s" % (f, m)
        time.sleep(0.2)
    assert set(seen) == {-1}, "a stale replica was elected: leaders seen %s" % sorted(set(seen))
    assert set(cl.state(topic, 0)["isr"]) <= {leader}, cl.state(topic, 0)
    # The old leader comes back and leads again.
    cl.start_broker(leader)
    s = wait_for(lambda: cl.state(topic, 0)["leader"] == leader and cl.state(topic, 0), timeout=30,
                 interval=0.05, desc="broker %d leads again (%s)" % (leader, dump_state(cl, topic, 1)))
    assert s["leader_epoch"] > s0["leader_epoch"]
    read_back_and_check(cl, topic, 1, [w])
    print("%d acks=all records acknowledged by the leader alone survived" % only_on_leader)


# ---------------------------------------------------------------- 4

def test_double_failover_divergent_tails_converge(cl):
    """Committed acks=all data first. Then twice: the followers are
    SIGSTOPped, the leader takes acks=1 writes (two requests: the first may
    still reach a paused follower through a fetch answered into its socket,
    the second cannot), is killed -9, and the followers resumed, so the next
    leader lacks the dead leader's tail. The third leader takes acks=1
    writes alone. Then both dead brokers restart: they truncate their
    divergent tails by leader epoch, every replica ends byte-identical at the
    same log end offset, the committed data and the surviving leader's
    acks=1 writes are all there, and acks=all works again."""
    topic = topic_name("diverge")
    cl.create_topic(topic, 1)
    committed = Workload(cl.bootstrap, topic, 1, prefix="committed")
    committed.start()
    committed.wait_acks(200)
    committed.stop()
    tails = Sent(topic, "tail")
    survivors = Sent(topic, "survivor")
    dead = []
    divergence = []
    s = cl.state(topic, 0)
    for phase in range(2):
        a = s["leader"]
        live = [k for k in cl.brokers if k != a and k not in dead]
        # The next leader must be caught up with this one before the cut.
        wait_for(lambda: len({log_end(replica_batches(cl.brokers[k], topic, 0)) for k in [a] + live}) == 1,
                 timeout=20, interval=0.05, desc="replicas caught up before phase %d" % phase)
        for f in live:
            cl.pause(f)
        try:
            for n in (1, 2):
                # Coord may name the new leader before the broker has taken
                # up the leadership: NOT_LEADER_OR_FOLLOWER (6) appends
                # nothing, so the first write is retried until it leads.
                deadline = time.monotonic() + 20
                while True:
                    err, _ = tails.raw(cl.brokers[a], 0, n, acks=1)
                    if err != 6 or n != 1 or time.monotonic() > deadline:
                        break
                    time.sleep(0.02)
                assert err == 0, "acks=1 write to leader %d: error %d" % (a, err)
            cl.kill(a)
        finally:
            for f in live:
                cl.resume(f)
        dead.append(a)
        end_a = log_end(replica_batches(cl.brokers[a], topic, 0))
        s = wait_new_leader(cl, topic, 0, a, s["leader_epoch"])
        b = s["leader"]
        assert b in live
        divergence.append((a, end_a, b, log_end(replica_batches(cl.brokers[b], topic, 0))))
    c = s["leader"]
    # The third leader, alone now, takes acks=1 writes (once it knows).
    wait_for(lambda: survivors.raw(cl.brokers[c], 0, 1, acks=1)[0] == 0, timeout=20, interval=0.1,
             desc="acks=1 write accepted by the surviving leader %d" % c)
    survivors.failed.clear()  # refusals before it knew it leads
    for _ in range(4):
        err, _ = survivors.raw(cl.brokers[c], 0, 1, acks=1)
        assert err == 0, err
    print("phases (dead leader, its log end, next leader, its log end):", divergence)
    for k in dead:
        cl.start_broker(k)
    cl.wait_full_isr(topic, 1)
    again = Workload(cl.bootstrap, topic, 1, prefix="again")
    again.start()
    again.wait_acks(100)
    again.stop()
    wait_for(lambda: check_replicas_identical(cl, topic, 1, same_end=True), timeout=30, interval=0.2,
             desc="replicas converged")
    records = read_back_and_check(cl, topic, 1, [committed, survivors, again], [tails], same_end=True)
    present = {v for recs in records.values() for _, v in recs}
    lost_tail = sorted(set(tails.sent) - present)
    print("acks=1 tail records of the dead leaders dropped by the truncation: %s" % lost_tail)
    assert cl.state(topic, 0)["leader_epoch"] >= 2
