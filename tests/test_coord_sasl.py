"""SASL DIGEST-MD5 logins for ZooKeeper clients of runnel-coord, as ZooKeeper
3.8 does them: users from a JAAS file's `Server` section, `sasl:<user>` ids
in ACLs, AUTHFAILED (-115) and a closed connection for a failed login,
`enforce.auth.*` answered SESSIONCLOSEDREQUIRESASLAUTH (-124).

Clients: kazoo with pure-sasl (`sasl_options`), zkCli.sh from Debian's
zookeeper package with a JAAS `Client` section, and raw protocol frames for
tokens no real client sends.
"""

import os
import socket
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, ConnectionClosedError, NoAuthError
from kazoo.protocol.states import KeeperState
from kazoo.security import CREATOR_ALL_ACL, make_acl

import coordproc
from coordproc import ZKCLI, CoordServer, run_zkcli, wait_for
from zkproto import Op, RawClient, Writer, connection_closed_by_peer

pytestmark = pytest.mark.skipif(coordproc.IMPL == "zookeeper",
                                reason="runs runnel-coord's jaasLoginConfig key (RUNNEL_COORD_IMPL=zookeeper)")

AUTH_XID = -4
SASL_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
DIGEST_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"
USERS = {"alice": "secret", "bob": "bobsecret", "admin": "adminsecret"}


def write_jaas(path, users=USERS):
    options = "\n".join('    user_%s="%s"' % kv for kv in users.items())
    with open(path, "w") as f:
        f.write("// runnel-coord test users\nServer {\n  %s required\n%s;\n};\n"
                % (DIGEST_MODULE, options))
    return str(path)


def sasl_cfg(jaas, **extra):
    cfg = {"authProvider.1": SASL_PROVIDER, "jaasLoginConfig": jaas, "superUser": "admin"}
    cfg.update(extra)
    return cfg


@pytest.fixture
def sasl_coord(tmp_path):
    jaas = write_jaas(tmp_path / "jaas.conf")
    srv = CoordServer(tmp_path / "coord", kind="runnel", extra_cfg=sasl_cfg(jaas))
    srv.start()
    yield srv
    srv.close()


def sasl_client(srv, user, password, timeout=2.0):
    return KazooClient(hosts=srv.hosts, timeout=timeout,
                       sasl_options={"mechanism": "DIGEST-MD5", "username": user,
                                     "password": password})


@pytest.fixture
def login(request):
    """login(srv, user, password) -> a started client logged in with SASL."""
    clients = []

    def start(srv, user, password):
        c = sasl_client(srv, user, password)
        clients.append(c)
        c.start(timeout=15)
        return c

    yield start
    for c in clients:
        c.stop()
        c.close()


def assert_auth_failed(srv, user, password):
    """kazoo reports the failed login as AUTH_FAILED and stops connecting.

    kazoo 2.11 goes CONNECTED (TCP session), then AUTH_FAILED, and at once
    on to CLOSED (its connection loop ends), so the states it goes through
    are recorded as they happen."""
    c = sasl_client(srv, user, password)
    states = []
    record = c._session_callback

    def spy(state):
        states.append(state)
        record(state)

    c._session_callback = spy
    try:
        c.start_async()
        wait_for(lambda: KeeperState.AUTH_FAILED in states, timeout=15,
                 desc="AUTH_FAILED for %s (states %r)" % (user, states))
        # kazoo counts the TCP session as CONNECTED before its login; what
        # matters is that the login failure ended it.
        assert states[-2:] == [KeeperState.AUTH_FAILED, KeeperState.CLOSED] or \
            states[-1] == KeeperState.AUTH_FAILED, states
        # No retry: the connection loop has stopped for good.
        wait_for(c._connection.connection_stopped.is_set, timeout=10,
                 desc="kazoo to stop connecting")
        assert not c.connected
        with pytest.raises((AuthFailedError, ConnectionClosedError)):
            c.get("/")
    finally:
        c.stop()
        c.close()


def test_login_owns_a_sasl_acl(sasl_coord, login, kazoo):
    path = "/sasl-%s" % uuid.uuid4().hex[:8]
    alice = login(sasl_coord, "alice", "secret")
    alice.create(path, b"alice's", acl=[make_acl("sasl", "alice", all=True)])
    assert alice.get(path)[0] == b"alice's"
    acl, _ = alice.get_acls(path)
    assert [(a.id.scheme, a.id.id, a.perms) for a in acl] == [("sasl", "alice", 31)]

    bob = login(sasl_coord, "bob", "bobsecret")
    with pytest.raises(NoAuthError):
        bob.get(path)
    with pytest.raises(NoAuthError):
        bob.set(path, b"bob was here")
    with pytest.raises(NoAuthError):
        kazoo(sasl_coord).get(path)
    # superUser=admin passes every ACL, as zookeeper.superUser does.
    admin = login(sasl_coord, "admin", "adminsecret")
    assert admin.get(path)[0] == b"alice's"


