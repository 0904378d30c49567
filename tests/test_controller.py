"""The controller across real brokers: leader election after a broker dies
(kill -9, after its coord session expires), controlled shutdown on SIGTERM
(leadership moves before the broker exits), controller failover (kill -9 of
the controller: another broker takes over with a higher /controller_epoch and
keeps electing), and an offline partition that returns only with its ISR
member (unclean election off).

States are read from coord (Kafka's znodes, via kazoo) and from the brokers'
Metadata answers (confluent-kafka). Record contents across failover are not
checked here: that is replication's business."""

import json
import signal
import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient

from brokerproc import cluster, zigzag_varint  # noqa: F401 - fixture
from coordproc import wait_for

pytestmark = pytest.mark.timeout(180)

CHROOT = "/runnel"
SESSION_MS = 3000
CONFIG = {
    "zookeeper_session_timeout_ms": SESSION_MS,
    "controlled_shutdown_retry_backoff_ms": 200,
}


@pytest.fixture
def zk():
    made = []

    def connect(coord):
        c = KazooClient(hosts=coord.hosts + CHROOT, timeout=10)
        c.start(timeout=15)
        made.append(c)
        return c

    yield connect
    for c in made:
        c.stop()
        c.close()


def state(zk, topic, p):
    data, _ = zk.get("/brokers/topics/%s/partitions/%d/state" % (topic, p))
    return json.loads(data)


def states(zk, topic, n):
    return {p: state(zk, topic, p) for p in range(n)}


def controller(zk):
    try:
        data, _ = zk.get("/controller")
    except Exception:  # NoNodeError while nobody holds it
        return -1
    return json.loads(data)["brokerid"]


def wait_new_controller(zk, old, timeout=SESSION_MS / 1000 + 10):
    """Until a broker other than `old` holds /controller; returns its id."""
    return wait_for(lambda: controller(zk) not in (-1, old) and controller(zk), timeout=timeout,
                    desc="new controller")


def controller_epoch(zk):
    data, _ = zk.get("/controller_epoch")
    return int(data)


def create(broker, topic, partitions, rf, config=None, assignment=None):
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    # The creating broker must see rf brokers (they registered just now).
    wait_for(lambda: len(a.list_topics(timeout=5).brokers) >= rf, timeout=10,
             desc="%d brokers registered" % rf)
    if assignment:
        new = NewTopic(topic, num_partitions=len(assignment), replication_factor=-1,
                       replica_assignment=assignment, config=config or {})
    else:
        new = NewTopic(topic, partitions, rf, config=config or {})
    a.create_topics([new])[topic].result(20)


def three_brokers_with_topic(cluster, zk, topic, partitions, **config):
    """Three brokers (CONFIG and `config`) and `topic` with RF 3 on them:
    (brokers, coord client, the partition states once all exist)."""
    coord, brokers = cluster(brokers=3, **CONFIG, **config)
    z = zk(coord)
    create(brokers[0], topic, partitions, 3)
    return brokers, z, wait_for(lambda: states(z, topic, partitions), timeout=10, desc="states")


def led_by(states, broker):
    """The partitions `broker` leads in `states`; there must be some."""
    led = [p for p, st in states.items() if st["leader"] == broker.broker_id]
    assert led, states
    return led


def metadata(broker, topic):
    """partition -> (leader, isr) as broker's Metadata answer says."""
    a = AdminClient({"bootstrap.servers": broker.bootstrap})
    t = a.list_topics(topic, timeout=10).topics[topic]
    return {p: (m.leader, sorted(m.isrs)) for p, m in t.partitions.items()}


def test_initial_state_has_every_live_replica_in_the_isr(cluster, zk):
    _, _, s = three_brokers_with_topic(cluster, zk, "init", 3)
    for p, st in s.items():
        assert st["leader_epoch"] == 0
        assert sorted(st["isr"]) == [1, 2, 3], s
    leaders = {st["leader"] for st in s.values()}
    assert leaders == {1, 2, 3}, "assignment spreads preferred leaders: %s" % s


