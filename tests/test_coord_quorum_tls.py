"""TLS between runnel-coord ensemble members: ZooKeeper 3.8's `sslQuorum`
and `ssl.quorum.*` keys (PEM stores), always mutual.

Certificates come from `runnel certs`, as in test_coord_tls.py (whose
`certs` fixture this module shares): its broker.pem has SAN 127.0.0.1 and
both server and client usages, so every member can present it on both ends
of a peer connection. A second `runnel certs` run makes a foreign CA.
"""

import os
import re
import socket
import ssl
import subprocess
import time
import uuid

import pytest

import coordproc
from coordproc import free_port, wait_for
from ensemble import Ensemble, kazoo_client, stop_client
from test_coord_tls import certs, run_coord, runnel_bin  # noqa: F401 - certs is a fixture

pytestmark = pytest.mark.skipif(coordproc.IMPL == "zookeeper",
                                reason="runs runnel-coord's quorum TLS (RUNNEL_COORD_IMPL=zookeeper)")


def make_certs(d, hosts=None):
    """A fresh CA and key stores in d (`runnel certs`)."""
    cmd = [runnel_bin(), "certs", "--dir", str(d)]
    if hosts:
        cmd += ["--hosts", hosts]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {"dir": str(d), "ca": os.path.join(str(d), "ca.pem"),
            "server": os.path.join(str(d), "broker.pem")}


def quorum_cfg(keystore, truststore, **more):
    items = {
        "sslQuorum": "true",
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "ssl.quorum.keyStore.location": keystore,
        "ssl.quorum.keyStore.type": "PEM",
        "ssl.quorum.trustStore.location": truststore,
        "ssl.quorum.trustStore.type": "PEM",
        "ssl.quorum.hostnameVerification": "true",
        "ssl.quorum.enabledProtocols": "TLSv1.3,TLSv1.2",
    }
    items.update(more)
    return items


def write_through(ens, k, path, value):
    """Create path through member k alone; True once it is acknowledged."""
    c = kazoo_client(ens.hosts_of([k]), timeout=2.0, start=False)
    try:
        c.start(timeout=10)
        c.create(path, value, makepath=True)
        return True
    finally:
        stop_client(c)


def read_all(ens, k, paths):
    c = kazoo_client(ens.hosts_of([k]), timeout=2.0, start=False)
    try:
        c.start(timeout=10)
        c.sync("/")
        return {p: c.get(p)[0] for p in paths}
    finally:
        stop_client(c)


def cannot_write_through(ens, k, path, seconds=4.0):
    """Member k serves no writes: no session, or the create fails."""
    c = kazoo_client(ens.hosts_of([k]), timeout=1.0, start=False,
                     connection_retry=dict(max_tries=1, delay=0.1))
    try:
        c.start(timeout=seconds)
        c.create_async(path, b"x", makepath=True).get(timeout=seconds)
    except Exception:  # noqa: BLE001 - any failure is what we want
        return True
    finally:
        stop_client(c)
    return False


def log_of(member):
    """A member's log without its colours."""
    with open(member.log_path, errors="replace") as f:
        return re.sub(r"\x1b\[[0-9;]*m", "", f.read())


def tls_handshake(port, certs):
    """A TLS handshake on a member's peer port with a member's certificate;
    returns the negotiated version."""
    ctx = ssl.create_default_context(cafile=certs["ca"])
    ctx.load_cert_chain(certs["server"])
    with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return s.version()


def refuses_without_certificate(port, certs):
    """A TLS client that trusts the member but shows no certificate of its
    own is refused: the handshake fails, or (TLS 1.3, where the client
    finishes first) the first read brings the server's alert or EOF."""
    ctx = ssl.create_default_context(cafile=certs["ca"])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"\x00\x00\x00\x08" + b"\x00" * 8)
                return s.recv(64) == b""
    except (ssl.SSLError, ConnectionError) as e:
        return "CERTIFICATE_REQUIRED" in str(e) or "certificate required" in str(e).lower() \
            or isinstance(e, ConnectionError)


