"""runnel-coord's Prometheus endpoint, turned on by ZooKeeper 3.8's zoo.cfg keys
(metricsProvider.className = ZooKeeper's PrometheusMetricsProvider,
metricsProvider.httpHost / httpPort), with ZooKeeper's metric names.

  * standalone: the tree's figures move by exactly what a kazoo client did
    (znodes, an ephemeral, a watch), and agree with mntr;
  * a 3-member ensemble: one leader, quorum_size 3 everywhere, and the Raft
    commit index the same on every member once a write is in;
  * a className that is not Prometheus's, and a port in use, stop the server
    with a message naming the key.
"""

import socket
import subprocess
import urllib.error
import urllib.request

import pytest

import coordproc
from coordproc import CoordServer, free_port, wait_for
from ensemble import Ensemble, kazoo_client, stop_client

pytestmark = pytest.mark.skipif(coordproc.IMPL == "zookeeper",
                                reason="runnel-coord's endpoint (Debian's ZooKeeper has no Prometheus jar)")

PROMETHEUS = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"


def metrics_cfg(port):
    return {"metricsProvider.className": PROMETHEUS,
            "metricsProvider.httpHost": "127.0.0.1",
            "metricsProvider.httpPort": str(port),
            "metricsProvider.exportJvmInfo": "true"}