def test_kill9_of_a_leader_elects_a_new_one_from_the_isr(cluster, zk):
    brokers, z, before = three_brokers_with_topic(cluster, zk, "k9", 6)
    ctl = controller(z)
    # A leader that is not the controller (the controller's own death is below).
    victim = next(b for b in brokers if b.broker_id != ctl)
    led = led_by(before, victim)
    victim.kill()
    killed_at = time.monotonic()

    def moved():
        now = states(z, "k9", 6)
        ok = all(now[p]["leader"] not in (-1, victim.broker_id)
                 and now[p]["leader_epoch"] > before[p]["leader_epoch"]
                 and victim.broker_id not in now[p]["isr"] for p in led)
        # Partitions it only followed lose it from the ISR, same leader epoch.
        ok = ok and all(victim.broker_id not in now[p]["isr"]
                        and now[p]["leader_epoch"] == before[p]["leader_epoch"]
                        for p in now if p not in led)
        return now if ok else None

    after = wait_for(moved, timeout=SESSION_MS / 1000 + 10, desc="new leaders in coord")
    elapsed = time.monotonic() - killed_at
    print("kill -9 -> new leaders in coord after %.2f s (session timeout %.1f s)"
          % (elapsed, SESSION_MS / 1000))
    assert elapsed < SESSION_MS / 1000 + 5, elapsed
    for st in after.values():
        assert st["controller_epoch"] == controller_epoch(z)
    # Every live broker's Metadata says the same, soon.
    for b in brokers:
        if b is victim:
            continue
        want = {p: (after[p]["leader"], sorted(after[p]["isr"])) for p in after}
        wait_for(lambda: metadata(b, "k9") == want, timeout=5,
                 desc="broker %d metadata" % b.broker_id)


def test_sigterm_moves_leadership_before_exit(cluster, zk):
    brokers, z, before = three_brokers_with_topic(cluster, zk, "ct", 6)
    ctl = controller(z)
    victim = next(b for b in brokers if b.broker_id != ctl)
    led = led_by(before, victim)
    sent = time.monotonic()
    victim.signal(signal.SIGTERM)
    moved_at = None
    while time.monotonic() - sent < 20:
        now = states(z, "ct", 6)
        if all(now[p]["leader"] != victim.broker_id for p in led):
            moved_at = time.monotonic()
            break
        time.sleep(0.01)
    assert moved_at is not None, "leadership never moved"
    still_running = victim.proc.poll() is None
    victim.proc.wait(30)
    print("SIGTERM -> leadership moved in %.3f s (broker still running: %s)"
          % (moved_at - sent, still_running))
    assert moved_at - sent < 2.0
    now = states(z, "ct", 6)
    for p in led:
        assert now[p]["leader"] in (b.broker_id for b in brokers if b is not victim)
        assert now[p]["leader_epoch"] == before[p]["leader_epoch"] + 1
    for p in now:
        assert victim.broker_id not in now[p]["isr"], now
    log = open(victim.log_path).read()
    assert "controlled shutdown succeeded" in log, victim.log_tail()
    # The new leaders are serving: Metadata from a live broker agrees.
    live = next(b for b in brokers if b is not victim)
    want = {p: (now[p]["leader"], sorted(now[p]["isr"])) for p in now}
    wait_for(lambda: metadata(live, "ct") == want, timeout=5, desc="metadata")
    # And they accept writes (acks=1: replication is not what this tests).
    errors = []
    p = Producer({"bootstrap.servers": live.bootstrap, "acks": 1, "message.timeout.ms": 10000})
    for part in led:
        p.produce("ct", b"after", partition=part, on_delivery=lambda e, m: e and errors.append(e))
    assert p.flush(15) == 0 and not errors, errors


def test_sigterm_of_the_controller_moves_its_own_leaderships(cluster, zk):
    brokers, z, before = three_brokers_with_topic(cluster, zk, "cc", 6)
    epoch = controller_epoch(z)
    victim = next(b for b in brokers if b.broker_id == controller(z))
    led = led_by(before, victim)
    victim.stop()
    now = states(z, "cc", 6)
    for p in led:
        assert now[p]["leader"] not in (-1, victim.broker_id), now
        assert now[p]["leader_epoch"] == before[p]["leader_epoch"] + 1
    # Another broker takes the role at once (released, not expired).
    wait_new_controller(z, victim.broker_id, timeout=5)
    assert controller_epoch(z) > epoch


