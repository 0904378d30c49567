#!/usr/bin/env bash
# What an ACL check costs with a thousand bindings in force: the broker's
# authorizer (broker/src/security/authorizer.rs) asked one million times
# whether User:app7 may write or read a topic, with no bindings, 1 000
# literal bindings, 1 000 prefixed bindings, and 500 of each. Every request
# a broker serves on a secured cluster makes at least one such check per
# resource it names.
#
#   bash scripts/bench/acl-bench.sh
#
# Prints one RESULT line per case (nanoseconds per check); asserts nothing.
set -euo pipefail

PROG=acl-bench
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

[[ $# -eq 0 ]] || { sed -n '2,11p' "$0"; exit 0; }
cd "$ROOT"
cargo test --release -q -p runnel-broker --lib security::authorizer::tests::bench_authorize \
    -- --ignored --exact --nocapture 2>/dev/null | grep '^RESULT'
