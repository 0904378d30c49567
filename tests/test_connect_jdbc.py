"""Runnel Connect's JDBC connectors against a real PostgreSQL server
(Debian's package, pgproc.py) and a real cluster and worker (the fixtures
of test_connect.py), configured with Confluent's class and key names as
people's connector JSON has them:

* a table -> JdbcSourceConnector (timestamp+incrementing) -> topic
  (JsonConverter with schemas) -> JdbcSinkConnector (upsert on the id,
  auto.create, auto.evolve) -> another table: inserts, updates and a new
  column reach the copy, whose rows equal the source's at the end; the
  topic's records carry Connect's schema (kafka-python reads them);
* incrementing mode over two whitelisted tables with tasks.max=2: one
  table per task (`tables` in GET /tasks), a topic per table, the offsets
  under {"table": …} in GET /offsets, and after stop + resume only the
  new rows are read (nothing repeated, nothing lost);
* configs refused with 400s naming the key (mode, connection.url, the
  mode's column, upsert without a key), /config/validate listing them;
* a sink into a missing table without auto.create, a sink given
  schemaless JSON and a source that cannot reach its database FAIL with
  traces that say why.
"""

import json

import pytest
from kafka import KafkaProducer

from pgproc import Postgres
from procutil import wait_for
from test_connect import cluster, create, create_topic, read_records, unique, worker  # noqa: F401

SOURCE = "io.confluent.connect.jdbc.JdbcSourceConnector"
SINK = "io.confluent.connect.jdbc.JdbcSinkConnector"
JSON = "org.apache.kafka.connect.json.JsonConverter"
DB = "shop"


@pytest.fixture(scope="module")
def pg():
    p = Postgres().start()
    p.psql("CREATE DATABASE %s" % DB)
    yield p
    p.close()


def json_values():
    return {"value.converter": JSON, "value.converter.schemas.enable": "true"}


def source(pg, **extra):
    c = {"connector.class": SOURCE, "connection.url": pg.url(DB), "connection.user": "postgres",
         "poll.interval.ms": "200"}
    c.update(json_values())
    c.update(extra)
    return c


def sink(pg, **extra):
    c = {"connector.class": SINK, "connection.url": pg.url(DB), "connection.user": "postgres"}
    c.update(json_values())
    c.update(extra)
    return c


def rows(pg, sql):
    return pg.psql(sql, db=DB)


def same_rows(pg, a, b, columns):
    """Until tables a and b hold the same rows (over `columns`)."""
    q = "SELECT %s FROM %%s ORDER BY 1" % columns

    def equal():
        left, right = rows(pg, q % a), rows(pg, q % b)
        return left == right and left
    return wait_for(equal, timeout=30, interval=0.2, desc="%s equal to %s" % (b, a))


