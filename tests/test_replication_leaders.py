"""Leadership across brokers, issue 5 tests 5-7 (same cluster shape, workload
W and check C as tests/test_replication.py; helpers in replication_util.py):

  5. a leader SIGSTOPped past its coord session and resumed never
     acknowledges an acks=all write once a newer leader exists: a Produce
     queued on its socket while it was stopped is answered with an error or
     not at all, never success, and the record is not in the final log;
     afterwards it answers NOT_LEADER_OR_FOLLOWER, and the new leader
     answers a request carrying the old epoch with FENCED_LEADER_EPOCH;
  6. kill -9 the controller while it is electing leaders for a dead broker's
     partitions: the next controller finishes (every partition led by a live
     ISR member), epochs only grow and each (partition, epoch) has one
     leader, exactly one broker serves each partition as leader;
  7. SIGTERM a broker that leads partitions: its leaderships move before it
     exits (coord and every other broker's Metadata show other leaders at
     once), and the acks=all producer loses nothing and pauses briefly.
"""

import socket
import struct
import threading
import time

import pytest

from brokerproc import frame, read_response
from procutil import wait_for
from replication_util import (FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER, Sent, Workload, dump_state, led_by,
                              list_offsets, metadata, parse_produce_response, produce_request,
                              read_back_and_check, topic_name, topic_with_workload)
from replication_util import cl, shared  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(240)


# ---------------------------------------------------------------- 5

def test_stale_leader_never_acknowledges_after_newer_leader(cl):
    topic = topic_name("zombie")
    cl.create_topic(topic, 1)
    s0 = cl.state(topic, 0)
    old = s0["leader"]
    w = Workload(cl.bootstrap, topic, 1)
    w.start()
    zombie = Sent(topic, "zombie")
    try:
        w.wait_acks(100)
        t_pause = cl.pause(old)
        print("paused leader %d at t=%.2f" % (old, t_pause))
        wait_for(lambda: cl.registration(old) is None, timeout=30, interval=0.05,
                 desc="paused leader %d's session expired" % old)

        def moved():
            s = cl.state(topic, 0)
            return s if s["leader"] not in (-1, old) and s["leader_epoch"] > s0["leader_epoch"] else None
        s1 = wait_for(moved, timeout=30, interval=0.05, desc="a new leader (%s)" % dump_state(cl, topic, 1))
        new = s1["leader"]
        t_new = time.monotonic()
        # The new leader serves acks=all with the remaining ISR member.
        wait_for(lambda: any(t > t_new for _, _, t in w.acked.values()), timeout=30, interval=0.02,
                 desc="acks=all on the new leader %d" % new)
        # A Produce that the stale leader reads first thing when it runs again:
        # connected and sent while it is stopped (the kernel accepts both).
        values = zombie.values(0, 3)
        sock = socket.create_connection(("127.0.0.1", cl.brokers[old].port), timeout=5)
        corr = 424242
        hdr = struct.pack(">hhih", 0, 3, corr, 6) + b"zombie"
        sock.sendall(frame(hdr + produce_request(topic, 0, [v.encode() for v in values], acks=-1,
                                                 timeout_ms=5000)))
        t_resume = cl.resume(old)
        print("new leader %d at t=%.2f, resumed %d at t=%.2f" % (new, t_new, old, t_resume))
        outcome = None
        try:
            sock.settimeout(20)
            r = read_response(sock)
            assert struct.unpack(">i", r[:4])[0] == corr
            err, base = parse_produce_response(r[4:])
            outcome = ("error", err) if err else ("success", base)
        except (socket.timeout, ConnectionError, OSError) as e:
            outcome = ("no answer", repr(e))
        finally:
            sock.close()
        print("stale leader %d answered the queued acks=all Produce with %s" % (old, outcome))
        assert outcome[0] != "success", \
            "broker %d acknowledged an acks=all write at offset %s after broker %d became leader with " \
            "epoch %d" % (old, outcome[1], new, s1["leader_epoch"])
        for v in values:
            zombie.failed[v] = outcome[1]
        # Once it has rejoined as a follower it refuses writes.
        cl.wait_registered(old)
        cl.wait_full_isr(topic, 1)
        for acks in (-1, 1):
            err, _ = zombie.raw(cl.brokers[old], 0, 1, acks=acks)
            assert err == NOT_LEADER_OR_FOLLOWER, "follower %d answered acks=%d with %d" % (old, acks, err)
        # KIP-320: the new leader refuses a request carrying the old epoch.
        s2 = cl.state(topic, 0)
        err, _, _ = list_offsets(cl.brokers[s2["leader"]], topic, [0], current_epoch=s0["leader_epoch"])[0]
        assert err == FENCED_LEADER_EPOCH, "ListOffsets with epoch %d at leader %d (epoch %d): %d" % (
            s0["leader_epoch"], s2["leader"], s2["leader_epoch"], err)
        err, _, epoch = list_offsets(cl.brokers[s2["leader"]], topic, [0], current_epoch=s2["leader_epoch"])[0]
        assert err == 0 and epoch == s2["leader_epoch"], (err, epoch, s2)
        w.wait_acks(50)
    finally:
        if cl.paused(old):
            cl.resume(old)
        w.stop()
    records = read_back_and_check(cl, topic, 1, [w], [zombie])
    present = {v for recs in records.values() for _, v in recs}
    assert not present & set(zombie.sent), "writes refused by the stale leader are in the log: %s" % sorted(
        present & set(zombie.sent))


