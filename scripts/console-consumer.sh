#!/usr/bin/env bash
# kafka-console-consumer.sh for Runnel: prints the records of a topic.
#
#   console-consumer.sh --bootstrap-server 127.0.0.1:9092 --topic t --from-beginning
#   console-consumer.sh --bootstrap-server 127.0.0.1:9092 --topic t --from-beginning \
#       --property print.key=true --property key.separator=: --max-messages 10
#
# Other flags: --partition N --offset earliest|latest|N, --timeout-ms MS,
# --property print.offset|print.partition|print.timestamp|print.headers|print.value=…,
# --group G (accepted, offsets are not committed). Runs `runnel consume`.
#
# Environment: RUNNEL_BIN runs this binary instead of building target/release/runnel.
set -euo pipefail
PROG=console-consumer.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
exec_runnel consume "$@"
