#!/usr/bin/env bash
# Stops a runnel-coord member started by coord-start.sh and waits until it is gone.
set -euo pipefail

PROG=coord-stop
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
    cat <<EOF
usage: $(basename "$0") [--id N] [--dir DIR] [--kill] [--timeout SECS]

Sends SIGTERM (SIGKILL with --kill) to the member whose pid is in DIR/coord.pid
and waits for it to exit.

  --id N          member id (default 1); names the default folder
  --dir DIR       member folder (default: <repo>/var/coord-N)
  --kill          SIGKILL instead of SIGTERM (a crash, for failure tests)
  --timeout SECS  how long to wait for the exit (default 30)
EOF
}

# A paused member (cluster.sh pause) is resumed: it acts on SIGTERM only then.
stop_main coord 30 resume "$@"
