"""The Schema Registry (runnel-registry): Confluent's REST API v1 with its
state in a compacted single-partition `_schemas` topic, run as a real
process on a 3-broker cluster and driven by confluent-kafka 2.16's
SchemaRegistryClient, AvroSerializer/AvroDeserializer and plain HTTP
(requests), Confluent's documented behaviour as the reference:

* client code from confluent-kafka's docs with default settings: the
  AvroSerializer auto-registers `<topic>-value`, a Producer writes 10
  records, a Consumer with AvroDeserializer (its own SchemaRegistryClient)
  reads the dicts back, and every record starts with magic byte 0 and the
  registered id;
* register and read back: /schemas/ids/{id} (with /subjects and
  /versions), /subjects/{s}/versions/latest and /1, /versions/1/schema,
  lookup (POST /subjects/{s}); one schema however written (whitespace, key
  order) keeps one id and version, and the same id under a second subject
  (also one with a space and a slash in its name); /schemas/types lists
  AVRO; every answer carries application/vnd.schemaregistry.v1+json;
* compatibility: BACKWARD by default (a field without default: 409 with
  error_code 409 naming it; with a default: version 2), NONE per subject
  (PUT/GET /config/{s}) leaving other subjects alone, FORWARD, FULL,
  BACKWARD vs BACKWARD_TRANSITIVE, POST /compatibility/... (verbose
  messages), an invalid level 422/42203; Avro's resolution rules as Java's
  SchemaCompatibility applies them (promotions, enum symbols, unions,
  aliases);
* references: ex.User using ex.Address of another subject, registered,
  served with its references, serialized and deserialized by the client;
  /referencedby lists it; the referenced version or subject cannot be
  deleted (422/42206);
* deletes: soft and permanent deletes of versions and subjects with
  ?deleted=true, a permanent delete first is 40407/40405, a second soft
  delete 40406/40404, a soft-deleted id is still served, a permanently
  deleted one is not; the same schema registered after a soft delete gets
  its old id as the next version;
* bad input: 40401, 40402, 40403, 42201 (not Avro, no schema, schemaType
  XML), 42202, a body that is not JSON (400 with a JSON error naming JSON),
  a body over 16 MiB (413), a wrong method (405 with a JSON body), an
  unknown path (404 JSON) -- and the registry still answers and registers;
* durability: SIGTERM (exit 0) and kill -9 restarts on the same topic keep
  ids, versions (deleted ones too), subject and global levels (the stored
  global level wins over schema.compatibility.level given by --override); a
  write acknowledged just before kill -9 is there after; after restarts a
  new schema's id is above every earlier one, a permanently deleted one
  too; the first registration right after a restart on the same host and
  port succeeds; `_schemas` has cleanup.policy=compact, 1 partition, RF 3;
* two instances on one topic and one kafkastore.connection.url (leader
  election, schema.registry.zk.namespace): each serves what the other
  registered; writes of every kind (config, deletes, and failing ones:
  409, 422, 400, 404; 413 for a body over 16 MiB) answer the same on the leader and on the
  instance forwarding to it; 20 different schemas registered concurrently
  on both get 20 distinct ids, each served as registered by both; after a
  kill -9 of either instance the survivor registers new schemas with fresh
  ids within seconds.
"""

import json
import os
import struct
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import quote

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource
from confluent_kafka.schema_registry import Schema, SchemaReference, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

from eosutil import create_topic
from procutil import REPO, wait_for
from registryproc import CONTENT_TYPE, consume_values, make_registry, registry_cluster  # noqa: F401

pytestmark = pytest.mark.timeout(180)


# ------------------------------------------------------------------ helpers

def uniq(tag):
    return "%s-%s" % (tag, uuid.uuid4().hex[:8])


def record(name, *fields, ns="ex"):
    """An Avro record schema as JSON text; a field is (name, type) or
    (name, type, default)."""
    fs = []
    for f in fields:
        d = {"name": f[0], "type": f[1]}
        if len(f) > 2:
            d["default"] = f[2]
        fs.append(d)
    return json.dumps({"type": "record", "name": name, "namespace": ns, "fields": fs})


def path(subject, *rest):
    return "/".join(["/subjects", quote(subject, safe="")] + [str(r) for r in rest])


def ok(r):
    """The JSON body of a 200 answer with Confluent's content type."""
    assert r.status_code == 200, "%s %s -> %d %s" % (r.request.method, r.request.url, r.status_code, r.text)
    assert r.headers.get("Content-Type") == CONTENT_TYPE, r.headers
    return r.json()


def error(r, status, code):
    """Checks a Confluent error answer ({"error_code", "message"} with the
    content type); its message."""
    assert r.headers.get("Content-Type") == CONTENT_TYPE, (r.status_code, r.headers, r.text)
    body = r.json()
    assert (r.status_code, body.get("error_code")) == (status, code), \
        "%s %s -> %d %s" % (r.request.method, r.request.url, r.status_code, r.text)
    assert isinstance(body.get("message"), str) and body["message"], body
    return body["message"]


