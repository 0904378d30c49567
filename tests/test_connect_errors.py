"""Runnel Connect's error handling and record headers, with a real cluster
and worker (the fixtures of test_connect.py) and Kafka's config names:

* a sink with errors.tolerance=all and a dead-letter queue: a poison
  record (not JSON for a JsonConverter) goes to the DLQ topic, which the
  worker creates, with its own key, value and headers and Kafka's
  __connect.errors.* context headers, while the task keeps RUNNING and
  writes the good records around it; its committed offset covers all;
* a transform failing on a record under errors.tolerance=all: the record
  is dead-lettered with stage TRANSFORMATION and the transform's class;
* without errors.tolerance the same poison record FAILS the task;
* headers travel to the sink's transforms: Filter with HasHeaderKey drops
  the records carrying the header;
* config errors: a DLQ topic the sink itself reads, a bad tolerance and a
  bad boolean are refused naming their key.
"""

from kafka import KafkaProducer

from procutil import wait_for
from test_connect import (cluster, create, create_topic, file_lines, read_records,  # noqa: F401
                          sink_config, unique, worker)

JSON = "org.apache.kafka.connect.json.JsonConverter"
T = "org.apache.kafka.connect.transforms."
P = "org.apache.kafka.connect.transforms.predicates."


def produce(bootstrap, topic, records):
    """(key, value, headers) triples, in order, to partition 0."""
    p = KafkaProducer(bootstrap_servers=bootstrap)
    for key, value, headers in records:
        p.send(topic, key=key, value=value, headers=headers, partition=0)
    p.flush()
    p.close()


def dlq_config(dlq):
    return {"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.deadletterqueue.context.headers.enable": "true",
            "errors.log.enable": "true", "errors.log.include.messages": "true"}


def test_poison_record_goes_to_the_dead_letter_queue(cluster, worker, tmp_path):  # noqa: F811
    topic, dlq = unique("orders"), unique("dlq")
    create_topic(cluster.bootstrap, topic)
    produce(cluster.bootstrap, topic, [
        (b"k1", b'{"a": 1}', []),
        (b"k2", b"not json", [("trace-id", b"42")]),
        (b"k3", b'{"a": 2}', []),
    ])
    out = tmp_path / "out.txt"
    name = unique("dlq-sink")
    create(worker, name, sink_config(out, topic, **{
        "value.converter": JSON, "value.converter.schemas.enable": "false", **dlq_config(dlq)}))
    assert file_lines(out, 2) == ["{a=1}", "{a=2}"]
    dead = read_records(cluster.bootstrap, dlq, 1)
    assert len(dead) == 1
    d = dead[0]
    assert (d.key, d.value) == (b"k2", b"not json")
    headers = {k: v.decode() for k, v in d.headers}
    assert headers["trace-id"] == "42"
    assert headers["__connect.errors.topic"] == topic
    assert headers["__connect.errors.partition"] == "0"
    assert headers["__connect.errors.offset"] == "1"
    assert headers["__connect.errors.connector.name"] == name
    assert headers["__connect.errors.task.id"] == "0"
    assert headers["__connect.errors.stage"] == "VALUE_CONVERTER"
    assert headers["__connect.errors.class.name"] == JSON
    assert headers["__connect.errors.exception.class.name"] == "org.apache.kafka.connect.errors.DataException"
    assert "value of %s-0@1" % topic in headers["__connect.errors.exception.message"]
    worker.wait_state(name, "RUNNING", tasks=1)
    # The poison record counts as processed: the group's offset is past it.
    wait_for(lambda: worker.get("/connectors/%s/offsets" % name)["offsets"] == [
        {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}}],
        desc="committed offset 3")
    # Later records go on to the file.
    produce(cluster.bootstrap, topic, [(None, b'{"a": 3}', [])])
    assert file_lines(out, 3)[-1] == "{a=3}"
    assert worker.call("DELETE", "/connectors/" + name).status_code == 204

    # A transform's failure: the record is dead-lettered from that stage.
    name2, dlq2 = unique("smt-dlq"), unique("dlq")
    create(worker, name2, sink_config(tmp_path / "out2.txt", topic, **{
        "value.converter": JSON, "value.converter.schemas.enable": "false", **dlq_config(dlq2),
        "transforms": "pick", "transforms.pick.type": T + "ExtractField$Value",
        "transforms.pick.field": "a"}))
    # The poison record fails its converter; the others' field is extracted.
    assert file_lines(tmp_path / "out2.txt", 3) == ["1", "2", "3"]
    produce(cluster.bootstrap, topic, [(None, b'[1, 2]', [])])
    dead = read_records(cluster.bootstrap, dlq2, 2)
    stages = sorted((dict(d.headers)["__connect.errors.stage"].decode(),
                     dict(d.headers)["__connect.errors.class.name"].decode()) for d in dead)
    assert stages == [("TRANSFORMATION", T + "ExtractField$Value"), ("VALUE_CONVERTER", JSON)]
    worker.wait_state(name2, "RUNNING", tasks=1)
    assert worker.call("DELETE", "/connectors/" + name2).status_code == 204

    # Without errors.tolerance, the same record stops the task.
    name3 = unique("strict")
    create(worker, name3, sink_config(tmp_path / "out3.txt", topic, **{
        "value.converter": JSON, "value.converter.schemas.enable": "false"}))

    def failed():
        t = worker.status(name3)["tasks"]
        return t and t[0]["state"] == "FAILED" and t[0]["trace"]
    assert "value of %s-0@1" % topic in wait_for(failed, timeout=30, desc="strict sink FAILED")
    assert worker.call("DELETE", "/connectors/" + name3).status_code == 204


