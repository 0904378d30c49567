#!/usr/bin/env bash
# kafka-transactions.sh for Runnel: the same commands, flags and output,
# through `runnel transactions`.
#
#   transactions.sh --bootstrap-server 127.0.0.1:9092 list
#   transactions.sh --bootstrap-server 127.0.0.1:9092 describe --transactional-id X
#   transactions.sh --bootstrap-server 127.0.0.1:9092 describe-producers --topic T --partition P
#   transactions.sh --bootstrap-server 127.0.0.1:9092 find-hanging --broker-id N \
#                   [--max-transaction-timeout MINUTES]
#   transactions.sh --bootstrap-server 127.0.0.1:9092 abort --topic T --partition P --start-offset O
#
# find-hanging also takes --topic T [--partition P] instead of --broker-id;
# abort also takes --producer-id I --producer-epoch E --coordinator-epoch C.
# Errors print "Error: …" and exit 1.
#
# Environment: RUNNEL_BIN runs this binary instead of building target/release/runnel.
set -euo pipefail
PROG=transactions.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
exec_runnel transactions "$@"
