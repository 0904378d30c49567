"""x509 ids for TLS clients of runnel-coord (ZooKeeper's
X509AuthenticationProvider): a client that presents a certificate on the
secure client port holds `x509:<subject DN>`, the DN in RFC 2253 form as
Java's `X500Principal.getName()` prints it, usable in ACLs with scheme
`x509` and picked up by the `auth` scheme (CREATOR_ALL_ACL).

The TLS set-up is test_coord_tls.py's; the certificates come from
`runnel certs` with several clients.
"""

import uuid

import pytest
from kazoo.exceptions import NoAuthError
from kazoo.security import CREATOR_ALL_ACL, make_acl

import coordproc
from coordproc import CoordServer, free_port
from test_coord_tls import make_certs, tls_cfg, tls_kazoo

pytestmark = pytest.mark.skipif(coordproc.IMPL == "zookeeper",
                                reason="runs runnel-coord's TLS port (RUNNEL_COORD_IMPL=zookeeper)")

CAROL_DN = r"CN=carol,OU=eng,O=Acme\, Inc.,C=US"


@pytest.fixture(scope="module")
def x509_certs(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("coord-x509") / "certs"),
                      ["alice", "bob", "root"], "--client-dn", CAROL_DN, names=["carol"])


def as_client(certs, name):
    """The certs dict test_coord_tls's helpers take, with `name`'s key store."""
    return dict(certs, client=certs[name])


@pytest.fixture
def x509_coord(tmp_path, x509_certs):
    secure = free_port()
    cfg = tls_cfg(x509_certs, secure, client_auth="want")
    cfg["authProvider.x509"] = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"
    cfg["X509AuthenticationProvider.superUser"] = "CN=root"
    srv = CoordServer(tmp_path / "coord", kind="runnel", extra_cfg=cfg)
    srv.secure_port = secure
    srv.start()
    yield srv
    srv.close()


@pytest.fixture
def tls_client(x509_coord, x509_certs):
    clients = []

    def start(name=None):
        certs = as_client(x509_certs, name) if name else x509_certs
        c = tls_kazoo(x509_coord.secure_port, certs, with_cert=name is not None)
        c.start(timeout=15)
        clients.append(c)
        return c

    yield start
    for c in clients:
        c.stop()
        c.close()


def ids(client, path):
    return [(a.id.scheme, a.id.id, a.perms) for a in client.get_acls(path)[0]]


def test_x509_acl_admits_only_that_certificate(x509_coord, tls_client, kazoo):
    path = "/x509-%s" % uuid.uuid4().hex[:8]
    alice = tls_client("alice")
    alice.create(path, b"alice's", acl=[make_acl("x509", "CN=alice", all=True)])
    assert alice.get(path)[0] == b"alice's"
    assert ids(alice, path) == [("x509", "CN=alice", 31)]
    with pytest.raises(NoAuthError):
        tls_client("bob").get(path)
    # Without a certificate (ssl.clientAuth=want) or on the plain port: no id.
    with pytest.raises(NoAuthError):
        tls_client(None).get(path)
    with pytest.raises(NoAuthError):
        kazoo(x509_coord).get(path)
    # X509AuthenticationProvider.superUser passes every ACL.
    assert tls_client("root").get(path)[0] == b"alice's"


def test_creator_all_takes_the_certificate_subject(x509_coord, tls_client):
    path = "/x509-creator-%s" % uuid.uuid4().hex[:8]
    carol = tls_client("carol")
    carol.create(path, b"c", acl=CREATOR_ALL_ACL)
    # RFC 2253 as Java prints it: most specific RDN first, ',' escaped.
    assert ids(carol, path) == [("x509", CAROL_DN, 31)]
    assert carol.get(path)[0] == b"c"
    with pytest.raises(NoAuthError):
        tls_client("alice").set(path, b"not alice's")
    # Without any authenticated id, `auth` is an invalid ACL.
    from kazoo.exceptions import InvalidACLError
    with pytest.raises(InvalidACLError):
        tls_client(None).create(path + "-anon", b"", acl=CREATOR_ALL_ACL)


def test_enforce_auth_schemes_x509(tmp_path, x509_certs, kazoo):
    """`enforce.auth.schemes=x509`: only a client with a certificate is
    served; anybody else's first request is answered
    SESSIONCLOSEDREQUIRESASLAUTH (-124), as ZooKeeper's AuthenticationHelper."""
    from kazoo.exceptions import SessionClosedRequireSaslError
    secure = free_port()
    cfg = tls_cfg(x509_certs, secure, client_auth="want")
    cfg.update({"enforce.auth.enabled": "true", "enforce.auth.schemes": "x509"})
    srv = CoordServer(tmp_path / "coord", kind="runnel", extra_cfg=cfg)
    srv.secure_port = secure
    srv.start()
    clients = []
    try:
        alice = tls_kazoo(secure, as_client(x509_certs, "alice"), with_cert=True)
        clients.append(alice)
        alice.start(timeout=15)
        alice.create("/enforced-x509", b"ok")
        assert alice.get("/enforced-x509")[0] == b"ok"
        anonymous = tls_kazoo(secure, x509_certs, with_cert=False)
        clients.append(anonymous)
        anonymous.start(timeout=15)
        with pytest.raises(SessionClosedRequireSaslError):
            anonymous.get("/enforced-x509")
        plain = kazoo(srv)
        with pytest.raises(SessionClosedRequireSaslError):
            plain.get("/enforced-x509")
        assert srv.alive()
    finally:
        for c in clients:
            c.stop()
            c.close()
        srv.close()