# ---------------------------------------------------------------- 6

class EpochWatch(threading.Thread):
    """Polls coord's partition states and every live broker's Metadata,
    recording each (leader, epoch) seen per partition."""

    def __init__(self, cl, topic, partitions):
        super().__init__(daemon=True)
        self.cl, self.topic, self.partitions = cl, topic, partitions
        self.coord = {p: [] for p in range(partitions)}
        self.md = {p: [] for p in range(partitions)}
        self.halt = threading.Event()
        self.errors = []

    def run(self):
        while not self.halt.is_set():
            try:
                for p in range(self.partitions):
                    s = self.cl.state(self.topic, p)
                    seen = (s["leader"], s["leader_epoch"])
                    if not self.coord[p] or self.coord[p][-1] != seen:
                        self.coord[p].append(seen)
            except Exception as e:  # noqa: BLE001 - coord hiccup: recorded, not fatal
                self.errors.append(repr(e))
            for k in self.cl.live():
                try:
                    md = metadata(self.cl.brokers[k], [self.topic], timeout=1)[self.topic]
                except (OSError, ConnectionError, struct.error):
                    continue
                for p, m in md.items():
                    if p >= 0 and m["leader"] >= 0:
                        self.md[p].append((k, m["leader"], m["epoch"]))
            time.sleep(0.02)

    def stop(self):
        self.halt.set()
        self.join(10)

    def check(self):
        for p in range(self.partitions):
            epochs = [e for _, e in self.coord[p]]
            assert epochs == sorted(epochs), "partition %d: epochs in coord went back: %s" % (p, self.coord[p])
            by_epoch = {}
            for leader, e in self.coord[p]:
                if leader >= 0:
                    by_epoch.setdefault(e, set()).add(leader)
            for _, leader, e in self.md[p]:
                by_epoch.setdefault(e, set()).add(leader)
            two = {e: ls for e, ls in by_epoch.items() if len(ls) > 1}
            assert not two, "partition %d: more than one leader for an epoch: %s" % (p, two)
            # Each broker's own Metadata view never goes back in epoch.
            per_broker = {}
            for k, _, e in self.md[p]:
                per_broker.setdefault(k, []).append(e)
            for k, es in per_broker.items():
                assert es == sorted(es), "partition %d: broker %d's Metadata epochs went back: %s" % (p, k, es)


