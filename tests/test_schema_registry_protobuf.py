"""Protobuf in the Schema Registry (runnel-registry), driven by
confluent-kafka 2.16's ProtobufSerializer / ProtobufDeserializer with their
default settings (the serializer registers the message's file as a base64
FileDescriptorProto) and by plain HTTP with .proto text: /schemas/types
lists PROTOBUF; typed records round-trip through a topic; the registered
schema is served as .proto text and, with ?format=serialized, as the
descriptor again; the same file sent as text gets the descriptor's id;
under BACKWARD a field's type changed incompatibly is refused with 409 and
a field added is accepted; an imported file is a reference; bad .proto text
is 42201."""

import base64
import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from eosutil import create_topic
from registryproc import CONTENT_TYPE, consume_values, make_registry, registry_cluster  # noqa: F401

pytestmark = pytest.mark.timeout(180)

F = descriptor_pb2.FieldDescriptorProto


def uniq(tag):
    return "%s-%s" % (tag, uuid.uuid4().hex[:8])


@pytest.fixture(scope="module")
def reg(make_registry):  # noqa: F811 - fixture
    return make_registry()


def ok(r):
    assert r.status_code == 200, (r.request.method, r.request.url, r.status_code, r.text)
    assert r.headers.get("Content-Type") == CONTENT_TYPE
    return r.json()


def user_class(package):
    """A User message class built from a FileDescriptorProto, as protoc's
    generated module would define it (no protoc needed)."""
    fdp = descriptor_pb2.FileDescriptorProto(name="%s/user.proto" % package, package=package, syntax="proto3")
    m = fdp.message_type.add(name="User")
    m.field.add(name="name", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, json_name="name")
    m.field.add(name="favorite_number", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL,
                json_name="favoriteNumber")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(package + ".User"))


def user_proto(package, number_type="int64", extra=""):
    return ('syntax = "proto3";\npackage %s;\n\nmessage User {\n  string name = 1;\n'
            '  %s favorite_number = 2;\n%s}\n') % (package, number_type, extra)


def register(reg, subject, text, **extra):
    return reg.call("POST", "/subjects/%s/versions" % subject, dict(schema=text, schemaType="PROTOBUF", **extra))


def test_protobuf_is_a_schema_type(reg):
    assert "PROTOBUF" in ok(reg.call("GET", "/schemas/types"))


def test_protobuf_serializer_and_deserializer_round_trip(reg, registry_cluster):  # noqa: F811
    bootstrap = registry_cluster.bootstrap
    topic = create_topic(bootstrap, uniq("pb-users"), 1, 3)
    package = "ex" + uuid.uuid4().hex[:6]
    User = user_class(package)
    # confluent-kafka's examples/protobuf_producer.py and protobuf_consumer.py.
    sr = SchemaRegistryClient({"url": reg.url})
    serializer = ProtobufSerializer(User, sr, {"use.deprecated.format": False})
    producer = Producer({"bootstrap.servers": bootstrap})
    sent = [User(name="u%d" % i, favorite_number=i * 7) for i in range(5)]
    for u in sent:
        producer.produce(topic, value=serializer(u, SerializationContext(topic, MessageField.VALUE)))
    assert producer.flush(30) == 0

    latest = ok(reg.call("GET", "/subjects/%s-value/versions/latest" % topic))
    assert latest["schemaType"] == "PROTOBUF"
    assert "message User" in latest["schema"] and "package %s;" % package in latest["schema"]
    served = ok(reg.call("GET", "/schemas/ids/%d" % latest["id"], params={"format": "serialized"}))
    fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(served["schema"]))
    assert [f.name for f in fdp.message_type[0].field] == ["name", "favorite_number"]
    # The same file as .proto text is the same schema.
    same = ok(register(reg, topic + "-value", user_proto(package)))
    assert same["id"] == latest["id"]

    deserializer = ProtobufDeserializer(User, {"use.deprecated.format": False})
    got = consume_values(bootstrap, topic, len(sent), deserializer, latest["id"])
    assert got == sent


def test_backward_compatibility(reg):
    subject = uniq("pb-compat")
    package = "ex" + uuid.uuid4().hex[:6]
    ok(register(reg, subject, user_proto(package)))
    r = register(reg, subject, user_proto(package, number_type="string"))
    assert (r.status_code, r.json()["error_code"]) == (409, 409), r.text
    added = ok(register(reg, subject, user_proto(package, extra="  string email = 3;\n")))
    assert ok(reg.call("GET", "/subjects/%s/versions" % subject)) == [1, 2] and added["id"]
    ok(reg.call("PUT", "/config/" + subject, {"compatibility": "NONE"}))
    assert ok(register(reg, subject, user_proto(package, number_type="string")))["id"]


def test_imports_are_references(reg):
    package = "ex" + uuid.uuid4().hex[:6]
    addr_subject = uniq("pb-addr")
    ok(register(reg, addr_subject, 'syntax = "proto3";\npackage %s;\nmessage Address { string city = 1; }\n'
                % package))
    person = ('syntax = "proto3";\npackage %s;\nimport "address.proto";\nimport "google/protobuf/timestamp.proto";\n'
              'message Person { Address home = 1; google.protobuf.Timestamp born = 2; }\n') % package
    refs = [{"name": "address.proto", "subject": addr_subject, "version": 1}]
    pid = ok(register(reg, uniq("pb-person"), person, references=refs))["id"]
    assert ok(reg.call("GET", "/schemas/ids/%d" % pid))["references"] == refs
    r = register(reg, uniq("pb-person"), person)
    assert (r.status_code, r.json()["error_code"]) == (422, 42201), r.text


def test_bad_proto_is_42201(reg):
    for bad in ("message {", 'syntax = "proto3"; message M { strin name = 1; }', "not a proto at all"):
        r = register(reg, uniq("pb-bad"), bad)
        assert (r.status_code, r.json()["error_code"]) == (422, 42201), (bad, r.text)
