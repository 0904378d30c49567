"""Sessions, restarts and four-letter words.

Every test runs against runnel-coord and, as the reference, against Apache
ZooKeeper 3.8 with the same assertions (ids "apache-zk" / "runnel-coord").
"""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from kazoo.client import KazooState
from kazoo.protocol.states import EventType

import zkproto
from coordproc import poll_until, wait_for
from tracing import KazooEvents, Trace
from zkproto import CreateMode, RawClient, SessionExpired

FAST_RETRY = dict(max_tries=-1, delay=0.05, backoff=1, max_jitter=0.05, max_delay=0.2)


@pytest.fixture(params=["zookeeper", None], ids=["apache-zk", "runnel-coord"])
def server(request, make_server):
    return make_server(kind=request.param)


# ------------------------------------------------------------- handshake

def test_handshake_negotiates_timeout_and_readonly_byte(server):
    got = {}
    for asked in (100, 1000, 2500, 100000):
        r = RawClient(server.port, timeout_ms=asked)
        got[asked] = r.timeout_ms
        assert r.protocol_version == 0
        assert r.session_id != 0 and len(r.passwd) == 16
        assert r.read_only is False       # 3.5+ clients send the readOnly byte and get it back
        r.close()
    # tickTime=200: minSessionTimeout 400 ms, maxSessionTimeout 4000 ms
    assert got == {100: 400, 1000: 1000, 2500: 2500, 100000: 4000}
    old = RawClient(server.port, with_readonly_byte=False)
    assert old.session_id != 0
    assert old.read_only is None          # no readOnly byte in the answer to an old client
    assert old.exists("/").error == "OK"
    old.close()


def test_resume_session_and_wrong_password(server):
    a = RawClient(server.port, timeout_ms=4000)
    assert a.create("/resume-eph", b"", CreateMode.EPHEMERAL).error == "OK"
    with pytest.raises(SessionExpired):
        RawClient(server.port, session_id=a.session_id, passwd=bytes(16))
    with pytest.raises(SessionExpired):
        RawClient(server.port, session_id=0x7A7A7A7A, passwd=a.passwd)
    # right password: the same session on a new connection; the old connection is closed
    b = RawClient(server.port, session_id=a.session_id, passwd=a.passwd, last_zxid=a.last_zxid)
    assert b.session_id == a.session_id
    closed, _ = zkproto.connection_closed_by_peer(a.sock, timeout=5)
    assert closed, "server kept the old connection of a session that moved to a new one"
    st = b.exists("/resume-eph")
    assert st.error == "OK" and st.reader().stat().ephemeralOwner == a.session_id
    b.close()
    a.close_socket()
    c = RawClient(server.port)
    assert c.exists("/resume-eph").error == "NoNode"
    c.close()


def test_client_ahead_of_server_is_refused(server):
    r = RawClient(server.port)
    r.create("/ahead", b"")
    with pytest.raises((zkproto.ConnectionClosed, ConnectionError)):
        RawClient(server.port, last_zxid=r.last_zxid + 1000)
    # a client that has seen exactly what the server has is fine
    ok = RawClient(server.port, last_zxid=r.last_zxid)
    assert ok.exists("/ahead").error == "OK"
    ok.close()
    r.close()


# ------------------------------------------------------------- expiry

OWNER_SCRIPT = r"""
import json, sys
from kazoo.client import KazooClient
hosts, root = sys.argv[1], sys.argv[2]
retry = dict(max_tries=-1, delay=0.05, backoff=1, max_jitter=0.05, max_delay=0.2)
c = KazooClient(hosts=hosts, timeout=1.0, connection_retry=retry)
c.add_listener(lambda st: print(json.dumps({"state": st}), flush=True))
c.start(timeout=15)
c.create(root + "/owner-eph", b"", ephemeral=True)
c.create(root + "/list/item-", b"", ephemeral=True, sequence=True)
print(json.dumps({"ready": c.client_id[0]}), flush=True)
for line in sys.stdin:
    if line.strip() == "check":
        print(json.dumps({"exists": c.exists(root + "/owner-eph") is not None,
                          "session": c.client_id[0],
                          "connected": c.connected}), flush=True)
    elif line.strip() == "quit":
        break
c.stop()
"""