def test_table_to_topic_to_table_with_updates_and_a_new_column(cluster, worker, pg):  # noqa: F811
    x = unique("o").replace("-", "_")
    src, copy = "orders_" + x, "copy_" + x
    topic = "pg-" + src
    create_topic(cluster.bootstrap, topic)
    rows(pg, "CREATE TABLE %s (id serial PRIMARY KEY, customer text NOT NULL, amount numeric(10,2), "
             "qty integer, placed date, updated_at timestamp NOT NULL DEFAULT clock_timestamp())" % src)
    rows(pg, "INSERT INTO %s (customer, amount, qty, placed) VALUES "
             "('ada', 12.50, 1, '2026-01-02'), ('bob', NULL, 3, NULL), ('cy', 7.25, NULL, '1969-12-31')" % src)
    create(worker, "pg-src-" + x, source(
        pg, **{"mode": "timestamp+incrementing", "incrementing.column.name": "id",
               "timestamp.column.name": "updated_at", "table.whitelist": src, "topic.prefix": "pg-"}))
    create(worker, "pg-sink-" + x, sink(
        pg, **{"topics": topic, "table.name.format": copy, "insert.mode": "upsert",
               "pk.mode": "record_value", "pk.fields": "id", "auto.create": "true", "auto.evolve": "true"}))
    # Timestamps travel as Connect Timestamps (milliseconds).
    cols = "id, customer, amount::float8, qty, placed, date_trunc('milliseconds', updated_at)"
    assert len(same_rows(pg, src, copy, cols)) == 3
    # The copy was created from the records' schema, the key as its primary key.
    assert rows(pg, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                    "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '%s'::regclass AND i.indisprimary" % copy) \
        == [["id"]]
    assert rows(pg, "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                    "WHERE table_name = '%s' ORDER BY ordinal_position" % copy) == [
        ["id", "integer", "NO"], ["customer", "text", "NO"], ["amount", "double precision", "YES"],
        ["qty", "integer", "YES"], ["placed", "date", "YES"],
        ["updated_at", "timestamp without time zone", "NO"]]

    # Updates and inserts: the updated rows are read again by their new timestamp.
    rows(pg, "UPDATE %s SET qty = 30, amount = 99.99, updated_at = clock_timestamp() WHERE customer = 'bob'" % src)
    rows(pg, "INSERT INTO %s (customer, amount, qty) VALUES ('dee', 1.00, 4)" % src)
    final = same_rows(pg, src, copy, cols)
    assert [r[1] for r in final] == ["ada", "bob", "cy", "dee"]
    assert final[1][2:4] == ["99.99", "30"]

    # A new nullable column: the source's schema grows, the sink adds the column.
    rows(pg, "ALTER TABLE %s ADD COLUMN note text" % src)
    rows(pg, "INSERT INTO %s (customer, note) VALUES ('eve', 'gift wrap')" % src)
    same_rows(pg, src, copy, cols + ", note")
    assert rows(pg, "SELECT note FROM %s WHERE customer = 'eve'" % copy) == [["gift wrap"]]

    # On the topic: Kafka's JSON envelope with the table's struct schema.
    first = json.loads(read_records(cluster.bootstrap, topic, 1)[0].value)
    fields = {f["field"]: f for f in first["schema"]["fields"]}
    assert first["schema"]["name"] == src
    assert fields["id"]["type"] == "int32" and fields["id"]["optional"] is False
    assert fields["amount"] == {"field": "amount", "type": "double", "optional": True}
    assert fields["updated_at"]["name"] == "org.apache.kafka.connect.data.Timestamp"
    assert fields["placed"]["name"] == "org.apache.kafka.connect.data.Date"
    assert first["payload"]["customer"] == "ada"
    assert first["payload"]["placed"] == 20455  # days from 1970-01-01 to 2026-01-02
    for name in ("pg-src-", "pg-sink-"):
        assert worker.call("DELETE", "/connectors/" + name + x).status_code == 204


def test_incrementing_tables_split_over_tasks_and_resumed(cluster, worker, pg):  # noqa: F811
    x = unique("i").replace("-", "_")
    tables = ["a_" + x, "b_" + x]
    for t in tables:
        create_topic(cluster.bootstrap, "inc-" + t)
        rows(pg, "CREATE TABLE %s (id bigint PRIMARY KEY, body text, flag boolean, raw bytea)" % t)
        rows(pg, "INSERT INTO %s SELECT g, 'row ' || g, g %% 2 = 0, '\\x00ff' FROM generate_series(1, 250) g" % t)
    name = "pg-inc-" + x
    create(worker, name, source(pg, **{"mode": "incrementing", "incrementing.column.name": "id",
                                       "table.whitelist": ",".join(tables), "topic.prefix": "inc-",
                                       "tasks.max": "2", "batch.max.rows": "100"}))
    tasks = worker.get("/connectors/%s/tasks" % name)
    assert sorted(t["config"]["tables"] for t in tasks) == sorted(tables)
    worker.wait_state(name, "RUNNING", tasks=2)
    for t in tables:
        got = read_records(cluster.bootstrap, "inc-" + t, 250)
        values = [json.loads(m.value)["payload"] for m in got]
        assert [v["id"] for v in values] == list(range(1, 251))
        assert values[1] == {"id": 2, "body": "row 2", "flag": True, "raw": "AP8="}

    def offsets():
        got = worker.get("/connectors/%s/offsets" % name)["offsets"]
        return sorted((o["partition"]["table"], o["offset"]["incrementing"]) for o in got)
    wait_for(lambda: offsets() == sorted((t, 250) for t in tables), desc="offsets at 250")

    assert worker.call("PUT", "/connectors/%s/stop" % name).status_code == 202
    worker.wait_state(name, "STOPPED", tasks=0)
    for t in tables:
        rows(pg, "INSERT INTO %s SELECT g, 'late ' || g FROM generate_series(251, 260) g" % t)
    assert worker.call("PUT", "/connectors/%s/resume" % name).status_code == 202
    for t in tables:
        got = read_records(cluster.bootstrap, "inc-" + t, 260)
        ids = [json.loads(m.value)["payload"]["id"] for m in got]
        assert ids == list(range(1, 261)), "repeated or missing rows in %s" % t
    assert worker.call("DELETE", "/connectors/" + name).status_code == 204