def register(reg, subject, schema, **extra):
    return ok(reg.call("POST", path(subject, "versions"), dict(schema=schema, **extra)))["id"]


def set_level(reg, subject, level):
    assert ok(reg.call("PUT", "/config/" + quote(subject, safe=""), {"compatibility": level})) == \
        {"compatibility": level}


def own_evt():
    """v1 and v2 (v1 plus a field with a default) of a schema no other test
    registers (its own namespace), so that its id is this test's alone."""
    ns = "own.n" + uuid.uuid4().hex[:8]
    return (record("Evt", ("id", "long"), ns=ns),
            record("Evt", ("id", "long"), ("source", "string", "web"), ns=ns))


EVT_V1 = record("Evt", ("id", "long"))
EVT_SOURCE_DEFAULT = record("Evt", ("id", "long"), ("source", "string", "web"))
EVT_SOURCE_REQUIRED = record("Evt", ("id", "long"), ("source", "string"))


@pytest.fixture(scope="module")
def reg(make_registry):  # noqa: F811 - fixture
    """The module's registry on the default topic _schemas, default settings."""
    return make_registry()


# ------------------------------------------------------ 1. client round trip

class User:
    def __init__(self, name, favorite_number, favorite_color):
        self.name = name
        self.favorite_number = favorite_number
        self.favorite_color = favorite_color


def user_to_dict(user, ctx):
    return dict(name=user.name, favorite_number=user.favorite_number, favorite_color=user.favorite_color)


USER_SCHEMA = """
{
    "namespace": "confluent.io.examples.serialization.avro",
    "name": "User",
    "type": "record",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "favorite_number", "type": "int"},
        {"name": "favorite_color", "type": "string"}
    ]
}
"""


def test_avro_serializer_and_deserializer_round_trip(reg, registry_cluster):  # noqa: F811
    bootstrap = registry_cluster.bootstrap
    topic = create_topic(bootstrap, uniq("users"), 1, 3)
    # confluent-kafka's examples/avro_producer.py, default settings.
    sr = SchemaRegistryClient({"url": reg.url})
    avro_serializer = AvroSerializer(sr, USER_SCHEMA, user_to_dict)
    string_serializer = StringSerializer("utf_8")
    producer = Producer({"bootstrap.servers": bootstrap})
    sent = [User("user-%d" % i, i * 7, ["red", "green", "blue"][i % 3]) for i in range(10)]
    failures = []
    for u in sent:
        producer.produce(topic=topic, key=string_serializer(u.name),
                         value=avro_serializer(u, SerializationContext(topic, MessageField.VALUE)),
                         on_delivery=lambda err, msg: err and failures.append(err))
    assert producer.flush(30) == 0 and not failures, failures

    subject = topic + "-value"
    assert subject in ok(reg.call("GET", "/subjects"))
    latest = ok(reg.call("GET", path(subject, "versions", "latest")))
    assert (latest["subject"], latest["version"]) == (subject, 1)
    assert json.loads(latest["schema"]) == json.loads(USER_SCHEMA)

    # examples/avro_consumer.py, with a client of its own (nothing cached).
    avro_deserializer = AvroDeserializer(SchemaRegistryClient({"url": reg.url}))
    # Confluent's wire format: magic byte 0, the schema id (big endian), the Avro body.
    got = consume_values(bootstrap, topic, len(sent), avro_deserializer, latest["id"])
    assert got == [user_to_dict(u, None) for u in sent]


# ------------------------------------------------------ 2. register, read back

def test_register_and_read_back(reg):
    a, b = uniq("orders-value"), uniq("billing-value")
    v1 = record("Order", ("id", "long"), ("amount", "double"))
    sr = SchemaRegistryClient({"url": reg.url})
    sid = sr.register_schema(a, Schema(v1, "AVRO"))

    # The same schema written differently: other whitespace, other key order.
    same = json.dumps({"fields": [{"type": "long", "name": "id"}, {"type": "double", "name": "amount"}],
                       "namespace": "ex", "type": "record", "name": "Order"}, indent=3)
    assert register(reg, a, same) == sid
    assert register(reg, a, v1) == sid
    assert ok(reg.call("GET", path(a, "versions"))) == [1]
    # ... and under a second subject: the same id, that subject's version 1.
    assert register(reg, b, same) == sid
    assert ok(reg.call("GET", path(b, "versions"))) == [1]

    by_id = ok(reg.call("GET", "/schemas/ids/%d" % sid))
    assert json.loads(by_id["schema"]) == json.loads(v1)
    assert "schemaType" not in by_id  # Confluent leaves it out for AVRO
    assert sorted(ok(reg.call("GET", "/schemas/ids/%d/subjects" % sid))) == sorted([a, b])
    assert sorted(ok(reg.call("GET", "/schemas/ids/%d/versions" % sid)), key=lambda v: v["subject"]) == \
        sorted([{"subject": a, "version": 1}, {"subject": b, "version": 1}], key=lambda v: v["subject"])

    latest = ok(reg.call("GET", path(a, "versions", "latest")))
    assert latest == ok(reg.call("GET", path(a, "versions", 1)))
    assert {k: latest[k] for k in ("subject", "version", "id")} == {"subject": a, "version": 1, "id": sid}
    assert json.loads(latest["schema"]) == json.loads(v1)
    assert ok(reg.call("GET", path(a, "versions", 1, "schema"))) == json.loads(v1)

    found = ok(reg.call("POST", path(a), {"schema": same}))
    assert {k: found[k] for k in ("subject", "version", "id")} == {"subject": a, "version": 1, "id": sid}
    error(reg.call("POST", path(a), {"schema": record("Order", ("id", "long"))}), 404, 40403)

    # Through the client, and a subject whose name needs URL encoding.
    odd = uniq("team a/orders")
    assert sr.register_schema(odd, Schema(same, "AVRO")) == sid
    assert sr.get_latest_version(odd).subject == odd
    assert sr.get_version(odd, 1).schema_id == sid
    assert {a, b, odd} <= set(sr.get_subjects())
    assert sr.lookup_schema(a, Schema(same, "AVRO")).version == 1
    assert "AVRO" in ok(reg.call("GET", "/schemas/types"))


