#!/usr/bin/env bash
# kafka-console-producer.sh for Runnel: each line of stdin becomes a record.
#
#   console-producer.sh --bootstrap-server 127.0.0.1:9092 --topic t
#   console-producer.sh --bootstrap-server 127.0.0.1:9092 --topic t \
#       --property parse.key=true --property key.separator=:
#
# Other flags: --partition N, --request-required-acks 0|1|all,
# --compression-codec gzip|snappy|lz4|zstd, --batch-size BYTES, --sync,
# --property null.marker=TEXT. Runs `runnel produce` (see `runnel produce --help`).
#
# Environment: RUNNEL_BIN runs this binary instead of building target/release/runnel.
set -euo pipefail
PROG=console-producer.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
exec_runnel produce "$@"