def test_creator_all_takes_the_sasl_id(sasl_coord, login):
    path = "/creator-%s" % uuid.uuid4().hex[:8]
    alice = login(sasl_coord, "alice", "secret")
    alice.create(path, b"x", acl=CREATOR_ALL_ACL)
    acl, _ = alice.get_acls(path)
    assert [(a.id.scheme, a.id.id, a.perms) for a in acl] == [("sasl", "alice", 31)]
    alice.set_acls(path, CREATOR_ALL_ACL)
    bob = login(sasl_coord, "bob", "bobsecret")
    with pytest.raises(NoAuthError):
        bob.get(path)
    # A digest identity besides: `auth` expands to both.
    alice.add_auth("digest", "alice:pw")
    alice.create(path + "/both", b"", acl=CREATOR_ALL_ACL)
    schemes = sorted(a.id.scheme for a in alice.get_acls(path + "/both")[0])
    assert schemes == ["digest", "sasl"]


def test_wrong_password_and_unknown_user_fail(sasl_coord, kazoo):
    assert_auth_failed(sasl_coord, "alice", "not-the-password")
    assert_auth_failed(sasl_coord, "mallory", "secret")
    # Coord is still up for everybody else.
    assert sasl_coord.alive()
    assert kazoo(sasl_coord).exists("/") is not None
    assert sasl_coord.four("ruok") == "imok"


def sasl_body(token):
    return Writer().buffer(token).bytes()


def test_malformed_tokens_fail_and_close(sasl_coord, kazoo):
    # A well-formed start: the challenge ZooKeeper's server sends.
    c = RawClient(sasl_coord.port)
    r = c.call(Op.SASL, sasl_body(b""))
    assert r.err == 0, r
    challenge = r.reader().buffer()
    assert b'realm="zk-sasl-md5"' in challenge and b"algorithm=md5-sess" in challenge
    assert r.zxid == 0
    r = c.call(Op.SASL, sasl_body(b'username="alice",nonce="\xff\x00'))
    assert r.error == "AuthFailed", r
    assert r.reader().buffer() is None
    closed, _ = connection_closed_by_peer(c.sock)
    assert closed
    c.close_socket()

    for body in [
        sasl_body(b"an initial response DIGEST-MD5 does not take"),
        b"\x00\x01",                      # not even a buffer length
        Writer().int(1 << 20).bytes(),    # a length beyond the body
        sasl_body(b"\x00" * 5000),
    ]:
        c = RawClient(sasl_coord.port)
        r = c.call(Op.SASL, body)
        assert r.error == "AuthFailed", (body[:20], r)
        closed, _ = connection_closed_by_peer(c.sock)
        assert closed
        c.close_socket()
    assert sasl_coord.alive()
    assert kazoo(sasl_coord).exists("/") is not None


def test_without_jaas_sasl_is_refused(tmp_path, kazoo):
    srv = CoordServer(tmp_path / "coord", kind="runnel")
    srv.start()
    try:
        c = RawClient(srv.port)
        r = c.call(Op.SASL, sasl_body(b""))
        assert r.error == "AuthFailed", r
        c.close_socket()
        assert_auth_failed(srv, "alice", "secret")
        assert kazoo(srv).exists("/") is not None
    finally:
        srv.close()


def test_enforce_auth_schemes_sasl(tmp_path, login):
    jaas = write_jaas(tmp_path / "jaas.conf")
    srv = CoordServer(tmp_path / "coord", kind="runnel", extra_cfg=sasl_cfg(
        jaas, **{"enforce.auth.enabled": "true", "enforce.auth.schemes": "sasl"}))
    srv.start()
    try:
        # Unauthenticated: the first request is answered -124 and the
        # connection closed (ZooKeeper's AuthenticationHelper).
        c = RawClient(srv.port)
        r = c.call(Op.EXISTS, Writer().string("/").bool(False).bytes())
        assert r.err == -124, r
        closed, _ = connection_closed_by_peer(c.sock)
        assert closed
        c.close_socket()
        # digest alone is not an enforced scheme.
        c = RawClient(srv.port)
        c.send(Op.AUTH, Writer().int(0).string("digest").buffer(b"u:p").bytes(), xid=AUTH_XID)
        r = c.read_frame(timeout=5)
        assert (r.xid, r.err) == (AUTH_XID, 0), r
        r = c.call(Op.EXISTS, Writer().string("/").bool(False).bytes())
        assert r.err == -124, r
        c.close_socket()
        # A failed login with SASL enforced: -124 instead of -115.
        c = RawClient(srv.port)
        r = c.call(Op.SASL, sasl_body(b"bogus"))
        assert r.err == -124, r
        c.close_socket()
        # A SASL user is served.
        alice = login(srv, "alice", "secret")
        alice.create("/enforced", b"ok")
        assert alice.get("/enforced")[0] == b"ok"
    finally:
        srv.close()