# ------------------------------------------------------ 3. compatibility

def test_backward_is_the_default_level(reg):
    s = uniq("evt")
    assert ok(reg.call("GET", "/config")) == {"compatibilityLevel": "BACKWARD"}
    assert ok(reg.call("GET", "/config/" + s, params={"defaultToGlobal": "true"})) == \
        {"compatibilityLevel": "BACKWARD"}
    id1 = register(reg, s, EVT_V1)

    # A new field without a default cannot read the data v1 wrote.
    msg = error(reg.call("POST", path(s, "versions"), {"schema": EVT_SOURCE_REQUIRED}), 409, 409)
    assert "incompatible" in msg.lower() and "'source'" in msg, msg
    with pytest.raises(SchemaRegistryError) as e:
        SchemaRegistryClient({"url": reg.url}).register_schema(s, Schema(EVT_SOURCE_REQUIRED, "AVRO"))
    assert (e.value.http_status_code, e.value.error_code) == (409, 409)
    assert ok(reg.call("GET", path(s, "versions"))) == [1]

    # With a default it can: version 2, with its default kept.
    id2 = register(reg, s, EVT_SOURCE_DEFAULT)
    assert id2 != id1
    latest = ok(reg.call("GET", path(s, "versions", "latest")))
    assert (latest["version"], latest["id"]) == (2, id2)
    assert json.loads(latest["schema"])["fields"][1] == {"name": "source", "type": "string", "default": "web"}


def test_none_for_one_subject(reg):
    s, other = uniq("evt"), uniq("evt")
    register(reg, s, EVT_V1)
    register(reg, other, EVT_V1)
    error(reg.call("GET", "/config/" + s), 404, 40408)  # no level of its own yet
    set_level(reg, s, "NONE")
    assert ok(reg.call("GET", "/config/" + s)) == {"compatibilityLevel": "NONE"}

    changed_type = record("Evt", ("id", "string"))  # long -> string: neither way readable
    id2 = register(reg, s, changed_type)
    assert ok(reg.call("GET", path(s, "versions", "latest")))["id"] == id2
    assert ok(reg.call("GET", path(s, "versions"))) == [1, 2]
    # The other subject still has the global BACKWARD.
    error(reg.call("POST", path(other, "versions"), {"schema": changed_type}), 409, 409)
    assert ok(reg.call("GET", "/config")) == {"compatibilityLevel": "BACKWARD"}


def test_forward(reg):
    s = uniq("evt")
    set_level(reg, s, "FORWARD")
    register(reg, s, EVT_SOURCE_REQUIRED)
    # Readers of v1 need `source`, which the new writer leaves out.
    msg = error(reg.call("POST", path(s, "versions"), {"schema": EVT_V1}), 409, 409)
    assert "'source'" in msg, msg
    # Old readers ignore an added field, default or not.
    register(reg, s, record("Evt", ("id", "long"), ("source", "string"), ("region", "string")))
    assert ok(reg.call("GET", path(s, "versions"))) == [1, 2]


def test_full(reg):
    s = uniq("evt")
    set_level(reg, s, "FULL")
    register(reg, s, EVT_SOURCE_DEFAULT)
    # Not backward: the new field has no default.
    msg = error(reg.call("POST", path(s, "versions"),
                         {"schema": record("Evt", ("id", "long"), ("source", "string", "web"),
                                           ("region", "string"))}), 409, 409)
    assert "'region'" in msg, msg
    # Not forward: `id`, without a default, is dropped.
    msg = error(reg.call("POST", path(s, "versions"),
                         {"schema": record("Evt", ("source", "string", "web"))}), 409, 409)
    assert "'id'" in msg, msg
    # Both ways: an added field with a default.
    register(reg, s, record("Evt", ("id", "long"), ("source", "string", "web"), ("region", "string", "eu")))
    assert ok(reg.call("GET", path(s, "versions"))) == [1, 2]


