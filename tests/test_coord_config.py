"""runnel-coord's zoo.cfg handling: bad or unknown keys are errors naming the key."""

import os
import subprocess

import pytest

import coordproc
from coordproc import CoordServer, free_port

pytestmark = pytest.mark.skipif(coordproc.IMPL == "zookeeper",
                                reason="config errors are runnel-coord's own (RUNNEL_COORD_IMPL=zookeeper)")


def run_with(tmp_path, lines, timeout=20):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("\n".join(l.replace("@DATA@", str(data)) for l in lines) + "\n")
    try:
        p = subprocess.run([coordproc.RUNNEL_BIN, "--config", str(cfg)], capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail("runnel-coord kept running with a bad config (it should exit non-zero): %r" % (e.stderr,))
    return p


def base(port):
    return ["tickTime=200", "dataDir=@DATA@", "clientPort=%d" % port, "clientPortAddress=127.0.0.1"]


@pytest.mark.parametrize("line,key", [
    ("noSuchKey=1", "noSuchKey"),
    ("tickTime=abc", "tickTime"),
    ("clientPort=notaport", "clientPort"),
    ("clientPort=70000", "clientPort"),
    ("maxClientCnxns=-x", "maxClientCnxns"),
    ("minSessionTimeout=soon", "minSessionTimeout"),
    ("maxSessionTimeout=1.5", "maxSessionTimeout"),
])
def test_bad_or_unknown_key_is_an_error_naming_the_key(tmp_path, line, key):
    lines = base(free_port())
    k = line.split("=", 1)[0]
    lines = [l for l in lines if not l.startswith(k + "=")] + [line]
    p = run_with(tmp_path, lines)
    assert p.returncode != 0, "exit code 0 with %r; stderr: %s" % (line, p.stderr[-500:])
    assert key in p.stderr, "stderr does not name %s: %s" % (key, p.stderr[-500:])


def test_missing_datadir_is_an_error(tmp_path):
    lines = [l for l in base(free_port()) if not l.startswith("dataDir=")]
    p = run_with(tmp_path, lines)
    assert p.returncode != 0
    assert "dataDir" in p.stderr, p.stderr[-500:]


def test_missing_config_file_is_an_error(tmp_path):
    p = subprocess.run([coordproc.RUNNEL_BIN, "--config", str(tmp_path / "nope.cfg")],
                       capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    assert "nope.cfg" in p.stderr, p.stderr[-500:]


def test_full_standalone_config_is_accepted(tmp_path):
    srv = CoordServer(tmp_path / "srv", kind="runnel", extra_cfg={
        "maxClientCnxns": "10", "minSessionTimeout": "600", "maxSessionTimeout": "3000",
        "initLimit": "5", "syncLimit": "2"})
    # comments and blank lines, as in Apache ZooKeeper's sample zoo.cfg
    with open(srv.cfg_path, "a") as f:
        f.write("\n# a comment\n\n")
    try:
        srv.start()
        conf = dict(l.split("=", 1) for l in srv.four("conf").splitlines() if "=" in l)
        assert conf["minSessionTimeout"] == "600" and conf["maxSessionTimeout"] == "3000"
        assert conf["maxClientCnxns"] == "10"
    finally:
        srv.close()
    assert os.listdir(srv.data_dir), "nothing stored under dataDir"


def test_datalogdir_holds_the_transaction_log_across_a_sigkill(tmp_path, kazoo):
    """ZooKeeper's dataLogDir: a standalone server's transaction log goes
    there (a disk of its own), and writes acknowledged before a SIGKILL are
    read back from it."""
    log_dir = tmp_path / "txlog-disk"
    srv = CoordServer(tmp_path / "srv", kind="runnel", extra_cfg={"dataLogDir": str(log_dir)})
    try:
        srv.start()
        conf = dict(l.split("=", 1) for l in srv.four("conf").splitlines() if "=" in l)
        assert conf["dataLogDir"] == str(log_dir)
        zk = kazoo(srv)
        for i in range(50):
            zk.create("/logged-%d" % i, b"v%d" % i)
        zk.set("/logged-7", b"changed")
        logs = sorted(os.listdir(log_dir / "txnlog"))
        assert logs and all(name.startswith("log.") for name in logs), logs
        zk.stop()
        srv.restart(hard=True)
        zk = kazoo(srv)
        assert zk.get("/logged-49")[0] == b"v49"
        assert zk.get("/logged-7")[0] == b"changed"
        assert len([c for c in zk.get_children("/") if c.startswith("logged-")]) == 50
    finally:
        srv.close()


def filled_standalone(tmp_path, kazoo, snap_count, root, count):
    """A started standalone runnel-coord with `snapCount` set, a client, and
    `count` znodes under `root` (value b"v<i>")."""
    srv = CoordServer(tmp_path / "srv", kind="runnel", extra_cfg={"snapCount": str(snap_count)})
    srv.start()
    zk = kazoo(srv)
    zk.create(root, b"")
    for i in range(count):
        zk.create("%s/n%04d" % (root, i), b"v%d" % i)
    return srv, zk


def test_snapcount_snapshots_the_tree_and_drops_the_covered_log(tmp_path, kazoo):
    """ZooKeeper's snapCount: a standalone server snapshots its tree every
    snapCount transactions or so and deletes the log files the snapshot
    covers, so the log does not grow without end; after a SIGKILL the
    snapshot plus the log after it give back every acknowledged write."""
    srv, zk = filled_standalone(tmp_path, kazoo, 100, "/snap", 1000)
    try:
        for i in range(0, 1000, 7):
            zk.set("/snap/n%04d" % i, b"changed")
        snapshot = os.path.join(srv.data_dir, "snapshot", "standalone")
        log_dir = os.path.join(srv.data_dir, "txnlog")
        # About 1150 transactions at snapCount 100: snapshots were taken, and
        # the log holds what came after the last one only.
        assert os.path.exists(snapshot)
        logged = sum(os.path.getsize(os.path.join(log_dir, f)) for f in os.listdir(log_dir))
        assert len(os.listdir(log_dir)) <= 3, os.listdir(log_dir)
        assert logged < 40_000, logged
        zk.stop()
        srv.restart(hard=True)
        zk = kazoo(srv)
        children = zk.get_children("/snap")
        assert len(children) == 1000
        for i in range(1000):
            want = b"changed" if i % 7 == 0 else b"v%d" % i
            assert zk.get("/snap/n%04d" % i)[0] == want, i
    finally:
        srv.close()


def test_a_standalone_data_folder_becomes_an_ensemble_members_state(tmp_path, kazoo):
    """A standalone server's data folder (a snapshot plus the log after it,
    its last writes only in the log after a SIGKILL) started as an ensemble
    member (here an ensemble of one: a server.1 line and myid): every
    acknowledged znode is there, and the standalone files are gone."""
    srv, zk = filled_standalone(tmp_path, kazoo, 40, "/moved", 100)
    try:
        zk.stop()
        srv.kill()
        with open(os.path.join(srv.data_dir, "myid"), "w") as f:
            f.write("1\n")
        srv.extra_cfg["server.1"] = "127.0.0.1:%d" % free_port()
        srv.write_config()
        srv.start()
        zk = kazoo(srv)
        assert len(zk.get_children("/moved")) == 100
        assert zk.get("/moved/n0099")[0] == b"v99"
        assert "Mode: leader" in srv.four("srvr")
        snapshot_dir = os.path.join(srv.data_dir, "snapshot")
        assert not os.path.exists(os.path.join(snapshot_dir, "standalone"))
        assert not os.path.exists(os.path.join(srv.data_dir, "txnlog"))
        zk.set("/moved/n0000", b"after")
        assert zk.get("/moved/n0000")[0] == b"after"
    finally:
        srv.close()
