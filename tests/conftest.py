"""Fixtures for Runnel's end-to-end tests: real servers on 127.0.0.1."""

import logging
import os
import re
import uuid

import pytest
from kazoo.client import KazooClient

import coordproc
from coordproc import CoordServer, LIVE

logging.getLogger("kazoo").setLevel(logging.WARNING)


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