def test_backward_transitive_checks_every_version(reg):
    # v3 reads v2's data (which has `source`) but not v1's (no default for it).
    plain, transitive = uniq("evt"), uniq("evt")
    set_level(reg, plain, "BACKWARD")
    set_level(reg, transitive, "BACKWARD_TRANSITIVE")
    for s in (plain, transitive):
        register(reg, s, EVT_V1)
        register(reg, s, EVT_SOURCE_DEFAULT)

    assert ok(reg.call("POST", "/compatibility" + path(transitive, "versions", "latest"),
                       {"schema": EVT_SOURCE_REQUIRED})) == {"is_compatible": True}
    assert ok(reg.call("POST", "/compatibility" + path(transitive, "versions", 1),
                       {"schema": EVT_SOURCE_REQUIRED})) == {"is_compatible": False}

    register(reg, plain, EVT_SOURCE_REQUIRED)
    assert ok(reg.call("GET", path(plain, "versions"))) == [1, 2, 3]
    msg = error(reg.call("POST", path(transitive, "versions"), {"schema": EVT_SOURCE_REQUIRED}), 409, 409)
    assert "'source'" in msg, msg
    assert ok(reg.call("GET", path(transitive, "versions"))) == [1, 2]


def test_compatibility_check_endpoint(reg):
    s = uniq("evt")
    register(reg, s, EVT_V1)
    latest = "/compatibility" + path(s, "versions", "latest")
    assert ok(reg.call("POST", latest, {"schema": EVT_SOURCE_DEFAULT})) == {"is_compatible": True}
    assert ok(reg.call("POST", latest, {"schema": EVT_SOURCE_REQUIRED})) == {"is_compatible": False}
    verbose = ok(reg.call("POST", latest, {"schema": EVT_SOURCE_REQUIRED}, params={"verbose": "true"}))
    assert verbose["is_compatible"] is False
    assert verbose["messages"] and any("'source'" in m for m in verbose["messages"]), verbose

    sr = SchemaRegistryClient({"url": reg.url})
    assert sr.test_compatibility(s, Schema(EVT_SOURCE_DEFAULT, "AVRO")) is True
    assert sr.test_compatibility(s, Schema(EVT_SOURCE_REQUIRED, "AVRO")) is False
    # Checking registers nothing.
    assert ok(reg.call("GET", path(s, "versions"))) == [1]


def field(t):
    return record("P", ("v", t))


# (old field type, new field type, whether BACKWARD takes the new one):
# Avro's schema resolution, the new schema reading what the old one wrote.
RESOLUTION = [
    ("int-to-long", "int", "long", True),
    ("long-to-int", "long", "int", False),
    ("int-to-double", "int", "double", True),
    ("string-to-bytes", "string", "bytes", True),
    ("enum-symbol-added", {"type": "enum", "name": "E", "symbols": ["A", "B"]},
     {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}, True),
    ("enum-symbol-removed", {"type": "enum", "name": "E", "symbols": ["A", "B"]},
     {"type": "enum", "name": "E", "symbols": ["A"]}, False),
    ("made-nullable", "string", ["null", "string"], True),
    ("made-required", ["null", "string"], "string", False),
    ("array-item-promoted", {"type": "array", "items": "int"}, {"type": "array", "items": "long"}, True),
    ("map-value-changed", {"type": "map", "values": "int"}, {"type": "map", "values": "string"}, False),
    ("record-renamed-with-alias", {"type": "record", "name": "Old", "fields": [{"name": "x", "type": "int"}]},
     {"type": "record", "name": "New", "aliases": ["Old"], "fields": [{"name": "x", "type": "int"}]}, True),
    ("record-renamed", {"type": "record", "name": "Old", "fields": [{"name": "x", "type": "int"}]},
     {"type": "record", "name": "New", "fields": [{"name": "x", "type": "int"}]}, False),
]


@pytest.mark.parametrize("old,new,compatible", [r[1:] for r in RESOLUTION], ids=[r[0] for r in RESOLUTION])
def test_backward_follows_avro_resolution(reg, old, new, compatible):
    s = uniq("res")
    register(reg, s, field(old))
    r = reg.call("POST", path(s, "versions"), {"schema": field(new)})
    if compatible:
        ok(r)
        assert ok(reg.call("GET", path(s, "versions"))) == [1, 2]
    else:
        error(r, 409, 409)


def test_invalid_level_is_refused(reg):
    s = uniq("evt")
    register(reg, s, EVT_V1)
    set_level(reg, s, "FULL")
    error(reg.call("PUT", "/config/" + s, {"compatibility": "SIDEWAYS"}), 422, 42203)
    error(reg.call("PUT", "/config", {"compatibility": "SIDEWAYS"}), 422, 42203)
    assert ok(reg.call("GET", "/config/" + s)) == {"compatibilityLevel": "FULL"}
    assert ok(reg.call("GET", "/config")) == {"compatibilityLevel": "BACKWARD"}


# ------------------------------------------------------ 4. references

ADDRESS = json.dumps({"type": "record", "name": "Address", "namespace": "ex",
                      "fields": [{"name": "city", "type": "string"}]})
USER_WITH_ADDRESS = json.dumps({"type": "record", "name": "User", "namespace": "ex",
                                "fields": [{"name": "name", "type": "string"},
                                           {"name": "home", "type": "ex.Address"}]})


