"""scripts/cluster.sh as the README and the broker cluster issue describe it:
`up` starts 3 coord members and 3 brokers by default and returns once every
member serves (brokers registered, a controller elected), printing the
connect string and the bootstrap list; `status` shows each member's pid,
ports and role; kill / pause / resume / stop / start / restart act on one
broker; `down` stops everything and `down --wipe` removes the folders. A
replicated topic made with topics.sh is described as kafka-topics.sh does.

Ports: a random free block (coord client, peer and broker ports) per test
module, so a cluster on the default ports is left alone.
"""

import json
import os
import random
import re
import socket
import subprocess
import urllib.request

import pytest

from brokerproc import broker_bin
from coordproc import RUNNEL_BIN as COORD_BIN
from procutil import REPO, built_binary, ephemeral_range, wait_for

pytestmark = pytest.mark.timeout(300)

SCRIPT = os.path.join(REPO, "scripts", "cluster.sh")


def env():
    e = dict(os.environ)
    e["RUNNEL_COORD_BIN"] = COORD_BIN
    e["RUNNEL_BROKER_BIN"] = broker_bin()
    e["RUNNEL_BIN"] = built_binary("runnel", "RUNNEL_BIN", "runnel CLI not built")
    return e


def run(*args, timeout=180):
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=timeout, env=env())


def free_block(n=40):
    """A base port B such that B..B+n-1 are all free right now.

    B is drawn below the kernel's ephemeral range, with room for cluster.sh's
    metrics ports (client port + 5000): a port in that range can be taken at
    any moment by an outgoing connection's local end (a broker's session to
    coord, a peer link), and a member started on it then fails to bind."""
    lo, _ = ephemeral_range()
    top = max(lo - 5100 - n, 12000)
    for _ in range(200):
        base = random.randrange(10000, top)
        ok = True
        for port in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free block of %d ports" % n)


def status(d):
    r = run("status", "--dir", d)
    assert r.returncode == 0, r.stderr
    rows = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if f and re.match(r"^(coord|broker)-\d+$", f[0]):
            rows[f[0]] = f
    return rows, r.stdout


def broker_role(d, name):
    f = status(d)[0][name]
    return " ".join(f[3:])


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("cluster-sh") / "cluster")
    base = free_block()
    r = run("up", "--dir", d, "--base-port", str(base), "--peer-base-port", str(base + 10),
            "--broker-base-port", str(base + 20))
    try:
        assert r.returncode == 0, "up failed:\n%s\n%s" % (r.stdout, r.stderr)
        yield d, base, r
    finally:
        run("down", "--dir", d, "--wipe")


def test_up_starts_three_coord_members_and_three_brokers(up):
    d, base, r = up
    assert r.stdout.splitlines() == [
        "coord: " + ",".join("127.0.0.1:%d" % (base + k) for k in range(3)),
        "brokers: " + ",".join("127.0.0.1:%d" % (base + 20 + k) for k in range(3)),
    ] + ["metrics: coord-%d http://127.0.0.1:%d/metrics" % (k + 1, base + 5000 + k) for k in range(3)] \
      + ["metrics: broker-%d http://127.0.0.1:%d/metrics" % (k + 1, base + 1020 + k) for k in range(3)] \
      + ["console: http://127.0.0.1:%d/" % (base + 20 - 1012),
         "schema registry: http://127.0.0.1:%d" % (base + 20 - 1011)]
    # The Schema Registry answers on the printed URL, its state in _schemas.
    with urllib.request.urlopen("http://127.0.0.1:%d/subjects" % (base + 20 - 1011), timeout=10) as resp:
        assert resp.status == 200
        assert json.loads(resp.read()) == []
    for k in (1, 2, 3):
        props = open(os.path.join(d, "broker-%d" % k, "server.properties")).read()
        assert "broker.id=%d\n" % k in props
        assert "zookeeper.session.timeout.ms=6000" in props
    rows, text = status(d)
    assert sorted(rows) == ["broker-1", "broker-2", "broker-3", "coord-1", "coord-2", "coord-3"], text
    coord_roles = [rows["coord-%d" % k][4] for k in (1, 2, 3)]
    assert sorted(coord_roles) == ["follower", "follower", "leader"], text
    for k in (1, 2, 3):
        f = rows["coord-%d" % k]
        assert f[1] == open(os.path.join(d, "coord-%d" % k, "coord.pid")).read().strip()
        assert f[2:4] == [str(base + k - 1), str(base + 10 + k - 1)], text
        b = rows["broker-%d" % k]
        assert b[1] == open(os.path.join(d, "broker-%d" % k, "broker.pid")).read().strip()
        assert b[2] == str(base + 20 + k - 1), text
    broker_roles = sorted(rows["broker-%d" % k][3] for k in (1, 2, 3))
    assert broker_roles == ["broker", "broker", "controller"], text


