"""Prometheus metrics of a whole cluster, scraped by a real Prometheus
(Debian's `prometheus` package), as an operator would watch a failover.

`scripts/cluster.sh up` enables metrics on every member and prints one
`metrics: NAME URL` line per member; Prometheus scrapes those URLs every
second. Through Prometheus's HTTP API the test finds: every target up,
messages-in rising under load and adding up to what was produced,
`activecontrollercount` summing to 1, under-replicated partitions > 0
while a broker is down and 0 after it rejoined (with an ISR shrink and an
expansion counted), and consumer group lag equal to what
`consumer-groups.sh --describe` prints. Coord members' ZooKeeper-named
metrics are scraped from the same Prometheus.

Direct scrapes check the text format and a bad `metrics.listener`.
"""

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from brokerproc import describe_rows
from procutil import wait_for
from test_replication_cluster_script import free_block, run

pytestmark = pytest.mark.timeout(300)

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


class Prometheus:
    def __init__(self, folder, targets, port):
        self.url = "http://127.0.0.1:%d" % port
        cfg = os.path.join(folder, "prometheus.yml")
        jobs = {}
        for name, url in targets.items():
            u = urllib.parse.urlparse(url)
            jobs.setdefault(name.split("-")[0], []).append((name, u.netloc))
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n")
            for job, members in jobs.items():
                f.write("  - job_name: %s\n    scrape_timeout: 1s\n    static_configs:\n" % job)
                for name, hostport in members:
                    f.write("      - targets: ['%s']\n        labels: {member: '%s'}\n" % (hostport, name))
        self.log = open(os.path.join(folder, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(folder, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, expr):
        """Instant query: [(labels, value)]."""
        _, _, body = get(self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        data = json.loads(body)
        assert data["status"] == "success", data
        return [(r["metric"], float(r["value"][1])) for r in data["data"]["result"]]

    def scalar(self, expr):
        r = self.query(expr)
        return r[0][1] if r else None

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """A 3+3 cluster from cluster.sh and a Prometheus scraping it."""
    folder = tmp_path_factory.mktemp("metrics")
    d = str(folder / "cluster")
    base = free_block()
    r = run("up", "--dir", d, "--base-port", str(base), "--peer-base-port", str(base + 10),
            "--broker-base-port", str(base + 20))
    prom = None
    try:
        assert r.returncode == 0, "up failed:\n%s\n%s" % (r.stdout, r.stderr)
        targets = {}
        for line in r.stdout.splitlines():
            if line.startswith("metrics: "):
                _, name, url = line.split()
                targets[name] = url
        bootstrap = next(l.split()[1] for l in r.stdout.splitlines() if l.startswith("brokers: "))
        prom = Prometheus(str(folder), targets, base + 30)
        wait_for(lambda: prom.scalar('count(up == 1)') == 6, timeout=60, interval=0.5,
                 desc="Prometheus scraping all six members")
        yield d, base, bootstrap, targets, prom, r
    finally:
        if prom:
            prom.close()
        run("down", "--dir", d, "--wipe")


def test_up_prints_a_metrics_url_per_member(watched):
    d, base, _, targets, _, r = watched
    assert targets == {
        "coord-1": "http://127.0.0.1:%d/metrics" % (base + 5000),
        "coord-2": "http://127.0.0.1:%d/metrics" % (base + 5001),
        "coord-3": "http://127.0.0.1:%d/metrics" % (base + 5002),
        "broker-1": "http://127.0.0.1:%d/metrics" % (base + 1020),
        "broker-2": "http://127.0.0.1:%d/metrics" % (base + 1021),
        "broker-3": "http://127.0.0.1:%d/metrics" % (base + 1022),
    }, r.stdout
    status, ctype, body = get(targets["broker-1"])
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4"), ctype
    assert "# TYPE kafka_server_replicamanager_underreplicatedpartitions gauge" in body
    status, _, body = get(targets["coord-1"])
    assert status == 200 and "znode_count" in body


def produce(bootstrap, topic, n, partitions, until=None):
    """Sends n records (or, with `until`, batches of n every 100 ms until
    it is set); returns how many were acknowledged."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    delivered = []
    i = 0
    while True:
        for _ in range(n):
            p.produce(topic, value=b"v%d" % i, partition=i % partitions,
                      on_delivery=lambda err, msg: delivered.append(err is None))
            i += 1
            if i % 500 == 0:
                p.poll(0)
        if until is None or until.wait(0.1):
            break
    p.flush(60)
    assert len(delivered) == i
    return sum(delivered)


def test_messages_in_rise_under_load_and_one_controller_is_active(watched):
    _, _, bootstrap, _, prom, _ = watched
    from eosutil import create_topic
    topic = create_topic(bootstrap, "metrics-load", 6, 3, config={"min.insync.replicas": "2"})
    expr = 'sum(kafka_server_brokertopicmetrics_messagesin_total{topic="%s"})' % topic
    acked = []
    stop = threading.Event()
    t = threading.Thread(target=lambda: acked.append(produce(bootstrap, topic, 200, 6, until=stop)))
    t.start()
    seen = []
    try:
        # Rising while the load runs: two different non-zero readings.
        def rising():
            v = prom.scalar(expr)
            if v:
                seen.append(v)
            return len(set(seen)) >= 2
        wait_for(rising, timeout=60, interval=0.5, desc="messages-in rising in Prometheus")
    finally:
        stop.set()
        t.join(120)
    assert acked and acked[0] > 0
    total = acked[0]
    # Leaders count each append once: the total reaches what was acknowledged.
    wait_for(lambda: prom.scalar(expr) == total, timeout=30, interval=0.5,
             desc="messages-in adding up to %d (last %s)" % (total, prom.scalar(expr)))
    assert prom.scalar('sum(kafka_controller_kafkacontroller_activecontrollercount)') == 1
    # Bytes in and the per-API request counts are there too.
    assert prom.scalar('sum(kafka_server_brokertopicmetrics_bytesin_total{topic="%s"})' % topic) > total
    assert prom.scalar('sum(kafka_network_requestmetrics_requests_total{request="Produce"})') > 0
    assert prom.scalar('sum(kafka_server_replicamanager_leadercount)') >= 6
    # Followers fetch in incremental fetch sessions (KIP-227): each of the 6
    # partitions has two followers, so leaders hold at least 12 partitions
    # in their followers' sessions.
    wait_for(lambda: (prom.scalar(
        'sum(kafka_server_fetchsessioncache_numincrementalfetchpartitionscached)') or 0) >= 12,
        timeout=30, interval=0.5, desc="followers' fetch sessions cached on the leaders")


def test_under_replicated_partitions_while_a_broker_is_down(watched):
    d, _, bootstrap, _, prom, _ = watched
    from eosutil import create_topic
    create_topic(bootstrap, "metrics-urp", 6, 3, config={"min.insync.replicas": "2"})
    urp = 'sum(kafka_server_replicamanager_underreplicatedpartitions)'
    wait_for(lambda: prom.scalar(urp) == 0, timeout=30, interval=0.5, desc="no URP before the kill")
    shrinks = prom.scalar('sum(kafka_server_replicamanager_isrshrinks_total)') or 0
    r = run("kill", "broker-3", "--dir", d)
    assert r.returncode == 0, r.stderr
    try:
        wait_for(lambda: (prom.scalar(urp) or 0) > 0, timeout=60, interval=0.5,
                 desc="under-replicated partitions > 0 with broker-3 down")
        assert prom.scalar('sum(kafka_server_replicamanager_isrshrinks_total)') > shrinks
        assert prom.scalar('count(up{job="broker"} == 0)') == 1
    finally:
        r = run("start", "broker-3", "--dir", d)
        assert r.returncode == 0, r.stderr
    wait_for(lambda: prom.scalar('count(up{job="broker"} == 1)') == 3, timeout=60, interval=0.5,
             desc="broker-3 scraped again")
    wait_for(lambda: prom.scalar(urp) == 0, timeout=90, interval=0.5,
             desc="no under-replicated partitions after broker-3 rejoined")
    assert prom.scalar('sum(kafka_server_replicamanager_isrexpands_total)') > 0
    assert prom.scalar('sum(kafka_controller_kafkacontroller_activecontrollercount)') == 1
    assert prom.scalar('sum(kafka_controller_kafkacontroller_offlinepartitionscount)') == 0


def test_group_lag_matches_consumer_groups_sh(watched):
    _, _, bootstrap, _, prom, _ = watched
    from confluent_kafka import Consumer, TopicPartition
    from eosutil import create_topic
    topic = create_topic(bootstrap, "metrics-lag", 3, 3)
    assert produce(bootstrap, topic, 300, 3) == 300
    group = "metrics-lag-group"
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        # Commit a different position per partition: 10, 40, 70.
        c.commit(offsets=[TopicPartition(topic, p, 10 + 30 * p) for p in range(3)], asynchronous=False)
    finally:
        c.close()
    rows = describe_rows(bootstrap, group)
    want = {p: int(rows[p][5]) for p in range(3)}
    assert want == {0: 90, 1: 60, 2: 30}, rows

    def lag():
        got = prom.query('kafka_consumergroup_lag{consumergroup="%s"}' % group)
        return {int(m["partition"]): v for m, v in got} == want
    wait_for(lag, timeout=30, interval=0.5,
             desc="Prometheus lag %s equal to consumer-groups.sh %s" % (
                 prom.query('kafka_consumergroup_lag{consumergroup="%s"}' % group), want))
    cur = prom.query('kafka_consumergroup_current_offset{consumergroup="%s"}' % group)
    assert {int(m["partition"]): v for m, v in cur} == {0: 10, 1: 40, 2: 70}


def test_coord_members_in_prometheus(watched):
    _, _, _, _, prom, _ = watched
    # Every member reports the same tree: the chroot and the brokers' nodes.
    counts = [v for _, v in prom.query('znode_count{job="coord"}')]
    assert len(counts) == 3 and min(counts) > 10, counts
    assert prom.scalar('sum(num_alive_connections{job="coord"})') >= 3


@pytest.mark.parametrize("value,reason", [("nonsense", "expected host:port"),
                                          ("127.0.0.1:99999", "expected host:port")])
def test_a_bad_metrics_listener_is_refused_naming_the_key(tmp_path, value, reason):
    from brokerproc import broker_bin
    cfg = tmp_path / "server.properties"
    cfg.write_text("broker.id=1\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs=%s\n"
                   "zookeeper.connect=127.0.0.1:1\nmetrics.listener=%s\n" % (tmp_path / "logs", value))
    r = subprocess.run([broker_bin(), "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "metrics.listener" in r.stderr and reason in r.stderr, r.stderr