def test_references(reg):
    addr, user = uniq("addr"), uniq("user")
    aid = register(reg, addr, ADDRESS)
    refs = [{"name": "ex.Address", "subject": addr, "version": 1}]
    # Without its reference ex.Address is no type at all.
    error(reg.call("POST", path(user, "versions"), {"schema": USER_WITH_ADDRESS}), 422, 42201)
    uid = register(reg, user, USER_WITH_ADDRESS, references=refs)
    assert uid != aid
    assert ok(reg.call("GET", path(user, "versions", 1)))["references"] == refs
    assert ok(reg.call("GET", "/schemas/ids/%d" % uid))["references"] == refs
    assert ok(reg.call("GET", path(addr, "versions", 1, "referencedby"))) == [uid]

    # While User uses it, Address's version 1 stays.
    error(reg.call("DELETE", path(addr, "versions", 1)), 422, 42206)
    error(reg.call("DELETE", path(addr)), 422, 42206)
    assert ok(reg.call("GET", path(addr, "versions"))) == [1]

    # The client resolves the reference both ways.
    topic = uniq("people")
    schema = Schema(USER_WITH_ADDRESS, "AVRO", [SchemaReference("ex.Address", addr, 1)])
    ser = AvroSerializer(SchemaRegistryClient({"url": reg.url}), schema)
    ctx = SerializationContext(topic, MessageField.VALUE)
    data = ser({"name": "ann", "home": {"city": "Oslo"}}, ctx)
    assert struct.unpack(">bI", data[:5]) == (0, uid)
    assert AvroDeserializer(SchemaRegistryClient({"url": reg.url}))(data, ctx) == \
        {"name": "ann", "home": {"city": "Oslo"}}


# ------------------------------------------------------ 5. deletes

def test_version_soft_then_permanent_delete(reg):
    s = uniq("evt")
    v1, v2 = own_evt()
    id1 = register(reg, s, v1)
    register(reg, s, v2)
    error(reg.call("DELETE", path(s, "versions", 1), params={"permanent": "true"}), 404, 40407)

    assert ok(reg.call("DELETE", path(s, "versions", 1))) == 1
    assert ok(reg.call("GET", path(s, "versions"))) == [2]
    assert ok(reg.call("GET", path(s, "versions"), params={"deleted": "true"})) == [1, 2]
    error(reg.call("GET", path(s, "versions", 1)), 404, 40402)
    assert ok(reg.call("GET", path(s, "versions", 1), params={"deleted": "true"}))["id"] == id1
    # A soft-deleted version's id still serves old records.
    assert json.loads(ok(reg.call("GET", "/schemas/ids/%d" % id1))["schema"]) == json.loads(v1)

    assert ok(reg.call("DELETE", path(s, "versions", 1), params={"permanent": "true"})) == 1
    assert ok(reg.call("GET", path(s, "versions"), params={"deleted": "true"})) == [2]
    error(reg.call("GET", path(s, "versions", 1), params={"deleted": "true"}), 404, 40402)
    error(reg.call("GET", "/schemas/ids/%d" % id1), 404, 40403)


def test_second_soft_delete_of_a_version(reg):
    s = uniq("evt")
    register(reg, s, EVT_V1)
    register(reg, s, EVT_SOURCE_DEFAULT)
    assert ok(reg.call("DELETE", path(s, "versions", 1))) == 1
    # Confluent: "Subject '…' Version 1 was soft deleted.Set permanent=true to delete permanently"
    error(reg.call("DELETE", path(s, "versions", 1)), 404, 40406)


def test_subject_soft_then_permanent_delete(reg):
    s = uniq("evt")
    v1, v2 = own_evt()
    id1 = register(reg, s, v1)
    register(reg, s, v2)
    error(reg.call("DELETE", path(s), params={"permanent": "true"}), 404, 40405)

    assert ok(reg.call("DELETE", path(s))) == [1, 2]
    assert s not in ok(reg.call("GET", "/subjects"))
    assert s in ok(reg.call("GET", "/subjects", params={"deleted": "true"}))
    error(reg.call("GET", path(s, "versions")), 404, 40401)
    assert ok(reg.call("GET", path(s, "versions"), params={"deleted": "true"})) == [1, 2]
    error(reg.call("DELETE", path(s)), 404, 40404)

    assert ok(reg.call("DELETE", path(s), params={"permanent": "true"})) == [1, 2]
    assert s not in ok(reg.call("GET", "/subjects", params={"deleted": "true"}))
    error(reg.call("GET", path(s, "versions"), params={"deleted": "true"}), 404, 40401)
    error(reg.call("GET", "/schemas/ids/%d" % id1), 404, 40403)


def test_register_again_after_soft_delete(reg):
    s = uniq("evt")
    id1 = register(reg, s, EVT_V1)
    assert ok(reg.call("DELETE", path(s))) == [1]
    # Confluent: the same id, as the next version.
    assert register(reg, s, EVT_V1) == id1
    assert ok(reg.call("GET", path(s, "versions"))) == [2]
    assert ok(reg.call("GET", path(s, "versions"), params={"deleted": "true"})) == [1, 2]
    latest = ok(reg.call("GET", path(s, "versions", "latest")))
    assert (latest["version"], latest["id"]) == (2, id1)