def test_bad_configs_name_their_key(worker, pg):  # noqa: F811
    base = source(pg, **{"topic.prefix": "p-"})
    cases = [
        (dict(base, mode="sometimes"), "String must be one of: bulk, timestamp, incrementing"),
        ({k: v for k, v in dict(base, mode="bulk").items() if k != "connection.url"},
         'Missing required configuration "connection.url"'),
        (dict(base, mode="incrementing"), "Mode incrementing needs incrementing.column.name"),
        (dict(base, mode="bulk", query="SELECT 1", **{"table.whitelist": "t"}),
         "Do not specify table filtering for query based source."),
        (sink(pg, topics="t", **{"insert.mode": "upsert"}), "pk.mode must not be none"),
        (sink(pg, topics="t", **{"pk.mode": "maybe"}), "Invalid value maybe for configuration pk.mode"),
    ]
    for config, message in cases:
        r = worker.call("POST", "/connectors", {"name": unique("bad"), "config": config})
        assert r.status_code == 400 and message in r.json()["message"], (config, r.text)
    r = worker.call("PUT", "/connector-plugins/JdbcSourceConnector/config/validate",
                    dict(base, mode="incrementing", name="v"))
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == SOURCE and body["error_count"] == 1
    errors = {c["value"]["name"]: c["value"]["errors"] for c in body["configs"]}
    assert errors["incrementing.column.name"] == ["Mode incrementing needs incrementing.column.name"]
    plugins = {p["class"]: p["type"] for p in worker.get("/connector-plugins")}
    assert plugins[SOURCE] == "source" and plugins[SINK] == "sink"


def test_failures_say_why(cluster, worker, pg):  # noqa: F811
    x = unique("f").replace("-", "_")
    topic = "fail-" + x
    create_topic(cluster.bootstrap, topic)
    p = KafkaProducer(bootstrap_servers=cluster.bootstrap)
    p.send(topic, json.dumps({"schema": {"type": "struct", "fields": [
        {"field": "id", "type": "int64", "optional": False}]}, "payload": {"id": 1}}).encode())
    p.flush()
    p.close()

    def failed(name):
        def trace():
            s = worker.status(name)
            t = s["tasks"][0] if s["tasks"] else {}
            return t.get("state") == "FAILED" and t["trace"]
        return wait_for(trace, timeout=30, interval=0.1, desc="%s FAILED" % name)

    create(worker, "no-table-" + x, sink(pg, topics=topic, **{"table.name.format": "missing_" + x}))
    assert "Table missing_%s is missing and auto-creation is disabled" % x in failed("no-table-" + x)
    # Read without schemas, the records are plain maps: the task stops at the first.
    create(worker, "schemaless-" + x, sink(pg, topics=topic, **{
        "table.name.format": "plain_" + x, "auto.create": "true",
        "value.converter.schemas.enable": "false"}))
    assert "schemas.enable=true" in failed("schemaless-" + x)
    create(worker, "no-db-" + x, source(pg, **{
        "mode": "bulk", "topic.prefix": "nodb-", "connection.url": "jdbc:postgresql://127.0.0.1:1/nodb",
        "connection.attempts": "1"}))
    assert "cannot connect to PostgreSQL after 1 attempt(s)" in failed("no-db-" + x)
    for name in ("no-table-", "schemaless-", "no-db-"):
        assert worker.call("DELETE", "/connectors/" + name + x).status_code == 204
