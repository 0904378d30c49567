"""Fixtures for Runnel's end-to-end tests: real servers on 127.0.0.1."""

import logging
import os
import signal
import re
import uuid

import pytest
from kazoo.client import KazooClient

import coordproc
from coordproc import CoordServer, LIVE, poll_until
from ensemble import Ensemble, SERVING_MODES

logging.getLogger("kazoo").setLevel(logging.WARNING)

# How long a runnel-coord ensemble gets to show a leader or follower before
# the ensemble tests are skipped as "not supported yet" (see ensemble_supported).
ENSEMBLE_GATE_S = 20.0


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ensemble: runs a 3- or 5-member ensemble (skipped against runnel-coord while it "
                   "has no ensemble support; see ensemble_supported in conftest.py)")


def pytest_report_header(config):
    if coordproc.IMPL == "zookeeper":
        return "runnel-coord slot: Apache ZooKeeper (RUNNEL_COORD_IMPL=zookeeper)"
    return "runnel-coord slot: %s" % coordproc.RUNNEL_BIN


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed:
        for srv in list(LIVE):
            rep.sections.append(("log of %s (%s, port %d), last lines" % (srv.name, srv.kind, srv.port),
                                 srv.log_tail(40)))


def _server(tmp_path_factory, kind, name):
    srv = CoordServer(tmp_path_factory.mktemp(name), kind=kind, name=name)
    srv.start()
    return srv


@pytest.fixture(scope="module")
def zk_server(tmp_path_factory):
    """Apache ZooKeeper 3.8 (Debian package), one per test module."""
    srv = _server(tmp_path_factory, "zookeeper", "apache-zk")
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def coord_server(tmp_path_factory):
    """runnel-coord, one per test module (tests namespace themselves under `root`)."""
    srv = _server(tmp_path_factory, None, "runnel-coord")
    yield srv
    srv.close()


@pytest.fixture
def make_server(tmp_path):
    """Factory for servers owned by one test: make_server(kind=None, start=True, **cfg)."""
    made = []

    def make(kind=None, start=True, name=None, **kw):
        name = name or ("runnel-coord" if (kind or coordproc.IMPL) == "runnel" else "apache-zk")
        srv = CoordServer(tmp_path / ("%s-%d" % (name, len(made))), kind=kind, name=name, **kw)
        made.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    for srv in made:
        srv.close()


@pytest.fixture
def fresh_coord(make_server):
    """A runnel-coord of the test's own (for kill/restart tests)."""
    return make_server()


@pytest.fixture
def kazoo(request):
    """Factory: kazoo(server_or_hosts, timeout=2.0, **kw) -> started KazooClient; stopped at teardown."""
    clients = []

    def connect(server, timeout=2.0, start_timeout=15, **kw):
        hosts = server if isinstance(server, str) else server.hosts
        c = KazooClient(hosts=hosts, timeout=timeout, **kw)
        c.start(timeout=start_timeout)
        clients.append(c)
        return c

    yield connect
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001 - teardown of a client whose server is gone
            pass


@pytest.fixture
def root(request):
    """A unique root znode path for this test."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:60]
    return "/t_%s_%s" % (name, uuid.uuid4().hex[:8])


# ------------------------------------------------------------------ ensembles

@pytest.fixture(scope="session")
def ensemble_supported(tmp_path_factory):
    """Gate for the ensemble tests while runnel-coord has no ensemble mode.

    Against Apache ZooKeeper (RUNNEL_COORD_IMPL=zookeeper) it does nothing.
    Against runnel-coord it starts one 3-member ensemble (server.N lines in
    each zoo.cfg, myid files); if within ENSEMBLE_GATE_S seconds no member
    ever reports `Mode: leader` or `Mode: follower` in srvr, every test that
    uses this fixture is SKIPPED, naming what the members did instead. As
    soon as any member reports leader/follower the tests run (and fail if the
    ensemble misbehaves). RUNNEL_ENSEMBLE_GATE=off disables the gate.
    TODO(ensemble): remove this gate when runnel-coord's ensemble lands.
    """
    if coordproc.IMPL == "zookeeper" or os.environ.get("RUNNEL_ENSEMBLE_GATE", "").lower() in ("off", "0", "no"):
        return
    probe = Ensemble(tmp_path_factory.mktemp("ensemble-probe"), n=3, name="probe")
    seen = {}
    try:
        for m in probe:
            m.start(wait=False)  # a missing binary is an error, not a skip

        def has_role():
            for k, md in probe.modes().items():
                seen.setdefault(k, set()).add(md)
            return any(md in SERVING_MODES for mds in seen.values() for md in mds)

        supported = poll_until(has_role, timeout=ENSEMBLE_GATE_S, interval=0.25)
        exits = {m.myid: m.proc.returncode for m in probe if m.proc is not None and m.proc.poll() is not None}
        last_lines = {m.myid: (m.log_tail(1) or "").strip()[:200] for m in probe if m.myid in exits}
    finally:
        probe.close()
    if not supported:
        modes = {k: sorted(str(x) for x in v) for k, v in seen.items()}
        pytest.skip("runnel-coord has no ensemble support yet: 3 members started with server.1..3 lines "
                    "and myid files, none reported Mode: leader/follower within %.0fs (srvr modes seen: %s%s). "
                    "Remove the ensemble_supported gate in tests/conftest.py when the ensemble lands."
                    % (ENSEMBLE_GATE_S, modes,
                       "; exited: %s, last log lines: %s" % (exits, last_lines) if exits else ""))


@pytest.fixture
def make_ensemble(tmp_path, ensemble_supported):
    """Factory for ensembles owned by one test:
    make_ensemble(n=3, start=True, proxies=False, tick_ms=200, **kw) -> ensemble.Ensemble."""
    made = []

    def make(n=3, start=True, **kw):
        ens = Ensemble(tmp_path / ("ensemble-%d" % len(made)), n=n, **kw)
        made.append(ens)
        if start:
            ens.start()
        return ens

    yield make
    for ens in made:
        ens.close()


@pytest.fixture
def workers():
    """Client-script processes a test starts (procutil.ScriptWorker); killed at teardown."""
    made = []
    yield made
    for w in made:
        w.stop(signal.SIGKILL)