# ------------------------------------------------------ 6. bad input

@pytest.fixture(scope="module")
def known(reg):
    """A subject with one version."""
    s = uniq("known")
    register(reg, s, EVT_V1)
    return s


BAD = [
    ("unknown-subject", "GET", lambda k: path(uniq("nobody"), "versions"), None, 404, 40401),
    ("unknown-subject-version", "GET", lambda k: path(uniq("nobody"), "versions", 1), None, 404, 40401),
    ("unknown-version", "GET", lambda k: path(k, "versions", 99), None, 404, 40402),
    ("unknown-id", "GET", lambda k: "/schemas/ids/987654", None, 404, 40403),
    ("not-avro", "POST", lambda k: path(k, "versions"), {"schema": '{"type":"recrod","name":"X"}'}, 422, 42201),
    ("schema-not-json", "POST", lambda k: path(k, "versions"), {"schema": "not a schema"}, 422, 42201),
    ("no-schema", "POST", lambda k: path(k, "versions"), {"schemaType": "AVRO"}, 422, 42201),
    ("schema-type-xml", "POST", lambda k: path(k, "versions"), {"schema": "<a/>", "schemaType": "XML"}, 422,
     42201),
    ("version-abc", "GET", lambda k: path(k, "versions", "abc"), None, 422, 42202),
    ("version-0", "GET", lambda k: path(k, "versions", 0), None, 422, 42202),
    ("delete-version-abc", "DELETE", lambda k: path(k, "versions", "abc"), None, 422, 42202),
    ("lookup-unknown-subject", "POST", lambda k: path(uniq("nobody")), {"schema": EVT_V1}, 404, 40401),
]


