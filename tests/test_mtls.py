"""Mutual TLS principals, as Kafka makes them: on an SSL listener a client
that presents a certificate is `User:` + its subject in RFC 2253 form
(`User:CN=alice,OU=eng,O=Acme,C=US`), mapped by ssl.principal.mapping.rules
when they are set; a client without one is `User:ANONYMOUS`. Checked with
Kafka's ACL authorizer and real clients (confluent-kafka, kcat): produce is
allowed where a binding names the principal and refused with
TOPIC_AUTHORIZATION_FAILED elsewhere.

One broker is shared by the module, with these listeners:
  PLAINTEXT  the readiness probe only (User:ANONYMOUS, not a super user)
  MTLS       SSL, ssl.client.auth=required, DEFAULT mapping; inter-broker
             (the broker's own certificate, CN=runnel-broker, is a super user)
  MAPPED     SSL, required, Kafka's documented example rules (alice -> User:alice)
  OPTIONAL   SSL, ssl.client.auth=requested
  STRICT     SSL, required, one rule for OU=ops and no DEFAULT
The admin (User:CN=admin on MTLS, User:admin on MAPPED) is a super user.
"""

import os
import subprocess

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient, NewTopic,
                                   ResourcePatternType, ResourceType)

from brokerproc import Broker, broker_bin
from coordproc import CoordServer, free_port, wait_for
from test_acls_script import produce_error
from test_security import Secure, kcat, runnel_bin, topic_name

ALICE_DN = "CN=alice,OU=eng,O=Acme,C=US"
OLGA_DN = "CN=olga,OU=ops,O=Acme,C=US"

# Kafka's documentation's example (ssl.principal.mapping.rules).
KAFKA_DOC_RULES = ("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,"
                   "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,"
                   "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,"
                   "DEFAULT")

LISTENERS = ("MTLS", "MAPPED", "OPTIONAL", "STRICT")


class Mtls(Secure):
    """The shared broker: ports by listener and the certificate files."""

    def __init__(self, broker, coord, ports, certs):
        super().__init__(broker, ports, certs)
        self.coord = coord

    def pem(self, client):
        return os.path.join(self.certs, "client-%s.pem" % client)

    def tls(self, client=None):
        """librdkafka's TLS settings, with `client`'s certificate if given."""
        conf = {"security.protocol": "SSL", "ssl.ca.location": self.ca}
        if client is not None:
            conf["ssl.certificate.location"] = self.pem(client)
            conf["ssl.key.location"] = self.pem(client)
        return conf

    def conf(self, listener, client=None):
        """confluent-kafka settings for `client` (None: no certificate)."""
        return dict(self.tls(client), **{"bootstrap.servers": self.addr(listener)})

    def admin(self):
        return AdminClient(self.conf("MTLS", "admin"))

    def create_topics(self, *names):
        admin = self.admin()
        for f in admin.create_topics([NewTopic(n, num_partitions=1, replication_factor=1)
                                      for n in names]).values():
            f.result(timeout=30)
        for n in names:
            wait_for(lambda: n in admin.list_topics(timeout=10).topics, timeout=15,
                     desc="topic %s" % n)

    def allow_write(self, principal, topic):
        binding = AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, principal, "*",
                             AclOperation.WRITE, AclPermissionType.ALLOW)
        admin = self.admin()  # kept alive until the futures resolve
        for f in admin.create_acls([binding]).values():
            f.result(timeout=30)


@pytest.fixture(scope="module")
def mtls(tmp_path_factory):
    base = tmp_path_factory.mktemp("mtls")
    certs = str(base / "certs")
    r = subprocess.run([runnel_bin(), "certs", "--dir", certs, "--client", "admin",
                        "--client-dn", ALICE_DN, "--client-dn", OLGA_DN],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    coord = CoordServer(base / "coord", name="runnel-coord")
    coord.start()
    ports = {name: free_port() for name in LISTENERS}
    broker = Broker(base / "broker", coord.hosts + "/mtls", broker_id=1)
    ports["PLAINTEXT"] = broker.port
    broker.extra.update({
        "listeners": ",".join("%s://127.0.0.1:%d" % (n, ports[n]) for n in ("PLAINTEXT",) + LISTENERS),
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,MTLS:SSL,MAPPED:SSL,OPTIONAL:SSL,STRICT:SSL",
        "inter.broker.listener.name": "MTLS",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": os.path.join(certs, "broker.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": os.path.join(certs, "ca.pem"),
        "ssl.client.auth": "required",
        "listener.name.optional.ssl.client.auth": "requested",
        "listener.name.mapped.ssl.principal.mapping.rules": KAFKA_DOC_RULES,
        "listener.name.strict.ssl.principal.mapping.rules": "RULE:^CN=([^,]*),OU=ops,.*$/$1/",
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:CN=runnel-broker;User:CN=admin;User:admin",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
    })
    broker.write_config()
    broker.start()
    yield Mtls(broker, coord, ports, certs)
    broker.close()
    coord.close()


def kcat_produce(bootstrap, settings, topic, payload="one\ntwo\n"):
    x = []
    for k, v in settings.items():
        x += ["-X", "%s=%s" % (k, v)]
    return kcat("-b", bootstrap, *x, "-P", "-t", topic, input=payload, timeout=60)


def kcat_consume(bootstrap, settings, topic):
    x = []
    for k, v in settings.items():
        x += ["-X", "%s=%s" % (k, v)]
    return kcat("-b", bootstrap, *x, "-C", "-t", topic, "-o", "beginning", "-e", timeout=60)


def test_the_certificate_subject_is_the_principal(mtls):
    allowed, other = topic_name("alice-dn"), topic_name("nobody")
    mtls.create_topics(allowed, other)
    alice = mtls.conf("MTLS", "alice")
    # Before any binding alice may not write.
    assert produce_error(alice, allowed, timeout=5) == KafkaError.TOPIC_AUTHORIZATION_FAILED

    mtls.allow_write("User:" + ALICE_DN, allowed)
    wait_for(lambda: produce_error(alice, allowed, timeout=5) is None, timeout=20, interval=0.2,
             desc="alice's write allowed by the binding on her subject")
    assert produce_error(alice, other, timeout=5) == KafkaError.TOPIC_AUTHORIZATION_FAILED

    # kcat (librdkafka's own configuration keys) with the same certificate.
    r = kcat_produce(mtls.addr("MTLS"), mtls.tls("alice"), allowed)
    assert r.returncode == 0, r.stderr
    r = kcat_produce(mtls.addr("MTLS"), mtls.tls("alice"), other)
    assert "Topic authorization failed" in r.stderr, r.stderr
    # The admin reads what kcat wrote (alice has no Read).
    r = kcat_consume(mtls.addr("MTLS"), mtls.tls("admin"), allowed)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-2:] == ["one", "two"]
    r = kcat_consume(mtls.addr("MTLS"), mtls.tls("alice"), allowed)
    assert "Topic authorization failed" in r.stderr, (r.stdout, r.stderr)