def scrape(port, timeout=5.0):
    """GET /metrics, parsed: {'name' or 'name{labels}': value} and {name: type}."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=timeout) as r:
        assert r.status == 200
        assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
        text = r.read().decode()
    values, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values, types


def mntr(srv):
    return dict(l.split("\t", 1) for l in srv.four("mntr").splitlines() if "\t" in l)


@pytest.fixture
def standalone(tmp_path):
    port = free_port()
    srv = CoordServer(tmp_path / "srv", kind="runnel", extra_cfg=metrics_cfg(port))
    srv.metrics_port = port
    srv.start()
    yield srv
    srv.close()


def test_standalone_figures_follow_what_a_client_did(standalone):
    srv = standalone
    m0, types = scrape(srv.metrics_port)
    for name in ("znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
                 "num_alive_connections", "outstanding_requests", "avg_latency", "max_latency",
                 "min_latency", "packets_received", "packets_sent", "open_file_descriptor_count",
                 "max_file_descriptor_count", "quorum_size", "server_state", "global_sessions"):
        assert types.get(name) == "gauge", (name, types.get(name))
    assert types.get("runnel_coord_request_latency_seconds") == "histogram"
    assert m0['server_state{state="standalone"}'] == 1
    assert m0["quorum_size"] == 1
    assert not any(k.startswith("runnel_coord_raft_") for k in m0), "standalone has no Raft"

    n = 5
    zk = kazoo_client(srv.hosts)
    try:
        zk.create("/metrics-test", b"root")
        for i in range(n):
            zk.create("/metrics-test/n%d" % i, b"x" * 10)
        zk.create("/metrics-test/eph", b"", ephemeral=True)
        zk.exists("/metrics-test/n0", watch=lambda event: None)
        zk.get("/metrics-test/n1")

        m1, _ = scrape(srv.metrics_port)
        assert m1["znode_count"] == m0["znode_count"] + n + 2  # root, n children, the ephemeral
        assert m1["ephemerals_count"] == m0["ephemerals_count"] + 1
        assert m1["watch_count"] == m0["watch_count"] + 1
        assert m1["num_alive_connections"] >= 1
        assert m1["global_sessions"] >= m0["global_sessions"] + 1
        # paths and data: "/metrics-test" + "root", n x ("/metrics-test/nI" + 10 bytes), "/metrics-test/eph"
        grown = len("/metrics-test") + 4 + n * (len("/metrics-test/n0") + 10) + len("/metrics-test/eph")
        assert m1["approximate_data_size"] == m0["approximate_data_size"] + grown
        assert m1["packets_received"] >= m0["packets_received"] + n + 4
        assert m1["packets_sent"] >= m0["packets_sent"] + n + 4
        assert m1['runnel_coord_request_latency_seconds_count{op="update"}'] >= n + 2
        assert m1['runnel_coord_request_latency_seconds_count{op="read"}'] >= 2
        assert m1["max_latency"] >= m1["min_latency"] >= 0
        assert m1["open_file_descriptor_count"] > 0
        assert m1["max_file_descriptor_count"] >= m1["open_file_descriptor_count"]

        # one source for mntr and /metrics (nothing changes in between)
        mn = mntr(srv)
        assert int(mn["zk_znode_count"]) == m1["znode_count"]
        assert int(mn["zk_ephemerals_count"]) == m1["ephemerals_count"]
        assert int(mn["zk_approximate_data_size"]) == m1["approximate_data_size"]
        assert int(mn["zk_watch_count"]) == m1["watch_count"]

        conf = dict(l.split("=", 1) for l in srv.four("conf").splitlines() if "=" in l)
        assert conf["metricsProvider.className"] == PROMETHEUS
        assert conf["metricsProvider.httpPort"] == str(srv.metrics_port)
    finally:
        stop_client(zk)

    # the session's end takes its ephemeral and its watch along
    def settled():
        m, _ = scrape(srv.metrics_port)
        return m["ephemerals_count"] == m0["ephemerals_count"] and \
            m["watch_count"] == m0["watch_count"] and m
    m2 = wait_for(settled, timeout=10, desc="ephemeral and watch gone with the session")
    assert m2["znode_count"] == m0["znode_count"] + n + 1


def test_unknown_paths_are_404(standalone):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen("http://127.0.0.1:%d/nope" % standalone.metrics_port, timeout=5)
    assert e.value.code == 404


@pytest.mark.ensemble
def test_ensemble_members_report_one_leader_and_the_same_commit_index(tmp_path):
    ens = Ensemble(tmp_path, n=3)
    ports = {}
    for m in ens:
        ports[m.myid] = free_port()
        m.extra_cfg.update(metrics_cfg(ports[m.myid]))
        m.write_config()
    zk = None
    try:
        leader = ens.start().leader()

        def scrape_all():
            return {k: scrape(p)[0] for k, p in ports.items()}

        # every member has taken part in the leader's term
        def settled():
            ms = scrape_all()
            leaders = [k for k, m in ms.items() if m.get('server_state{state="leader"}') == 1]
            terms = {m["runnel_coord_raft_term"] for m in ms.values()}
            return len(leaders) == 1 and len(terms) == 1 and (leaders[0], ms)
        found, ms = wait_for(settled, timeout=10, desc="one leader, one term")
        assert found == leader
        for k, m in ms.items():
            assert m["quorum_size"] == 3, (k, m["quorum_size"])
            if k != leader:
                assert m['server_state{state="follower"}'] == 1
                assert "learners" not in m and "synced_followers" not in m
        assert ms[leader]["learners"] == 2

        before = max(m["runnel_coord_raft_commit_index"] for m in ms.values())
        zk = kazoo_client(ens.hosts_of([k for k in ens.ids if k != leader][:1]))
        zk.create("/metrics-ensemble", b"v")

        def same_commit():
            ms = scrape_all()
            commits = {m["runnel_coord_raft_commit_index"] for m in ms.values()}
            applied = {m["runnel_coord_raft_applied_index"] for m in ms.values()}
            ok = len(commits) == 1 and commits == applied and commits.pop() > before
            return ok and ms
        ms = wait_for(same_commit, timeout=10, desc="commit index equal on every member")
        for k, m in ms.items():
            assert m["runnel_coord_raft_last_log_index"] >= m["runnel_coord_raft_commit_index"], k
        assert len({m["znode_count"] for m in ms.values()}) == 1
        assert wait_for(lambda: scrape(ports[leader])[0]["synced_followers"] == 2, timeout=10,
                        desc="both followers synced")
    finally:
        if zk is not None:
            stop_client(zk)
        ens.close()


def run_with(tmp_path, extra, timeout=20):
    """Runs runnel-coord on a config with `extra` keys; it must exit."""
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    cfg = tmp_path / "zoo.cfg"
    items = {"tickTime": "200", "dataDir": str(data), "clientPort": str(free_port()),
             "clientPortAddress": "127.0.0.1"}
    items.update(extra)
    cfg.write_text("".join("%s=%s\n" % kv for kv in items.items()))
    try:
        return subprocess.run([coordproc.RUNNEL_BIN, "--config", str(cfg)], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail("runnel-coord kept running (it should exit non-zero): %r" % (e.stderr,))


def test_another_metrics_provider_is_a_config_error(tmp_path):
    p = run_with(tmp_path, {"metricsProvider.className": "com.example.MyMetricsProvider"})
    assert p.returncode != 0
    assert "metricsProvider.className" in p.stderr, p.stderr[-500:]


def test_bad_metrics_port_is_a_config_error(tmp_path):
    p = run_with(tmp_path, dict(metrics_cfg(free_port()), **{"metricsProvider.httpPort": "seventy"}))
    assert p.returncode != 0
    assert "metricsProvider.httpPort" in p.stderr, p.stderr[-500:]


def test_metrics_port_in_use_stops_the_server(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        p = run_with(tmp_path, metrics_cfg(held.getsockname()[1]))
    assert p.returncode != 0
    assert "metricsProvider.httpPort" in p.stderr, p.stderr[-500:]
