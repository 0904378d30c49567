#!/usr/bin/env bash
# kafka-log-dirs.sh's flags and output:
#   scripts/log-dirs.sh --bootstrap-server 127.0.0.1:9092 --describe [--broker-list 1,2] [--topic-list orders]
# Prints each broker's log directories and every partition's size in bytes
# as Kafka's JSON document (a compacted partition shrinks after cleaning).
set -euo pipefail
PROG=log-dirs.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
exec_runnel log-dirs "$@"