class Child:
    """A Python subprocess that prints JSON lines; read with a deadline."""

    def __init__(self, args):
        self.proc = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT] + args,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                pass

    def expect(self, pred, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("child did not print what was expected; seen: %r" % self.seen)
            try:
                msg = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(msg)
            if pred(msg):
                return msg

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
        self.proc.wait()


def test_expiry_deletes_ephemerals_fires_watches_once_and_client_sees_expired(server, kazoo):
    root = "/expiry"
    w = kazoo(server, timeout=4.0)
    w.create(root + "/list", makepath=True)
    owner = Child([server.hosts, root])
    try:
        sid = owner.expect(lambda m: "ready" in m, 30)["ready"]
        ev = KazooEvents(w, Trace("/no-relative-paths"))
        assert w.exists(root + "/owner-eph", watch=ev.watcher("exists")).ephemeralOwner == sid
        assert len(w.get_children(root + "/list", watch=ev.watcher("children"))) == 1
        w.get(root + "/owner-eph", watch=ev.watcher("data"))
        os.kill(owner.proc.pid, signal.SIGSTOP)       # the owner stops pinging
        events = ev.take(expect=3, timeout=15)
        assert sorted((name, typ, path) for name, typ, _, path in events) == [
            ("children", EventType.CHILD, root + "/list"),
            ("data", EventType.DELETED, root + "/owner-eph"),
            ("exists", EventType.DELETED, root + "/owner-eph"),
        ], "expected one NodeDeleted per watch and one NodeChildrenChanged"
        assert w.exists(root + "/owner-eph") is None
        assert w.get_children(root + "/list") == []
        # nothing more arrives (each one-shot watch fired exactly once)
        w.create(root + "/list/after", b"")
        assert ev.take() == []
        os.kill(owner.proc.pid, signal.SIGCONT)       # the owner comes back: its session is gone
        owner.expect(lambda m: m.get("state") == KazooState.LOST, 20)
        owner.expect(lambda m: m.get("state") == KazooState.CONNECTED, 20)
        owner.send("check")
        msg = owner.expect(lambda m: "exists" in m, 20)
        assert msg["exists"] is False and msg["session"] != sid
    finally:
        owner.close()


def test_raw_session_expires_without_pings_and_not_with_them(server):
    live = RawClient(server.port, timeout_ms=400)
    idle = RawClient(server.port, timeout_ms=400)
    assert (live.timeout_ms, idle.timeout_ms) == (400, 400)
    assert live.create("/live-eph", b"", CreateMode.EPHEMERAL).error == "OK"
    assert idle.create("/idle-eph", b"", CreateMode.EPHEMERAL).error == "OK"
    observer = RawClient(server.port, timeout_ms=4000)
    deadline = time.monotonic() + 3.0                  # 7.5 session timeouts
    idle_gone_at = None
    while time.monotonic() < deadline:
        live.ping()
        if idle_gone_at is None and observer.exists("/idle-eph").err == -101:
            idle_gone_at = time.monotonic()
        time.sleep(0.05)
    assert idle_gone_at is not None, "idle session's ephemeral still there after 3 s (timeout 400 ms)"
    assert observer.exists("/live-eph").error == "OK", "a pinging session expired"
    # the expired session's connection is closed by the server; resuming it fails
    closed, _ = zkproto.connection_closed_by_peer(idle.sock, timeout=5)
    assert closed
    with pytest.raises(SessionExpired):
        RawClient(server.port, session_id=idle.session_id, passwd=idle.passwd)
    live.close()
    observer.close()


# ------------------------------------------------------------- restarts

def test_restart_keeps_tree_and_open_sessions(server, kazoo):
    states = []
    kz = kazoo(server, timeout=4.0, connection_retry=FAST_RETRY)
    kz.add_listener(states.append)
    kz.create("/keep/a/b", b"deep", makepath=True)
    kz.set("/keep/a", b"v2")
    kz.create("/keep/seq-", b"", sequence=True)
    eph = kz.create("/keep/eph", b"mine", ephemeral=True)
    sid = kz.client_id[0]
    before = {p: kz.get(p) for p in ("/keep", "/keep/a", "/keep/a/b", eph)}
    server.kill()
    server.start()
    wait_for(lambda: kz.connected, 15, desc="kazoo reconnect after restart")
    assert KazooState.LOST not in states, "the session was lost across the restart: %r" % states
    assert kz.client_id[0] == sid
    for p, (data, stat) in before.items():
        data2, stat2 = kz.get(p)
        assert data2 == data, p
        for f in ("czxid", "mzxid", "pzxid", "version", "cversion", "numChildren",
                  "ephemeralOwner", "dataLength", "ctime", "mtime"):
            assert getattr(stat2, f) == getattr(stat, f), (p, f)
    assert kz.exists(eph).ephemeralOwner == sid
    # children a, seq-0000000001, eph: the parent's cversion (3) survived
    assert kz.create("/keep/seq-", b"", sequence=True) == "/keep/seq-0000000003"
    # writes go on after the restart
    kz.set("/keep/a/b", b"after")
    assert kz.get("/keep/a/b")[0] == b"after"


def test_restart_then_unresumed_session_expires(server, kazoo):
    r = RawClient(server.port, timeout_ms=1000)
    assert r.create("/gone-eph", b"", CreateMode.EPHEMERAL).error == "OK"
    r.close_socket()          # the client dies with the server; its session must not survive forever
    server.kill()
    server.start()
    w = kazoo(server, timeout=4.0)
    stat = w.exists("/gone-eph")
    assert stat is not None and stat.ephemeralOwner == r.session_id, "session lost at restart"
    ev = KazooEvents(w, Trace("/no-relative-paths"))
    w.exists("/gone-eph", watch=ev.watcher("exists"))
    events = ev.take(expect=1, timeout=15)
    assert [(typ, path) for _, typ, _, path in events] == [(EventType.DELETED, "/gone-eph")]


def test_repeated_restarts_keep_data(server, kazoo):
    kz = kazoo(server, timeout=4.0, connection_retry=FAST_RETRY)
    for i in range(3):
        kz.create("/rr/n%d" % i, str(i).encode(), makepath=True)
        server.kill()
        server.start()
        wait_for(lambda: kz.connected, 15, desc="reconnect")
        assert sorted(kz.get_children("/rr")) == ["n%d" % j for j in range(i + 1)]
    assert [kz.get("/rr/n%d" % j)[0] for j in range(3)] == [b"0", b"1", b"2"]


# ------------------------------------------------------------- four-letter words

def test_four_letter_words(server, kazoo):
    kz = kazoo(server, timeout=4.0)
    sid = kz.client_id[0]
    assert server.four("ruok") == "imok"

    def mntr():
        out = server.four("mntr")
        kv = {}
        for line in out.splitlines():
            if line:
                k, _, v = line.partition("\t")
                kv[k] = v
        return kv

    m0 = mntr()
    for key in ("zk_version", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
                "zk_packets_received", "zk_packets_sent", "zk_num_alive_connections",
                "zk_outstanding_requests", "zk_server_state", "zk_znode_count",
                "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size"):
        assert key in m0, "mntr lacks %s" % key
    assert m0["zk_server_state"] == "standalone"
    assert int(m0["zk_num_alive_connections"]) >= 1
    kz.create("/fl/a/b", b"12345", makepath=True)
    kz.create("/fl/e", b"", ephemeral=True)
    m1 = mntr()
    assert int(m1["zk_znode_count"]) == int(m0["zk_znode_count"]) + 4
    assert int(m1["zk_ephemerals_count"]) == int(m0["zk_ephemerals_count"]) + 1

    srvr = server.four("srvr").splitlines()
    assert srvr[0].startswith("Zookeeper version: ")
    assert re.match(r"^Latency min/avg/max: \d+/[\d.]+/\d+$", srvr[1]), srvr[1]
    for prefix, pat in (("Received: ", r"\d+"), ("Sent: ", r"\d+"), ("Connections: ", r"\d+"),
                        ("Outstanding: ", r"\d+"), ("Zxid: ", r"0x[0-9a-f]+"),
                        ("Mode: ", r"standalone"), ("Node count: ", r"\d+")):
        line = [l for l in srvr if l.startswith(prefix)]
        assert line and re.fullmatch(re.escape(prefix) + pat, line[0]), (prefix, srvr)
    zxid = int([l for l in srvr if l.startswith("Zxid: ")][0][6:], 16)
    assert zxid >= kz.exists("/fl/e").czxid
    assert int([l for l in srvr if l.startswith("Node count: ")][0][12:]) == int(m1["zk_znode_count"])

    stat = server.four("stat").splitlines()
    assert stat[0].startswith("Zookeeper version: ") and stat[1] == "Clients:"
    assert any(re.match(r"^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+", l) for l in stat)
    assert "Mode: standalone" in stat

    conf = dict(l.split("=", 1) for l in server.four("conf").splitlines() if "=" in l)
    assert conf["clientPort"] == str(server.port)
    assert conf["tickTime"] == "200"
    assert conf["minSessionTimeout"] == "400" and conf["maxSessionTimeout"] == "4000"
    assert conf["maxClientCnxns"] == "200"
    assert conf["dataDir"].startswith(server.data_dir)
    assert conf["serverId"] == "0"

    cons = server.four("cons").splitlines()
    mine = [l for l in cons if "sid=0x%x" % sid in l]
    assert len(mine) == 1, cons
    assert re.match(r"^ /127\.0\.0\.1:\d+\[1\]\(queued=\d+,recved=\d+,sent=\d+,sid=0x[0-9a-f]+,"
                    r"lop=\w+,est=\d+,to=4000,", mine[0]), mine[0]

    envi = server.four("envi").splitlines()
    assert envi[0] == "Environment:"
    assert any(re.match(r"^zookeeper\.version=\d+\.\d+\.\d+", l) for l in envi), envi
    assert any(l.startswith("host.name=") for l in envi)
    v = kz.server_version()
    assert len(v) >= 3 and (3, 5) <= tuple(v[:2]) <= (3, 9), v

    assert server.four("xyzw") == ""
    assert server.four("ruok") == "imok"        # still serving


def test_four_letter_whitelist(make_server):
    results = {}
    for kind in ("zookeeper", None):
        srv = make_server(kind=kind, extra_cfg={"4lw.commands.whitelist": "ruok, srvr"})
        results[srv.kind if kind else "runnel"] = (srv.four("ruok"), srv.four("conf"),
                                                   srv.four("srvr").startswith("Zookeeper version:"))
        srv.close()
    zk, rc = results["zookeeper"], results["runnel"]
    assert zk == ("imok", "conf is not executed because it is not in the whitelist.\n", True)
    assert rc == zk
