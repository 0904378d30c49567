"""JSON Schema in the Schema Registry (runnel-registry), driven by
confluent-kafka 2.16's JSONSerializer / JSONDeserializer with their default
settings and by plain HTTP: /schemas/types lists JSON; a schema
auto-registered by the serializer round-trips through a topic; the same
schema written another way (key order, whitespace) keeps its id; under
BACKWARD a changed property type is refused with 409 naming TYPE_CHANGED
and the property, an added property to a closed content model is accepted
and to an open one refused (Confluent's rules), a property removed from an
open model is accepted; an invalid JSON Schema is 42201; a `$ref` to
another subject's schema (a reference) resolves; and a subject keeps its
type (an Avro schema under a JSON subject is refused)."""

import json
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from eosutil import create_topic
from registryproc import CONTENT_TYPE, consume_values, make_registry, registry_cluster  # noqa: F401

pytestmark = pytest.mark.timeout(180)


def uniq(tag):
    return "%s-%s" % (tag, uuid.uuid4().hex[:8])


@pytest.fixture(scope="module")
def reg(make_registry):  # noqa: F811 - fixture
    return make_registry()


def register(reg, subject, schema, **extra):
    return reg.call("POST", "/subjects/%s/versions" % subject, dict(schema=json.dumps(schema), schemaType="JSON",
                                                                     **extra))


def ok(r):
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers.get("Content-Type") == CONTENT_TYPE
    return r.json()


def obj(props, required=(), closed=False):
    s = {"type": "object", "properties": props, "required": list(required)}
    if closed:
        s["additionalProperties"] = False
    return s


USER = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "User",
    "type": "object",
    "properties": {"name": {"type": "string"}, "favorite_number": {"type": "integer"},
                   "favorite_color": {"type": "string"}},
    "required": ["name", "favorite_number", "favorite_color"],
}


def test_json_is_a_schema_type(reg):
    assert "JSON" in ok(reg.call("GET", "/schemas/types"))


def test_json_serializer_and_deserializer_round_trip(reg, registry_cluster):  # noqa: F811
    bootstrap = registry_cluster.bootstrap
    topic = create_topic(bootstrap, uniq("json-users"), 1, 3)
    # confluent-kafka's examples/json_producer.py and json_consumer.py, default settings.
    sr = SchemaRegistryClient({"url": reg.url})
    serializer = JSONSerializer(json.dumps(USER), sr)
    producer = Producer({"bootstrap.servers": bootstrap})
    sent = [{"name": "u%d" % i, "favorite_number": i, "favorite_color": "blue"} for i in range(5)]
    for u in sent:
        producer.produce(topic, value=serializer(u, SerializationContext(topic, MessageField.VALUE)))
    assert producer.flush(30) == 0
    latest = ok(reg.call("GET", "/subjects/%s-value/versions/latest" % topic))
    assert latest["schemaType"] == "JSON" and json.loads(latest["schema"]) == USER

    deserializer = JSONDeserializer(None, schema_registry_client=SchemaRegistryClient({"url": reg.url}))
    got = consume_values(bootstrap, topic, len(sent), deserializer, latest["id"])
    assert got == sent


def test_one_schema_written_two_ways_keeps_its_id(reg):
    subject = uniq("json-same")
    first = ok(register(reg, subject, USER))["id"]
    reordered = json.dumps(dict(reversed(list(USER.items()))), indent=4)
    r = reg.call("POST", "/subjects/%s/versions" % subject, {"schema": reordered, "schemaType": "JSON"})
    assert ok(r)["id"] == first
    assert ok(reg.call("GET", "/subjects/%s/versions" % subject)) == [1]


def test_a_changed_property_type_is_refused_under_backward(reg):
    subject = uniq("json-type")
    ok(register(reg, subject, obj({"name": {"type": "string"}}, ["name"])))
    r = register(reg, subject, obj({"name": {"type": "integer"}}, ["name"]))
    assert (r.status_code, r.json()["error_code"]) == (409, 409), r.text
    assert "TYPE_CHANGED" in r.json()["message"] and "#/properties/name" in r.json()["message"]


def test_content_models_decide_added_properties(reg):
    closed = uniq("json-closed")
    ok(register(reg, closed, obj({"a": {"type": "string"}}, closed=True)))
    # Old data cannot hold "b" (closed), so a reader with "b" reads it all.
    assert ok(register(reg, closed, obj({"a": {"type": "string"}, "b": {"type": "integer"}}, closed=True)))["id"]

    opened = uniq("json-open")
    ok(register(reg, opened, obj({"a": {"type": "string"}})))
    r = register(reg, opened, obj({"a": {"type": "string"}, "b": {"type": "integer"}}))
    assert r.status_code == 409 and "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" in r.json()["message"], r.text
    # Removing a property from an open model: the reader still takes it.
    assert ok(register(reg, opened, obj({})))["id"]


def test_invalid_json_schema_is_42201(reg):
    for bad in ('{"type": "strang"}', '{"properties": []}', "not json", '{"required": "name"}'):
        r = reg.call("POST", "/subjects/%s/versions" % uniq("json-bad"), {"schema": bad, "schemaType": "JSON"})
        assert (r.status_code, r.json()["error_code"]) == (422, 42201), (bad, r.text)


def test_references_resolve_between_subjects(reg):
    addr_subject = uniq("json-addr")
    address = {"$id": "https://example.com/address.json", "type": "object",
               "properties": {"city": {"type": "string"}}, "required": ["city"]}
    ok(register(reg, addr_subject, address))
    person = {"type": "object", "properties": {"home": {"$ref": "address.json"}}}
    subject = uniq("json-person")
    refs = [{"name": "address.json", "subject": addr_subject, "version": 1}]
    pid = ok(register(reg, subject, person, references=refs))["id"]
    got = ok(reg.call("GET", "/schemas/ids/%d" % pid))
    assert got["references"] == refs and got["schemaType"] == "JSON"
    # Without its reference the $ref resolves to nothing.
    r = register(reg, uniq("json-person"), person)
    assert (r.status_code, r.json()["error_code"]) == (422, 42201), r.text


def test_a_subject_keeps_its_type(reg):
    subject = uniq("json-typed")
    ok(register(reg, subject, obj({"a": {"type": "string"}})))
    r = reg.call("POST", "/subjects/%s/versions" % subject, {"schema": '"string"'})
    assert r.status_code == 409, r.text
