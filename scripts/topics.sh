#!/usr/bin/env bash
# kafka-topics.sh for Runnel: the same flags and output, through `runnel topics`.
#
#   topics.sh --bootstrap-server 127.0.0.1:9092 --create --topic t --partitions 3 \
#             --replication-factor 1 --config retention.ms=60000
#   topics.sh --bootstrap-server 127.0.0.1:9092 --list
#   topics.sh --bootstrap-server 127.0.0.1:9092 --describe [--topic t]
#   topics.sh --bootstrap-server 127.0.0.1:9092 --alter --topic t --partitions 6
#   topics.sh --bootstrap-server 127.0.0.1:9092 --alter --topic t --config retention.ms=1000
#   topics.sh --bootstrap-server 127.0.0.1:9092 --delete --topic t
#
# Also --if-not-exists (create) and --if-exists (delete, describe, alter).
# Errors print "Error while executing topic command : …" and exit 1.
#
# Environment: RUNNEL_BIN runs this binary instead of building target/release/runnel.
set -euo pipefail
PROG=topics.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
exec_runnel topics "$@"
