#!/usr/bin/env bash
# Stops a runnel-broker started by broker-start.sh and waits until it is gone.
# SIGTERM closes every log cleanly (checkpoints, clean-shutdown marker).
set -euo pipefail

PROG=broker-stop
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
    cat <<EOF2
usage: $(basename "$0") [--id N] [--dir DIR] [--kill] [--timeout SECS]

Sends SIGTERM (SIGKILL with --kill) to the broker whose pid is in DIR/broker.pid
and waits for it to exit.

  --id N          broker id (default 1); names the default folder
  --dir DIR       broker folder (default: <repo>/var/broker-N)
  --kill          SIGKILL instead of SIGTERM (a crash, for failure tests)
  --timeout SECS  how long to wait for the exit (default 60)
EOF2
}

stop_main broker 60 "" "$@"
