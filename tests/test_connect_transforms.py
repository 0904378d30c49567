"""Runnel Connect's Single Message Transforms and predicates, with a real
cluster and a real `runnel-connect standalone` worker (the fixtures and
helpers of test_connect.py), configured with Kafka's class names and keys:

* a FileStreamSource routed to another topic by RegexRouter, and a Filter
  with a negated TopicNameMatches dropping what was not routed; a dropped
  record's source offset is stored all the same;
* DataGen through InsertField$Value, MaskField$Value and
  ReplaceField$Value, read back as JSON with kcat;
* a FileStreamSink with Filter/RecordIsTombstone, ExtractField$Value and
  RegexRouter: the file has the extracted names, and the sink's committed
  offset covers the dropped tombstone;
* bad transform configs answered 400 naming the key, /config/validate
  listing the error under the key, and the transforms and predicates in
  /connector-plugins?connectorsOnly=false.
"""

import json
import os
import subprocess

from procutil import wait_for
from test_connect import (JSON, SOURCE, cluster, create, create_topic, file_lines,  # noqa: F401
                          sink_config, source_config, topic_values, unique, worker, write_lines)

T = "org.apache.kafka.connect.transforms."
P = "org.apache.kafka.connect.transforms.predicates."


def route_and_filter():
    """raw-<x> -> clean-<x>; whatever is not clean-* afterwards is dropped."""
    return {
        "transforms": "route,dropOthers",
        "transforms.route.type": T + "RegexRouter",
        "transforms.route.regex": "raw-(.*)",
        "transforms.route.replacement": "clean-$1",
        "transforms.dropOthers.type": T + "Filter",
        "transforms.dropOthers.predicate": "isClean",
        "transforms.dropOthers.negate": "true",
        "predicates": "isClean",
        "predicates.isClean.type": P + "TopicNameMatches",
        "predicates.isClean.pattern": "clean-.*",
    }


def test_file_source_routed_and_filtered(cluster, worker, tmp_path):  # noqa: F811
    x = unique("t")
    create_topic(cluster.bootstrap, "clean-" + x)
    kept = tmp_path / "kept.txt"
    dropped = tmp_path / "dropped.txt"
    write_lines(kept, ["one", "two", "three"])
    write_lines(dropped, ["audit-1", "audit-2"])
    create(worker, "smt-kept", source_config(kept, "raw-" + x, **route_and_filter()))
    create(worker, "smt-dropped", source_config(dropped, "audit-" + x, **route_and_filter()))
    assert topic_values(cluster.bootstrap, "clean-" + x, 3) == ["one", "two", "three"]
    # The dropped records were processed: their position is stored.
    size = os.path.getsize(dropped)
    wait_for(lambda: worker.get("/connectors/smt-dropped/offsets") == {
        "offsets": [{"partition": {"filename": str(dropped)}, "offset": {"position": size}}]},
        desc="offsets of the filtered connector")
    write_lines(kept, ["four"])
    assert topic_values(cluster.bootstrap, "clean-" + x, 4) == ["one", "two", "three", "four"]
    for name in ("smt-kept", "smt-dropped"):
        assert worker.status(name)["tasks"][0]["state"] == "RUNNING"
        assert worker.call("DELETE", "/connectors/" + name).status_code == 204


def test_datagen_insert_mask_replace(cluster, worker):  # noqa: F811
    topic = unique("smt-gen")
    create_topic(cluster.bootstrap, topic)
    create(worker, "smt-gen", {
        "connector.class": "DataGen", "kafka.topic": topic, "max.interval": "0", "iterations": "5",
        "value.converter": JSON, "value.converter.schemas.enable": "false",
        "transforms": "insert,mask,replace",
        "transforms.insert.type": T + "InsertField$Value",
        "transforms.insert.static.field": "origin",
        "transforms.insert.static.value": "runnel",
        "transforms.insert.topic.field": "topic",
        "transforms.mask.type": T + "MaskField$Value",
        "transforms.mask.fields": "text",
        "transforms.replace.type": T + "ReplaceField$Value",
        "transforms.replace.exclude": "created_ms",
        "transforms.replace.renames": "id:record_id",
    })
    values = [json.loads(v) for v in topic_values(cluster.bootstrap, topic, 5)]
    assert values == [{"record_id": i, "task": 0, "text": "", "topic": topic, "origin": "runnel"}
                      for i in range(5)]
    assert list(values[0]) == ["record_id", "task", "text", "topic", "origin"]
    assert worker.call("DELETE", "/connectors/smt-gen").status_code == 204


