#!/usr/bin/env bash
# kafka-delete-records.sh's flags and output:
#   scripts/delete-records.sh --bootstrap-server 127.0.0.1:9092 --offset-json-file delete.json
# delete.json as Kafka's: {"partitions": [{"topic": "orders", "partition": 0, "offset": 3}], "version": 1}
# (offset -1: up to the high watermark). Prints each partition's new low watermark.
set -euo pipefail
PROG=delete-records.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
exec_runnel delete-records "$@"