def test_kill9_of_the_controller_hands_over_and_elections_go_on(cluster, zk):
    brokers, z, before = three_brokers_with_topic(cluster, zk, "cf", 6)
    epoch = controller_epoch(z)
    old = controller(z)
    victim = next(b for b in brokers if b.broker_id == old)
    victim.kill()
    new = wait_new_controller(z, old)
    assert controller_epoch(z) > epoch

    def none_led_by(dead):
        now = states(z, "cf", 6)
        return now if all(st["leader"] not in dead and not set(dead) & set(st["isr"])
                          for st in now.values()) else None

    now = wait_for(lambda: none_led_by({old}), timeout=10, desc="failover elections")
    for p in now:
        if before[p]["leader"] == old:
            assert now[p]["leader_epoch"] > before[p]["leader_epoch"]
            assert now[p]["controller_epoch"] > epoch
    # The new controller keeps electing: kill another (non-controller) broker.
    second = next(b for b in brokers if b.broker_id not in (old, new))
    second.kill()
    last = wait_for(lambda: none_led_by({old, second.broker_id}),
                    timeout=SESSION_MS / 1000 + 10, desc="elections by the new controller")
    assert all(st["leader"] == new and st["isr"] == [new] for st in last.values()), last


def test_offline_partition_waits_for_its_isr_member(cluster, zk):
    coord, brokers = cluster(brokers=2, **CONFIG)
    z = zk(coord)
    create(brokers[0], "off", 1, 2, assignment=[[1, 2]])
    # Same placement, but unclean election allowed.
    create(brokers[0], "unclean", 1, 2, {"unclean.leader.election.enable": "true"},
           assignment=[[1, 2]])
    st = wait_for(lambda: state(z, "off", 0), timeout=10, desc="state")
    assert st["leader"] == 1 and state(z, "unclean", 0)["leader"] == 1
    first = next(b for b in brokers if b.broker_id == st["leader"])
    other = next(b for b in brokers if b is not first)
    # The leader dies: the other ISR member leads alone.
    first.kill()
    wait_for(lambda: state(z, "off", 0)["leader"] == other.broker_id, timeout=15,
             desc="failover")
    assert state(z, "off", 0)["isr"] == [other.broker_id]
    # The last ISR member dies: offline, its ISR kept.
    epoch = state(z, "off", 0)["leader_epoch"]
    # (first comes back only after other is gone: started earlier, it would
    # catch up and rejoin the ISR, and rightly lead.)
    other.kill()
    first.start()
    off = wait_for(lambda: state(z, "off", 0)["leader"] == -1 and state(z, "off", 0),
                   timeout=15, desc="offline")
    assert off["isr"] == [other.broker_id]
    assert off["leader_epoch"] == epoch + 1
    # The unclean topic takes the live replica outside its ISR.
    u = wait_for(lambda: state(z, "unclean", 0)["leader"] == first.broker_id
                 and state(z, "unclean", 0), timeout=15, desc="unclean election")
    assert u["isr"] == [first.broker_id]
    # The broker that is live but out of the ISR does not lead (unclean off)...
    time.sleep(1)
    assert state(z, "off", 0)["leader"] == -1
    # ...the ISR member does once it is back.
    other.start()
    back = wait_for(lambda: state(z, "off", 0)["leader"] == other.broker_id
                    and state(z, "off", 0), timeout=20, desc="ISR member leads again")
    assert back["leader_epoch"] == epoch + 2


def test_leadership_returns_to_the_preferred_replica(cluster, zk):
    brokers, z, before = three_brokers_with_topic(cluster, zk, "pref", 6,
                                                  leader_imbalance_check_interval_seconds=1)
    assignment = json.loads(z.get("/brokers/topics/pref")[0])["partitions"]
    # Move every partition preferring broker 1 to its second replica, all
    # still in the ISR, as if broker 1 had been away and caught up again.
    moved = []
    for p, st in before.items():
        replicas = assignment[str(p)]
        if replicas[0] != 1:
            continue
        st = dict(st, leader=replicas[1], leader_epoch=st["leader_epoch"] + 1)
        z.set("/brokers/topics/pref/partitions/%d/state" % p, json.dumps(st).encode())
        moved.append(p)
    assert moved, assignment
    # Brokers re-read all states when the topic list changes.
    create(brokers[0], "pref-nudge", 1, 1)

    def back():
        now = states(z, "pref", 6)
        return now if all(now[p]["leader"] == 1 for p in moved) else None

    now = wait_for(back, timeout=10, desc="preferred leader back")
    for p in moved:
        assert now[p]["leader_epoch"] == before[p]["leader_epoch"] + 2
        assert sorted(now[p]["isr"]) == [1, 2, 3]


