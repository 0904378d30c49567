#!/usr/bin/env bash
# The coordination shell, like ZooKeeper's zkCli.sh: interactive without a
# command, else runs one command (exit code 1 if it failed).
set -euo pipefail

PROG=coord-shell
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
    cat <<EOF
usage: $(basename "$0") [--server HOST:PORT[,HOST:PORT...]] [command args...]

  --server S   connect string (default 127.0.0.1:2181; zkCli's -server works too)

Commands: ls [-s] [-w] [-R] path | get [-s] [-w] path | stat [-w] path
          create [-s] [-e] [-c] [-t ttl] path [data] | set [-s] [-v version] path data
          delete [-v version] path | deleteall path | getAllChildrenNumber path
          getEphemerals [path] | sync path | watch [-r] [-n count] path | help | quit

Environment:
  RUNNEL_COORD_BIN  run this binary instead of building target/release/runnel-coord
EOF
}

server=127.0.0.1:2181
while [[ $# -gt 0 ]]; do
    case "$1" in
        --server | -server) server="${2:?--server needs a value}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        *) break ;;
    esac
done

bin="$(runnel_bin RUNNEL_COORD_BIN runnel-coord)" || die "cargo build -p runnel-coord failed"

# `--`: command words such as `ls -s /` are the shell's, not clap's flags.
exec "$bin" shell --server "$server" -- "$@"