def never_serves(member, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        member.raise_if_exited()
        assert member.serving_mode() is None, "member %d serves: %s" % (member.myid, member.mode)
        time.sleep(0.25)


def test_tls_ensemble_elects_serves_and_fails_over(tmp_path, certs):
    ens = Ensemble(tmp_path / "ens", n=3, kind="runnel",
                   extra_cfg=quorum_cfg(certs["server"], certs["ca"]))
    try:
        leader = ens.start().leader()
        for m in ens:
            assert "ssl_quorum=true" in log_of(m), "member %d did not start with TLS" % m.myid
        # The peer port speaks TLS (a member's certificate is accepted) ...
        assert tls_handshake(ens.peer_ports[leader], certs) in ("TLSv1.3", "TLSv1.2")
        # ... but not without a certificate ...
        assert refuses_without_certificate(ens.peer_ports[leader], certs)
        # ... and nothing else: a plaintext peer frame gets no answer.
        with socket.create_connection(("127.0.0.1", ens.peer_ports[leader]), timeout=3) as s:
            s.sendall(b"\x00\x00\x00\x08" + b"\x00" * 8)
            try:
                reply = s.recv(64)
            except OSError:
                reply = b""
            assert reply == b"" or reply[0] == 0x15, reply  # closed, or a TLS alert

        root = "/qtls-%s" % uuid.uuid4().hex[:8]
        paths = []
        for k in ens.ids:
            path = "%s/via-%d" % (root, k)
            assert write_through(ens, k, path, b"from %d" % k)
            paths.append(path)
        for k in ens.ids:
            got = read_all(ens, k, paths)
            assert got == {p: b"from %s" % p[-1:].encode() for p in paths}, (k, got)

        ens.kill(leader)
        rest = [k for k in ens.ids if k != leader]
        new_leader = ens.wait_ready(ids=rest, timeout=30)
        assert new_leader != leader
        for k in rest:
            path = "%s/after-%d" % (root, k)
            assert write_through(ens, k, path, b"after %d" % k)
            paths.append(path)
        # The old leader comes back over TLS and catches up.
        ens.start_member(leader)
        got = read_all(ens, leader, paths)
        assert sorted(got) == sorted(paths)
        for m in ens:
            assert m.alive()
    finally:
        ens.close()


def test_member_signed_by_another_ca_cannot_join(tmp_path, certs):
    other = make_certs(tmp_path / "other-ca")
    ens = Ensemble(tmp_path / "ens", n=3, kind="runnel",
                   extra_cfg=quorum_cfg(certs["server"], certs["ca"]))
    # Member 3 trusts the ensemble's CA, but its own certificate comes from
    # elsewhere: members 1 and 2 refuse it as client and as server.
    bad = ens[3]
    bad.extra_cfg = quorum_cfg(other["server"], certs["ca"])
    bad.write_config()
    try:
        for m in ens:
            m.start(wait=False)
        ens.wait_ready(ids=[1, 2], timeout=60)
        root = "/qtls-ca-%s" % uuid.uuid4().hex[:8]
        for k in (1, 2):
            assert write_through(ens, k, "%s/via-%d" % (root, k), b"ok")
        never_serves(bad, 5.0)
        assert cannot_write_through(ens, 3, root + "/via-3")
        for k in (1, 2):
            assert read_all(ens, k, [root + "/via-1", root + "/via-2"])
        # No crash, and the refusal is logged naming the peer.
        assert all(m.alive() for m in ens)
        good_logs = log_of(ens[1]) + log_of(ens[2])
        assert "WARN" in good_logs and "peer=127.0.0.1:" in good_logs, good_logs[-2000:]
        # Both CAs are called "Runnel development CA": webpki finds the
        # trusted one by name and rejects its signature (BadSignature); a CA
        # with another name would be UnknownIssuer. Either way, refused.
        assert re.search(r"invalid peer certificate: (BadSignature|UnknownIssuer)", good_logs), \
            good_logs[-2000:]
        assert "refused a peer connection" in good_logs, good_logs[-2000:]
    finally:
        ens.close()


def test_plaintext_member_cannot_join_a_tls_ensemble(tmp_path, certs):
    ens = Ensemble(tmp_path / "ens", n=3, kind="runnel",
                   extra_cfg=quorum_cfg(certs["server"], certs["ca"]))
    plain = ens[3]
    plain.extra_cfg = {}
    plain.write_config()
    try:
        for m in ens:
            m.start(wait=False)
        ens.wait_ready(ids=[1, 2], timeout=60)
        root = "/qtls-plain-%s" % uuid.uuid4().hex[:8]
        for k in (1, 2):
            assert write_through(ens, k, "%s/via-%d" % (root, k), b"ok")
        never_serves(plain, 5.0)
        assert cannot_write_through(ens, 3, root + "/via-3")
        assert all(m.alive() for m in ens)
        # Both sides say why, naming the peer's address.
        tls_logs = log_of(ens[1]) + log_of(ens[2])
        assert "refused a peer connection" in tls_logs and "peer=127.0.0.1:" in tls_logs, \
            tls_logs[-2000:]
        plain_log = log_of(plain)
        assert "WARN" in plain_log and "sslQuorum=true" in plain_log, plain_log[-2000:]
        assert "peer=127.0.0.1:" in plain_log, plain_log[-2000:]
    finally:
        ens.close()


def test_hostname_verification_needs_the_address_in_the_certificate(tmp_path):
    """Certificates for `localhost` only: with server.N=127.0.0.1 lines the
    default ssl.quorum.hostnameVerification=true refuses them (an IP address
    is checked against IP SANs); =false checks the chain alone."""
    named = make_certs(tmp_path / "localhost-ca", hosts="localhost")
    ens = Ensemble(tmp_path / "ens", n=3, kind="runnel",
                   extra_cfg=quorum_cfg(named["server"], named["ca"]))
    try:
        for m in ens:
            m.start(wait=False)

        def refused_by_name():
            for m in ens:
                m.raise_if_exited()
            logs = "".join(log_of(m) for m in ens)
            return "NotValidForName" in logs or "not valid for name" in logs.lower()
        wait_for(refused_by_name, 15, interval=0.1, desc="a certificate refused for its name")
        for m in ens:
            never_serves(m, 1.5)
        for m in ens:
            m.kill()
            m.extra_cfg["ssl.quorum.hostnameVerification"] = "false"
            m.write_config()
        leader = ens.start().leader()
        assert write_through(ens, leader, "/qtls-names-%s" % uuid.uuid4().hex[:8], b"ok")
    finally:
        ens.close()


def member_cfg_lines(tmp_path, items):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "myid").write_text("1\n")
    lines = ["clientPort=%d" % free_port(),
             "server.1=127.0.0.1:%d" % free_port(),
             "server.2=127.0.0.1:%d" % free_port()]
    return lines + ["%s=%s" % kv for kv in items.items() if kv[1] is not None]