@pytest.mark.parametrize("method,make_path,body,status,code",
                         [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_request(reg, known, method, make_path, body, status, code):
    error(reg.call(method, make_path(known), body), status, code)


def test_body_that_is_not_json(reg, known):
    msg = error(reg.call("POST", path(known, "versions"), data=b'{"schema": not json'), 400, 400)
    assert "JSON" in msg, msg


def test_body_over_16_mib(reg, known):
    big = b'{"schema":"' + b"x" * (16 << 20) + b'"}'
    error(reg.call("POST", path(known, "versions"), data=big), 413, 413)


def test_wrong_method_and_unknown_path(reg, known):
    error(reg.call("DELETE", "/schemas/types"), 405, 405)
    error(reg.call("PUT", path(known, "versions")), 405, 405)
    error(reg.call("GET", "/no/such/resource"), 404, 404)


def test_still_answers_after_bad_input(reg, known):
    assert ok(reg.call("GET", path(known, "versions"))) == [1]
    s = uniq("after")
    sid = register(reg, s, record("After", ("x", "int")))
    assert ok(reg.call("GET", path(s, "versions", "latest")))["id"] == sid


# ------------------------------------------------------ 7. durability

def snapshot(reg):
    """Everything a user reads back: subjects (deleted ones too) with every
    version's body, each id's schema, subject and global levels."""
    out = {"subjects": ok(reg.call("GET", "/subjects")), "global": ok(reg.call("GET", "/config"))}
    for s in ok(reg.call("GET", "/subjects", params={"deleted": "true"})):
        versions = ok(reg.call("GET", path(s, "versions"), params={"deleted": "true"}))
        out[s] = [ok(reg.call("GET", path(s, "versions", v), params={"deleted": "true"})) for v in versions]
        r = reg.call("GET", "/config/" + quote(s, safe=""))
        out["config " + s] = (r.status_code, r.json())
        for v in out[s]:
            out["id %d" % v["id"]] = ok(reg.call("GET", "/schemas/ids/%d" % v["id"]))
    return out


def register_when_writable(reg, subject, schema, timeout=15):
    """Registers, retrying while the instance answers 5xx (no leader known
    yet, see test_registers_at_once_after_a_restart); the id."""
    def attempt():
        r = reg.call("POST", path(subject, "versions"), {"schema": schema}, timeout=5)
        assert r.status_code == 200 or r.status_code >= 500, "%d %s" % (r.status_code, r.text)
        assert r.status_code == 200, "%d %s" % (r.status_code, r.text)
        return ok(r)["id"]
    return wait_for(attempt, timeout=timeout, interval=0.1, desc="a registration on %s" % reg.name)


def ids_in(snap):
    return {int(k.split()[1]) for k in snap if k.startswith("id ")}


def test_state_survives_restarts(make_registry):  # noqa: F811 - fixture
    topic = uniq("_schemas_durable")
    r = make_registry(topic=topic, props={"schema.registry.zk.namespace": topic},
                      overrides={"schema.compatibility.level": "full"})
    assert ok(r.call("GET", "/config")) == {"compatibilityLevel": "FULL"}  # the property, nothing stored yet
    a, b, c, d, e = (uniq(x) for x in "abcde")
    register(r, a, EVT_V1)
    register(r, a, EVT_SOURCE_DEFAULT)
    register(r, b, EVT_V1)  # a's id
    register(r, c, record("C", ("x", "int")))
    set_level(r, c, "NONE")
    register(r, c, record("C", ("x", "string")))
    register(r, d, record("D", ("y", "int")))
    register(r, d, record("D", ("y", "int"), ("z", "int", 0)))
    assert ok(r.call("DELETE", path(d, "versions", 1))) == 1
    register(r, e, record("E", ("w", "int")))
    assert ok(r.call("DELETE", path(e))) == [1]
    assert ok(r.call("PUT", "/config", {"compatibility": "FORWARD"})) == {"compatibility": "FORWARD"}
    before = snapshot(r)
    assert set(before["subjects"]) == {a, b, c, d}
    assert len(ids_in(before)) == 7 and before["global"] == {"compatibilityLevel": "FORWARD"}

    assert r.sigterm() == 0, r.log_tail()
    r.start()
    # The stored global level wins over schema.compatibility.level=full.
    assert snapshot(r) == before

    # A write acknowledged just before a kill -9 is there after it. (That
    # the restarted instance takes writes at once: the two tests below.)
    f = uniq("f")
    fid = register_when_writable(r, f, record("F", ("v", "int")))
    r.crash()
    r.start()
    after = snapshot(r)
    assert ok(r.call("GET", path(f, "versions", "latest")))["id"] == fid
    assert {k: v for k, v in after.items() if f not in k and k != "id %d" % fid and k != "subjects"} == \
        {k: v for k, v in before.items() if k != "subjects"}
    assert set(after["subjects"]) == set(before["subjects"]) | {f}

    # Ids are never handed out twice: not even the highest one, after a
    # permanent delete and a restart.
    g = uniq("g")
    gid = register_when_writable(r, g, record("G", ("u", "int")))
    assert gid > max(ids_in(after))
    assert ok(r.call("DELETE", path(g))) == [1]
    assert ok(r.call("DELETE", path(g), params={"permanent": "true"})) == [1]
    error(r.call("GET", "/schemas/ids/%d" % gid), 404, 40403)
    r.crash()
    r.start()
    hid = register_when_writable(r, uniq("h"), record("H", ("t", "int")))
    assert hid > gid


@pytest.mark.parametrize("how", ["sigterm", "kill-9"])
def test_registers_at_once_after_a_restart(make_registry, how):  # noqa: F811 - fixture
    """One instance restarted on its host and port (kafkastore.connection.url
    set, as scripts/cluster.sh does): the first registration after the
    restart succeeds. Confluent's instance closes its ZooKeeper session when
    it stops (the ephemeral leader node goes with it) and, after a kill -9,
    takes the leader node still holding its own identity as its own and
    leads at once."""
    topic = uniq("_schemas_restart")
    r = make_registry(topic=topic, props={"schema.registry.zk.namespace": topic})
    first = register(r, uniq("before"), record("Before", ("x", "int")))
    if how == "sigterm":
        assert r.sigterm() == 0, r.log_tail()
    else:
        r.crash()
    r.start()
    t0 = time.monotonic()
    resp = r.call("POST", path(uniq("after"), "versions"), {"schema": record("After", ("x", "int"))})
    assert resp.status_code == 200, "%d %s after %.2fs" % (resp.status_code, resp.text, time.monotonic() - t0)
    assert resp.json()["id"] > first


def test_schemas_topic_is_compacted_single_partition(reg, registry_cluster):  # noqa: F811
    admin = AdminClient({"bootstrap.servers": registry_cluster.bootstrap})
    md = admin.list_topics("_schemas", timeout=10).topics["_schemas"]
    assert md.error is None, md.error
    assert list(md.partitions) == [0]
    assert len(md.partitions[0].replicas) == min(3, len(registry_cluster.brokers))
    res = ConfigResource(ConfigResource.Type.TOPIC, "_schemas")
    configs = admin.describe_configs([res])[res].result(10)
    assert configs["cleanup.policy"].value == "compact"


# ------------------------------------------------------ 8. two instances

@pytest.fixture(scope="module")
def pair(make_registry):  # noqa: F811 - fixture
    """Two registries on one topic, one schema.registry.zk.namespace, one
    kafkastore.connection.url (make_registry passes the cluster's coord with
    its chroot): they elect a leader, writes on the other are forwarded to
    it. A 3 s coord session, so a killed leader is replaced within seconds."""
    topic = uniq("_schemas_pair")
    props = {"schema.registry.zk.namespace": topic, "kafkastore.zk.session.timeout.ms": "3000"}
    return make_registry(topic=topic, props=props), make_registry(topic=topic, props=props)


def visible(reg, subject, version=1):
    r = reg.call("GET", path(subject, "versions", version))
    assert r.status_code == 200, r.text
    return r.json()


def test_two_instances_serve_each_others_schemas(pair):
    a, b = pair
    on_a, on_b = uniq("on-a"), uniq("on-b")
    id_a = register(a, on_a, record("OnA", ("x", "int")))
    assert wait_for(lambda: visible(b, on_a), timeout=10, desc="%s on the other instance" % on_a)["id"] == id_a
    id_b = register(b, on_b, record("OnB", ("x", "int")))
    assert id_b != id_a
    assert wait_for(lambda: visible(a, on_b), timeout=10, desc="%s on the other instance" % on_b)["id"] == id_b
    for r in (a, b):
        assert json.loads(ok(r.call("GET", "/schemas/ids/%d" % id_a))["schema"])["name"] == "OnA"
        assert json.loads(ok(r.call("GET", "/schemas/ids/%d" % id_b))["schema"])["name"] == "OnB"


def test_writes_on_either_instance(pair):
    """Config, delete and failed writes behave the same on the leader and on
    the instance forwarding to it: Confluent's status and error_code."""
    a, b = pair
    for here, there in ((a, b), (b, a)):
        s = uniq("fwd")
        v1, v2 = own_evt()
        register(here, s, v1)
        wait_for(lambda: visible(there, s), timeout=10, desc="%s on %s" % (s, there.name))
        error(here.call("POST", path(s, "versions"), {"schema": record("Evt", ("id", "string"))}), 409, 409)
        error(here.call("POST", path(s, "versions"), {"schema": "{"}), 422, 42201)
        error(here.call("PUT", "/config/" + s, {"compatibility": "SIDEWAYS"}), 422, 42203)
        error(here.call("DELETE", path(s, "versions", 1), params={"permanent": "true"}), 404, 40407)
        error(here.call("POST", path(s, "versions"), data=b"{nope"), 400, 400)
        set_level(here, s, "NONE")
        assert wait_for(lambda: ok(there.call("GET", "/config/" + s)), timeout=10) == {"compatibilityLevel": "NONE"}
        assert ok(here.call("DELETE", path(s))) == [1]
        wait_for(lambda: there.call("GET", path(s, "versions")).status_code == 404, timeout=10,
                 desc="the delete of %s on %s" % (s, there.name))


def test_body_over_16_mib_on_either_instance(pair):
    big = b'{"schema":"' + b"x" * (16 << 20) + b'"}'
    for r in pair:
        error(r.call("POST", path(uniq("big"), "versions"), data=big), 413, 413)


def test_two_instances_hand_out_distinct_ids(pair):
    a, b = pair
    subjects = [uniq("many") for _ in range(20)]
    schemas = [record("S%d" % i, ("f%d" % i, "long")) for i in range(20)]
    ids, errors = {}, []

    def worker(reg, indexes):
        try:
            for i in indexes:
                ids[i] = register(reg, subjects[i], schemas[i])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(a, range(0, 20, 2))),
               threading.Thread(target=worker, args=(b, range(1, 20, 2)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(set(ids.values())) == 20, "ids handed out twice: %s" % sorted(ids.items(), key=lambda kv: kv[1])
    for r in (a, b):
        for i, s in enumerate(subjects):
            assert wait_for(lambda: visible(r, s), timeout=10, desc="%s on %s" % (s, r.name))["id"] == ids[i]
            assert json.loads(ok(r.call("GET", "/schemas/ids/%d" % ids[i]))["schema"])["name"] == "S%d" % i


def test_survivor_registers_after_kill_9(pair):
    """Whichever was leader: kill -9 one, the other registers; bring it
    back, kill -9 the other, the first registers (one of the two kills hit
    the leader of the moment)."""
    a, b = pair
    newest = max(v["id"] for v in ok(a.call("GET", "/schemas")))
    for n, (victim, survivor) in enumerate(((a, b), (b, a))):
        victim.crash()
        s = uniq("after-kill")

        def registered():
            r = survivor.call("POST", path(s, "versions"), {"schema": record("K%d" % n, ("k", "int"))},
                              timeout=5)
            assert r.status_code == 200, "%d %s" % (r.status_code, r.text)
            return r.json()["id"]
        t0 = time.monotonic()
        sid = wait_for(registered, timeout=20, interval=0.2,
                       desc="a registration on %s after the kill -9 of %s" % (survivor.name, victim.name))
        assert time.monotonic() - t0 < 20
        assert sid > newest, (sid, newest)
        newest = sid
        victim.start()
        assert wait_for(lambda: visible(victim, s), timeout=10, desc="%s on the restarted instance" % s)["id"] == sid


def test_the_readme_avro_example(reg, registry_cluster):  # noqa: F811
    """examples/avro_producer.py, which the README's quick start runs:
    records a consumer decodes with the schema it registered."""
    topic = create_topic(registry_cluster.bootstrap, uniq("orders"), 1, 3)
    r = subprocess.run([sys.executable, os.path.join(REPO, "examples", "avro_producer.py"),
                        "--bootstrap", registry_cluster.bootstrap, "--registry", reg.url, "--topic", topic],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    latest = ok(reg.call("GET", path(topic + "-value", "versions", "latest")))
    got = consume_values(registry_cluster.bootstrap, topic, 3, AvroDeserializer(SchemaRegistryClient({"url": reg.url})),
                         latest["id"])
    assert got == [{"id": i, "item": "item-%d" % i} for i in range(3)]