def test_controller_killed_during_elections(cl):
    P = 6
    topic, w = topic_with_workload(cl, "ctrl", P)
    watch = EpochWatch(cl, topic, P)
    try:
        w.wait_acks(200)
        before = cl.states(topic, P)
        ctrl = wait_for(cl.controller, timeout=10, desc="a controller")
        cepoch = cl.controller_epoch()
        led = led_by(before, cl.brokers)
        others = [k for k in cl.brokers if k != ctrl]
        x = max(others, key=lambda k: len(led[k]))
        y = [k for k in others if k != x][0]
        assert led[x], "no broker besides the controller leads a partition: %s" % led
        watch.start()
        cl.kill(x)
        # The controller starts electing once x's registration goes: kill it then.
        wait_for(lambda: cl.registration(x) is None, timeout=30, interval=0.005,
                 desc="broker %d's registration gone" % x)
        cl.kill(ctrl)
        t_kill = time.monotonic()
        print("killed broker %d (led %s), then the controller %d (led %s); %d remains" % (
            x, led[x], ctrl, led[ctrl], y))
        wait_for(lambda: cl.controller() == y, timeout=30, interval=0.05, desc="broker %d controller" % y)
        assert cl.controller_epoch() > cepoch

        def finished():
            st = cl.states(topic, P)
            # y survives alone: it leads everything and the dead are out of every ISR.
            return all(s["leader"] == y and s["isr"] == [y] for s in st.values()) and st
        after = wait_for(finished, timeout=30, interval=0.05,
                         desc="every partition led by %d with ISR [%d] (%s)" % (y, y, dump_state(cl, topic, P)))
        for p in range(P):
            if before[p]["leader"] in (x, ctrl):
                assert after[p]["leader_epoch"] > before[p]["leader_epoch"], (p, before[p], after[p])
        wait_for(lambda: all(m["leader"] == y for p, m in metadata(cl.brokers[y], [topic])[topic].items()),
                 timeout=10, interval=0.05, desc="broker %d's Metadata shows it leads everything" % y)
        # min.insync.replicas=2 with one broker: W waits; bring the others back.
        cl.start_broker(x)
        cl.start_broker(ctrl)
        cl.wait_full_isr(topic, P)
        w.wait_acks(100)
        print("first ack after the controller kill: %.2fs" % ((w.first_ack_after(t_kill) or 0) - t_kill))
    finally:
        watch.stop()
        w.stop()
    watch.check()
    # Exactly one broker serves each partition as its leader.
    for p in range(P):
        answers = {k: list_offsets(cl.brokers[k], topic, [p])[p][0] for k in cl.brokers}
        leaders = [k for k, err in answers.items() if err == 0]
        assert len(leaders) == 1 and all(err == NOT_LEADER_OR_FOLLOWER for k, err in answers.items()
                                         if k not in leaders), "partition %d: %s" % (p, answers)
        assert leaders == [cl.leader(topic, p)]
    read_back_and_check(cl, topic, P, [w])


# ---------------------------------------------------------------- 7

def test_sigterm_moves_leaderships_before_exit(cl):
    P = 6
    topic, w = topic_with_workload(cl, "sigterm", P)
    try:
        w.wait_acks(200)
        before = cl.states(topic, P)
        led = led_by(before, cl.brokers)
        x = max(cl.brokers, key=lambda k: len(led[k]))
        assert led[x]
        t_sig, t_exit, rc = cl.terminate(x)
        # Right after the exit: coord names other leaders, with higher epochs.
        after = cl.states(topic, P)
        still = {p: s for p, s in after.items() if s["leader"] == x}
        assert not still, "broker %d exited still leading %s" % (x, still)
        for p in led[x]:
            assert after[p]["leader"] >= 0 and after[p]["leader_epoch"] > before[p]["leader_epoch"], \
                (p, before[p], after[p])
        # And so does every other broker's Metadata (UpdateMetadata may trail
        # the exit by a moment; the wait is printed).
        others = [k for k in cl.brokers if k != x]

        def md_moved():
            for k in others:
                md = metadata(cl.brokers[k], [topic])[topic]
                if any(md[p]["leader"] in (x, -1) for p in range(P)):
                    return False
            return True
        first = md_moved()
        wait_for(md_moved, timeout=5, interval=0.01, desc="Metadata of %s without leader %d" % (others, x))
        t_md = time.monotonic()
        assert rc == 0, "broker %d exited with %s after SIGTERM" % (x, rc)
        w.wait_acks(100)
        first_ack = w.first_ack_after(t_exit)
        pause = w.longest_pause(since=t_sig - 1.0, until=first_ack)
        print("SIGTERM of broker %d (led %s): exit after %.3fs, Metadata moved %s, first ack after the exit "
              "+%.3fs, longest pause between acks %.3fs" % (
                  x, led[x], t_exit - t_sig, "at the exit" if first else "%.3fs after the exit" % (t_md - t_exit),
                  first_ack - t_exit, pause))
        assert not w.failed, "deliveries failed: %s" % w.summary()
        # Not a crash: the producer did not wait for a session to expire.
        assert pause < cl.session_s(), "producer paused %.2fs, more than the session timeout" % pause
        cl.start_broker(x)
        cl.wait_full_isr(topic, P)
        w.wait_acks(50)
    finally:
        w.stop()
    read_back_and_check(cl, topic, P, [w])