def pem_blocks(path):
    return re.findall(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----\n?",
                      open(path).read(), re.S)


def mismatched_keystore(tmp_path, certs):
    """A PEM key store whose private key is not its certificate's: the key
    of a fresh `runnel certs` run before the ensemble's certificate chain."""
    other = make_certs(tmp_path / "other")
    key = [b for b in pem_blocks(other["server"]) if "PRIVATE KEY" in b]
    chain = [b for b in pem_blocks(certs["server"]) if "CERTIFICATE" in b]
    assert key and chain
    path = tmp_path / "mismatched.pem"
    path.write_text("".join(key + chain))
    return path


@pytest.mark.parametrize("change,expect", [
    ({"ssl.quorum.keyStore.location": "/nonexistent/member.pem"},
     ["ssl.quorum.keyStore.location", "/nonexistent/member.pem"]),
    ({"ssl.quorum.trustStore.location": "/nonexistent/ca.pem"},
     ["ssl.quorum.trustStore.location", "/nonexistent/ca.pem"]),
    ({"ssl.quorum.keyStore.location": "JUNK"}, ["ssl.quorum.keyStore.location", "junk.pem"]),
    ({"ssl.quorum.trustStore.location": "JUNK"}, ["ssl.quorum.trustStore.location", "junk.pem"]),
    ({"ssl.quorum.trustStore.location": None}, ["ssl.quorum.trustStore.location"]),
    ({"ssl.quorum.keyStore.location": None}, ["ssl.quorum.keyStore.location"]),
    ({"ssl.quorum.keyStore.type": "JKS"}, ["ssl.quorum.keyStore.type", "only PEM"]),
    ({"ssl.quorum.keyStore.password": "secret"}, ["ssl.quorum.keyStore.password"]),
    ({"ssl.quorum.ciphersuites": "TLS_NOT_A_SUITE"}, ["ssl.quorum.ciphersuites"]),
    ({"ssl.quorum.keyStore.location": "MISMATCH"},
     ["ssl.quorum.keyStore.location", "private key is not the one of its certificate"]),
    ({"ssl.quorum.enabledProtocols": "TLSv1.3",
      "ssl.quorum.ciphersuites": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
     ["ssl.quorum.enabledProtocols", "ssl.quorum.ciphersuites"]),
    ({"ssl.quorum.clientAuth": "none"}, ["ssl.quorum.clientAuth", "mutual"]),
    ({"sslQuorumReloadCertFiles": "true"}, ["sslQuorumReloadCertFiles"]),
])
def test_bad_quorum_tls_config_stops_the_member(tmp_path, certs, change, expect):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a PEM file\n")
    items = quorum_cfg(certs["server"], certs["ca"])
    for k, v in change.items():
        if v == "JUNK":
            v = str(junk)
        elif v == "MISMATCH":
            v = str(mismatched_keystore(tmp_path, certs))
        items[k] = v
    p = run_coord(tmp_path, member_cfg_lines(tmp_path, items))
    assert p.returncode != 0, p.stderr[-500:]
    for word in expect:
        assert word in p.stderr, (word, p.stderr[-800:])