def test_java_property_spellings(tmp_path, login):
    """The JAAS file under the JVM property's name, the provider under its
    system-property name, and jaasLoginRenew, as a ZooKeeper zoo.cfg
    converted from JVM flags would carry them."""
    jaas = write_jaas(tmp_path / "jaas.conf", {"carol": "c-pw"})
    srv = CoordServer(tmp_path / "coord", kind="runnel", extra_cfg={
        "zookeeper.authProvider.sasl": SASL_PROVIDER,
        "java.security.auth.login.config": jaas,
        "jaasLoginRenew": "3600000",
    })
    srv.start()
    try:
        carol = login(srv, "carol", "c-pw")
        carol.create("/carol", b"", acl=[make_acl("sasl", "carol", read=True)])
        assert carol.get("/carol")[0] == b""
        assert_auth_failed(srv, "carol", "wrong")
    finally:
        srv.close()


@pytest.mark.parametrize("line,expect", [
    ("jaasLoginConfig=/nonexistent/jaas.conf", "jaasLoginConfig"),
    ("authProvider.1=com.example.NoSuchProvider", "authProvider.1"),
    ("enforce.auth.enabled=true", "enforce.auth.schemes"),
])
def test_bad_auth_config_refuses_to_start(tmp_path, line, expect):
    import subprocess
    data = tmp_path / "data"
    data.mkdir()
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("tickTime=200\ndataDir=%s\nclientPort=%d\n%s\n"
                   % (data, coordproc.free_port(), line))
    p = subprocess.run([coordproc.RUNNEL_BIN, "--config", str(cfg)], capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    assert expect in p.stderr, p.stderr[-800:]


def test_jaas_file_without_server_section_refuses_to_start(tmp_path):
    import subprocess
    jaas = tmp_path / "jaas.conf"
    jaas.write_text('Client { %s required username="a" password="b"; };\n' % DIGEST_MODULE)
    data = tmp_path / "data"
    data.mkdir()
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text("dataDir=%s\nclientPort=%d\njaasLoginConfig=%s\n"
                   % (data, coordproc.free_port(), jaas))
    p = subprocess.run([coordproc.RUNNEL_BIN, "--config", str(cfg)], capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    assert "Server" in p.stderr and str(jaas) in p.stderr, p.stderr[-800:]


@pytest.mark.skipif(not os.path.exists(ZKCLI), reason="Debian's zookeeper package (zkCli.sh) not installed")
def test_zkcli_sasl_login(sasl_coord, tmp_path, kazoo):
    client_jaas = tmp_path / "client-jaas.conf"
    client_jaas.write_text('Client {\n  %s required\n  username="alice"\n  password="secret";\n};\n'
                           % DIGEST_MODULE)
    path = "/zkcli-sasl-%s" % uuid.uuid4().hex[:8]
    script = "\n".join([
        "create %s from-zkcli" % path,
        "setAcl %s auth::cdrwa" % path,
        "getAcl %s" % path,
        "get %s" % path,
        "whoami",
        "quit",
    ]) + "\n"
    r = run_zkcli(sasl_coord.port, stdin_text=script, timeout=120,
                  jvm_flags=["-Djava.security.auth.login.config=%s" % client_jaas])
    out = r.stdout + r.stderr
    assert "'sasl,'alice" in out, (r.stdout[-2000:], r.stderr[-2000:])
    assert "state:SaslAuthenticated" in r.stdout, r.stdout[-2000:]
    assert "from-zkcli" in r.stdout, r.stdout[-2000:]
    assert "sasl: alice" in r.stdout, r.stdout[-2000:]
    # Only alice may read it now.
    with pytest.raises(NoAuthError):
        kazoo(sasl_coord).get(path)
    # Wrong password: zkCli reports the failed authentication.
    bad_jaas = tmp_path / "bad-jaas.conf"
    bad_jaas.write_text('Client { %s required username="alice" password="nope"; };\n'
                        % DIGEST_MODULE)
    r = run_zkcli(sasl_coord.port, ["get", path], timeout=60,
                  jvm_flags=["-Djava.security.auth.login.config=%s" % bad_jaas])
    assert "from-zkcli" not in r.stdout
    assert "state:AuthFailed" in r.stdout, r.stdout[-2000:]
    assert "KeeperErrorCode = AuthFailed" in r.stdout + r.stderr, r.stdout[-2000:]
    assert r.returncode != 0
    assert sasl_coord.alive()


def test_socket_left_open_after_challenge_does_not_block(sasl_coord, kazoo):
    """A client that stops in the middle of its login holds up nobody."""
    idle = []
    try:
        for _ in range(3):
            c = RawClient(sasl_coord.port)
            c.send(Op.SASL, sasl_body(b""))
            idle.append(c)
        assert kazoo(sasl_coord).exists("/") is not None
    finally:
        for c in idle:
            try:
                c.close_socket()
            except OSError:
                pass
    with socket.create_connection(("127.0.0.1", sasl_coord.port), timeout=3):
        pass