def test_sink_extracts_and_drops_tombstones(cluster, worker, tmp_path):  # noqa: F811
    topic = unique("smt-sink")
    create_topic(cluster.bootstrap, topic)
    lines = 'k1:{"name":"ann","age":3}\nk2:\nk3:{"name":"bob","age":4}\n'
    r = subprocess.run(["kcat", "-b", cluster.bootstrap, "-P", "-t", topic, "-p", "0", "-K:", "-Z"],
                       input=lines, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "names.txt"
    create(worker, "smt-sink", sink_config(out, topic, **{
        "value.converter": JSON, "value.converter.schemas.enable": "false",
        "transforms": "tombstones,extract,route",
        "transforms.tombstones.type": T + "Filter",
        "transforms.tombstones.predicate": "isTombstone",
        "transforms.extract.type": T + "ExtractField$Value",
        "transforms.extract.field": "name",
        "transforms.route.type": T + "RegexRouter",
        "transforms.route.regex": "smt-sink-(.*)",
        "transforms.route.replacement": "names-$1",
        "predicates": "isTombstone",
        "predicates.isTombstone.type": P + "RecordIsTombstone",
    }))
    assert file_lines(out, 2) == ["ann", "bob"]
    # The tombstone was dropped, and its offset committed with the rest.
    wait_for(lambda: worker.get("/connectors/smt-sink/offsets") == {"offsets": [{
        "partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}}]},
        timeout=20, desc="sink offsets past the tombstone")
    with open(out) as f:
        assert f.read().splitlines() == ["ann", "bob"]
    assert worker.call("DELETE", "/connectors/smt-sink").status_code == 204


def test_bad_transform_configs_name_the_key(worker, tmp_path):  # noqa: F811
    base = source_config(tmp_path / "in.txt", "t")
    bad_class = dict(base, **{"transforms": "a", "transforms.a.type": "com.example.Nope"})
    r = worker.call("POST", "/connectors", {"name": "smt-bad", "config": bad_class})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == 400
    assert "transforms.a.type" in r.json()["message"] and "com.example.Nope" in r.json()["message"]

    no_regex = dict(base, **{"transforms": "r", "transforms.r.type": T + "RegexRouter",
                             "transforms.r.replacement": "x"})
    r = worker.call("PUT", "/connectors/smt-bad/config", no_regex)
    assert r.status_code == 400, r.text
    assert ('Missing required configuration "transforms.r.regex" which has no default value.'
            in r.json()["message"])

    bad_regex = dict(base, **{"transforms": "r", "transforms.r.type": "RegexRouter",
                              "transforms.r.regex": "(unclosed", "transforms.r.replacement": "x",
                              "transforms.r.predicate": "nope"})
    r = worker.call("POST", "/connectors", {"name": "smt-bad", "config": bad_regex})
    assert r.status_code == 400 and "transforms.r.regex" in r.json()["message"], r.text
    assert "smt-bad" not in worker.get("/connectors")

    r = worker.call("PUT", "/connector-plugins/FileStreamSource/config/validate",
                    dict(bad_regex, name="smt-bad"))
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["error_count"] == 2 and "Transforms: r" in v["groups"]
    by_name = {c["value"]["name"]: c["value"] for c in v["configs"]}
    assert by_name["transforms.r.type"]["errors"] == []
    assert by_name["transforms.r.regex"]["errors"][0].startswith(
        "Invalid value (unclosed for configuration transforms.r.regex")
    assert "transforms.r.predicate" in by_name["transforms.r.predicate"]["errors"][0]

    plugins = worker.get("/connector-plugins", params={"connectorsOnly": "false"})
    types = {p["class"]: p["type"] for p in plugins}
    assert types[T + "RegexRouter"] == "transformation"
    assert types[T + "InsertField$Value"] == "transformation"
    assert types[P + "TopicNameMatches"] == "predicate"
    assert T + "RegexRouter" not in {p["class"] for p in worker.get("/connector-plugins")}