def test_a_mapping_rule_names_the_principal(mtls):
    topic = topic_name("alice-short")
    mtls.create_topics(topic)
    mtls.allow_write("User:alice", topic)
    on_mapped = mtls.conf("MAPPED", "alice")
    wait_for(lambda: produce_error(on_mapped, topic, timeout=5) is None, timeout=20, interval=0.2,
             desc="User:alice allowed on the MAPPED listener")
    r = kcat_produce(mtls.addr("MAPPED"), mtls.tls("alice"), topic)
    assert r.returncode == 0, r.stderr
    # The rules are that listener's only: on MTLS she is her full subject.
    assert produce_error(mtls.conf("MTLS", "alice"), topic, timeout=5) == \
        KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_no_certificate_on_requested_is_anonymous(mtls):
    anonymous, alices = topic_name("anon"), topic_name("alice-opt")
    mtls.create_topics(anonymous, alices)
    mtls.allow_write("User:ANONYMOUS", anonymous)
    mtls.allow_write("User:" + ALICE_DN, alices)
    nobody = mtls.conf("OPTIONAL")
    wait_for(lambda: produce_error(nobody, anonymous, timeout=5) is None, timeout=20, interval=0.2,
             desc="User:ANONYMOUS allowed on the OPTIONAL listener")
    assert produce_error(nobody, alices, timeout=5) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    r = kcat_produce(mtls.addr("OPTIONAL"), mtls.tls(), anonymous)
    assert r.returncode == 0, r.stderr
    # With a certificate on the same listener alice is herself, not ANONYMOUS.
    alice = mtls.conf("OPTIONAL", "alice")
    assert produce_error(alice, alices) is None
    assert produce_error(alice, anonymous, timeout=5) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # Without a certificate on a `required` listener there is no session at all.
    r = kcat(*["-b", mtls.addr("MTLS"), "-X", "security.protocol=ssl", "-X",
               "ssl.ca.location=" + mtls.ca, "-L", "-m", "5"], timeout=30)
    assert r.returncode != 0


def test_a_client_no_rule_applies_to_is_refused(mtls):
    topic = topic_name("olga")
    mtls.create_topics(topic)
    mtls.allow_write("User:olga", topic)
    wait_for(lambda: produce_error(mtls.conf("STRICT", "olga"), topic, timeout=5) is None,
             timeout=20, interval=0.2, desc="User:olga allowed on the STRICT listener")
    # alice is not in OU=ops and the rules have no DEFAULT: Kafka refuses her.
    with pytest.raises(KafkaException):
        AdminClient(mtls.conf("STRICT", "alice")).list_topics(timeout=5)
    with open(mtls.broker.log_path) as f:
        log = f.read()
    assert "no rule of ssl.principal.mapping.rules applies to \"%s\"" % ALICE_DN in log
    assert mtls.broker.proc.poll() is None


@pytest.mark.parametrize("key", ["ssl.principal.mapping.rules",
                                 "listener.name.ssl.ssl.principal.mapping.rules"])
def test_a_bad_rule_stops_the_broker_naming_the_key(mtls, tmp_path, key):
    b = Broker(tmp_path / "bad", mtls.coord.hosts + "/bad", broker_id=7, extra={
        "listeners": "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (free_port(), free_port()),
        "inter.broker.listener.name": "PLAINTEXT",
        "ssl.keystore.location": os.path.join(mtls.certs, "broker.pem"),
        key: "RULE:^CN=(.*?),OU=eng.*$/$1",
    })
    out = subprocess.run([broker_bin(), "--config", b.props_path], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode != 0
    assert key in out.stderr, out.stderr
    assert "RULE:^CN=(.*?),OU=eng.*$/$1" in out.stderr, out.stderr