def test_replicated_topic_described_like_kafka_topics(up):
    d, base, r = up
    bs = r.stdout.splitlines()[1].split(": ", 1)[1]
    topics = os.path.join(REPO, "scripts", "topics.sh")
    c = subprocess.run([topics, "--bootstrap-server", bs, "--create", "--topic", "orders", "--partitions", "6",
                        "--replication-factor", "3", "--config", "min.insync.replicas=2"],
                       capture_output=True, text=True, timeout=60, env=env())
    assert c.returncode == 0 and c.stdout == "Created topic orders.\n", c.stderr

    def described():
        out = subprocess.run([topics, "--bootstrap-server", bs, "--describe", "--topic", "orders"],
                             capture_output=True, text=True, timeout=60, env=env()).stdout.splitlines()
        return out if len(out) == 7 and all(len(x.split("Isr: ")[-1].split(",")) == 3 for x in out[1:]) else None
    lines = wait_for(described, timeout=30, interval=0.3, desc="6 partitions with a full ISR")
    assert lines[0] == "Topic: orders\tPartitionCount: 6\tReplicationFactor: 3\tConfigs: min.insync.replicas=2"
    for p, line in enumerate(lines[1:]):
        m = re.fullmatch(r"\tTopic: orders\tPartition: (\d+)\tLeader: (\d+)\tReplicas: ([\d,]+)\tIsr: ([\d,]+)", line)
        assert m, line
        assert int(m.group(1)) == p
        replicas = m.group(3).split(",")
        assert sorted(replicas) == ["1", "2", "3"] and sorted(m.group(4).split(",")) == ["1", "2", "3"], line
        assert m.group(2) in replicas


def test_member_actions_on_a_broker(up):
    d, _, _ = up
    r = run("kill", "broker-2", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert "killed broker-2" in r.stderr
    assert broker_role(d, "broker-2") == "down"
    r = run("start", "broker-2", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert broker_role(d, "broker-2") in ("broker", "controller")

    r = run("pause", "broker-2", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert broker_role(d, "broker-2") == "paused"
    r = run("resume", "broker-2", "--dir", d)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: broker_role(d, "broker-2") in ("broker", "controller"), timeout=30, interval=0.3,
             desc="broker-2 registered again after resume")

    r = run("stop", "broker-3", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert broker_role(d, "broker-3") == "down"
    r = run("restart", "broker-3", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert broker_role(d, "broker-3") in ("broker", "controller")
    rows, text = status(d)
    assert sorted(rows["broker-%d" % k][3] for k in (1, 2, 3)).count("controller") == 1, text


def test_down_and_wipe(tmp_path):
    d = str(tmp_path / "c")
    base = free_block()
    r = run("up", "--dir", d, "--coord", "1", "--brokers", "1", "--base-port", str(base),
            "--broker-base-port", str(base + 20))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1] == "brokers: 127.0.0.1:%d" % (base + 20)
    pids = [open(os.path.join(d, m, f)).read().strip() for m, f in (("coord-1", "coord.pid"),
                                                                   ("broker-1", "broker.pid"))]
    r = run("down", "--dir", d)
    assert r.returncode == 0, r.stderr
    for pid in pids:
        assert not os.path.exists("/proc/%s" % pid) or open("/proc/%s/stat" % pid).read().split(")")[1].split()[0] == "Z"
    assert os.path.isdir(os.path.join(d, "broker-1", "logs"))
    r = run("down", "--dir", d, "--wipe")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(d, "broker-1")) and not os.path.exists(os.path.join(d, "coord-1"))


def test_up_puts_config_keys_in_every_member(tmp_path):
    """--broker-config / --coord-config (issue 15): any key in every
    member's file, replacing what the script writes, kept across restarts and
    applied to a folder written earlier."""
    d = str(tmp_path / "c")
    base = free_block()
    r = run("up", "--dir", d, "--coord", "1", "--brokers", "1", "--base-port", str(base),
            "--broker-base-port", str(base + 20), "--broker-config", "num.partitions=4",
            "--broker-config", "zookeeper.session.timeout.ms=7000", "--coord-config", "maxClientCnxns=33")
    try:
        assert r.returncode == 0, r.stderr
        props = open(os.path.join(d, "broker-1", "server.properties")).read().splitlines()
        assert "num.partitions=4" in props
        assert [l for l in props if l.startswith("zookeeper.session.timeout.ms")] == \
            ["zookeeper.session.timeout.ms=7000"]
        with socket.create_connection(("127.0.0.1", base), timeout=5) as s:
            s.sendall(b"conf")
            conf = b"".join(iter(lambda: s.recv(4096), b"")).decode()
        assert "maxClientCnxns=33" in conf.splitlines(), conf
        bs = "127.0.0.1:%d" % (base + 20)

        def partitions_of(topic):
            from kafka import KafkaProducer
            p = KafkaProducer(bootstrap_servers=bs)  # auto-creates the topic with the broker's default
            try:
                p.send(topic, b"x").get(timeout=30)
                return len(p.partitions_for(topic))
            finally:
                p.close()
        assert partitions_of("auto-a") == 4

        # A folder written earlier: its files change, the restarted broker reads them.
        assert run("down", "--dir", d).returncode == 0
        r = run("up", "--dir", d, "--broker-config", "num.partitions=2")
        assert r.returncode == 0, r.stderr
        props = open(os.path.join(d, "broker-1", "server.properties")).read().splitlines()
        assert [l for l in props if l.startswith("num.partitions")] == ["num.partitions=2"]
        assert partitions_of("auto-b") == 2

        bad = run("up", "--dir", d, "--broker-config", "no-equals-sign")
        assert bad.returncode != 0 and "--broker-config takes KEY=VALUE" in bad.stderr
    finally:
        run("down", "--dir", d, "--wipe")
