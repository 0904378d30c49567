"""Produces Avro records to a topic with confluent-kafka's AvroSerializer and
the Schema Registry (the README's quick start): the serializer registers
<topic>-value on first use and prefixes every record with its schema id.

    .venv/bin/python examples/avro_producer.py [--bootstrap 127.0.0.1:9092]
        [--registry http://127.0.0.1:8081] [--topic orders] [--count 3]
"""

import argparse

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

SCHEMA = '{"type":"record","name":"Order","fields":[{"name":"id","type":"long"},{"name":"item","type":"string"}]}'


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--registry", default="http://127.0.0.1:8081")
    ap.add_argument("--topic", default="orders")
    ap.add_argument("--count", type=int, default=3)
    args = ap.parse_args()

    to_avro = AvroSerializer(SchemaRegistryClient({"url": args.registry}), SCHEMA)
    producer = Producer({"bootstrap.servers": args.bootstrap})
    ctx = SerializationContext(args.topic, MessageField.VALUE)
    for i in range(args.count):
        producer.produce(args.topic, value=to_avro({"id": i, "item": "item-%d" % i}, ctx))
    if producer.flush(30) != 0:
        raise SystemExit("not every record was acknowledged")
    print("produced %d Avro records to %s (subject %s-value)" % (args.count, args.topic, args.topic))


if __name__ == "__main__":
    main()