# ---------------------------------------------------------------- wire level
# The internal requests are Kafka frames (header v1) with postcard bodies;
# postcard writes i32 as zigzag varints and a vector as its varint length.

def internal(sock, key, version, body, correlation_id=9):
    import struct
    from brokerproc import frame, read_response
    hdr = struct.pack(">hhih", key, version, correlation_id, 4) + b"test"
    sock.sendall(frame(hdr + body))
    r = read_response(sock)
    assert struct.unpack(">i", r[:4])[0] == correlation_id
    return r[4:]


def test_update_metadata_from_a_stale_controller_is_refused(cluster):
    import socket
    from brokerproc import closed_by_peer
    _, broker = cluster(brokers=1, **CONFIG)
    update = lambda epoch: zigzag_varint(1) + zigzag_varint(epoch) + b"\x00"  # noqa: E731 - no partitions
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as s:
        s.settimeout(10)
        assert internal(s, 6, 0, update(1000)) == b"\x00"
        assert internal(s, 4, 0, update(1000)) == b"\x00"
        assert internal(s, 6, 0, update(999)) == zigzag_varint(11)  # STALE_CONTROLLER_EPOCH
    for key, version, body in [(6, 0, b"\xff\xff\xff"), (6, 1, update(1000)),
                               (4, 0, update(1000) + b"\x00"), (7, 0, b"")]:
        with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as s:
            hdr = __import__("struct").pack(">hhih", key, version, 1, 4) + b"test"
            s.sendall(__import__("brokerproc").frame(hdr + body))
            assert closed_by_peer(s), (key, version, body)
    assert broker.alive()


def test_deleting_controller_znode_forces_a_new_election(cluster, zk):
    """Kafka's way to move the controller: delete /controller. Whoever wins
    has a higher epoch; a loser that held the role leaves office."""
    brokers, z, _ = three_brokers_with_topic(cluster, zk, "re", 3)
    epoch = controller_epoch(z)
    z.delete("/controller")
    new = wait_for(lambda: controller(z) != -1 and controller(z), timeout=10,
                   desc="re-election")
    assert controller_epoch(z) == epoch + 1
    # Elections are made under the new epoch.
    victim = next(b for b in brokers if b.broker_id != new)
    before = states(z, "re", 3)
    victim.kill()
    after = wait_for(lambda: all(victim.broker_id not in st["isr"]
                                 for st in states(z, "re", 3).values()) and states(z, "re", 3),
                     timeout=SESSION_MS / 1000 + 10, desc="elections")
    for p, st in after.items():
        assert st["controller_epoch"] == epoch + 1, after
        if before[p]["leader"] == victim.broker_id:
            assert st["leader"] not in (-1, victim.broker_id)


def test_paused_controller_loses_its_session_and_the_role(cluster, zk):
    brokers, z, before = three_brokers_with_topic(cluster, zk, "ps", 3)
    epoch = controller_epoch(z)
    old = controller(z)
    victim = next(b for b in brokers if b.broker_id == old)
    victim.pause()
    try:
        new = wait_new_controller(z, old)
        wait_for(lambda: all(st["leader"] != old and old not in st["isr"]
                             for st in states(z, "ps", 3).values()),
                 timeout=10, desc="elections without the paused broker")
    finally:
        victim.resume()
    # Back: it registers again under a new session, follows, does not act.
    wait_for(lambda: z.exists("/brokers/ids/%d" % old), timeout=15, desc="re-registered")
    time.sleep(1)
    assert controller(z) == new
    assert controller_epoch(z) == epoch + 1
    now = states(z, "ps", 3)
    assert all(st["controller_epoch"] == epoch + 1 for p, st in now.items()
               if st != before[p]), now
    log = open(victim.log_path).read()
    assert "no longer the controller" in log, victim.log_tail()