def test_headers_reach_sink_transforms(cluster, worker, tmp_path):  # noqa: F811
    topic = unique("hdr")
    create_topic(cluster.bootstrap, topic)
    produce(cluster.bootstrap, topic, [
        (None, b"keep-1", [("source", b"web")]),
        (None, b"drop-me", [("skip", b"")]),
        (None, b"keep-2", []),
    ])
    out = tmp_path / "out.txt"
    name = unique("hdr-sink")
    create(worker, name, sink_config(out, topic, **{
        "transforms": "f", "transforms.f.type": T + "Filter", "transforms.f.predicate": "h",
        "predicates": "h", "predicates.h.type": P + "HasHeaderKey", "predicates.h.name": "skip"}))
    assert file_lines(out, 2) == ["keep-1", "keep-2"]
    wait_for(lambda: worker.get("/connectors/%s/offsets" % name)["offsets"] == [
        {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}}],
        desc="committed offset 3")
    assert worker.call("DELETE", "/connectors/" + name).status_code == 204


def test_error_configs_name_their_key(worker, tmp_path):  # noqa: F811
    cases = [
        ({"errors.deadletterqueue.topic.name": "in"},
         "The DLQ topic 'in' may not be included in the list of topics ('topics=in') consumed by the connector"),
        ({"errors.tolerance": "some"}, "Invalid value some for configuration errors.tolerance"),
        ({"errors.log.enable": "yes"},
         "Invalid value yes for configuration errors.log.enable: Expected value to be either true or false"),
    ]
    for extra, message in cases:
        r = worker.call("POST", "/connectors", {"name": unique("bad"),
                                                "config": sink_config(tmp_path / "x", "in", **extra)})
        assert r.status_code == 400 and message in r.json()["message"], (extra, r.text)
    v = worker.call("PUT", "/connector-plugins/FileStreamSink/config/validate",
                    dict(sink_config(tmp_path / "x", "in"), name="v")).json()
    assert "Error Handling" in v["groups"]
    names = {c["definition"]["name"]: c["definition"] for c in v["configs"]}
    assert names["errors.log.enable"]["type"] == "BOOLEAN"
    assert names["errors.deadletterqueue.topic.name"]["group"] == "Error Handling"
    src = worker.call("PUT", "/connector-plugins/FileStreamSource/config/validate",
                      {"connector.class": "FileStreamSource", "name": "v", "topic": "t"}).json()
    src_names = {c["definition"]["name"] for c in src["configs"]}
    assert "errors.tolerance" in src_names and "errors.deadletterqueue.topic.name" not in src_names
