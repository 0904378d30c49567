#!/usr/bin/env bash
# kafka-configs.sh for Runnel: the same flags and output, through `runnel configs`.
#
#   configs.sh --bootstrap-server 127.0.0.1:9092 --entity-type topics --entity-name t \
#              --alter --add-config retention.ms=60000,cleanup.policy=[compact,delete]
#   configs.sh --bootstrap-server 127.0.0.1:9092 --entity-type topics --entity-name t \
#              --alter --delete-config retention.ms
#   configs.sh --bootstrap-server 127.0.0.1:9092 --entity-type topics --entity-name t --describe [--all]
#   configs.sh --bootstrap-server 127.0.0.1:9092 --entity-type brokers --entity-name 1 --describe
#   configs.sh --bootstrap-server 127.0.0.1:9093 --command-config admin.properties \
#              --entity-type users --entity-name alice --alter \
#              --add-config 'SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=alice-secret]'
#   configs.sh --bootstrap-server 127.0.0.1:9093 --command-config admin.properties \
#              --entity-type users --entity-name alice --alter --delete-config SCRAM-SHA-512
#   configs.sh --bootstrap-server 127.0.0.1:9093 --command-config admin.properties \
#              --entity-type users [--entity-name alice] --describe
#
#   configs.sh --bootstrap-server 127.0.0.1:9092 --entity-type users --entity-name alice \
#              --alter --add-config 'producer_byte_rate=1048576,consumer_byte_rate=2097152'
#   configs.sh --bootstrap-server 127.0.0.1:9092 --entity-type users --entity-name alice \
#              --entity-type clients --entity-name app --alter --add-config request_percentage=50
#   configs.sh --bootstrap-server 127.0.0.1:9092 --entity-type clients --entity-default \
#              --alter --add-config producer_byte_rate=1048576
#   configs.sh --bootstrap-server 127.0.0.1:9092 --entity-type clients [--entity-name app] --describe
#
# Shorthands as in Kafka 3.x: --topic T, --broker N, --broker-defaults, --user U,
# --user-defaults, --client C, --client-defaults.
# Quotas (producer_byte_rate, consumer_byte_rate, request_percentage)
# go on users, client ids, a user and client id, and their defaults;
# controller_mutation_rate and IP quotas are not supported yet.
# --command-config names a Kafka client properties file (security.protocol,
# ssl.truststore.location, sasl.mechanism, sasl.jaas.config, ...).
# Errors print "Error while executing config command with args '…'" and the
# reason, and exit 1.
#
# Environment: RUNNEL_BIN runs this binary instead of building target/release/runnel.
set -euo pipefail
PROG=configs.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
exec_runnel configs "$@"
