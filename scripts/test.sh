#!/usr/bin/env bash
# Run Runnel's whole test suite, installing the test tools first.
#
#   bash scripts/test.sh            # everything: tools, build, cargo tests, end-to-end tests
#   bash scripts/test.sh -k zkcli   # extra arguments go to pytest
#
# Installs (only when missing, so a second run is quick):
#   * Debian packages zookeeper (Apache ZooKeeper 3.8: the differential reference and zkCli.sh)
#     kcat, prometheus (scrapes a cluster in tests/test_metrics.py), chromium and
#     chromium-driver (the console in a real browser, tests/test_console.py), postgresql
#     (the JDBC connectors, tests/test_connect_jdbc.py; each test starts its own server), through apt-get;
#   * a Python venv at <repo>/.venv with the clients pinned in tests/requirements.txt.
# Then: cargo build --release --workspace, cargo test --release --workspace,
# and pytest tests/ -v against the freshly built binaries.
# Exits non-zero if any step or any test fails.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

need_apt=()
for pkg in zookeeper kcat prometheus chromium chromium-driver postgresql; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        need_apt+=("$pkg")
    fi
done
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing Debian packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q || die "apt-get update failed"
    $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}" || die "apt-get install ${need_apt[*]} failed"
fi
[ -x /usr/share/zookeeper/bin/zkCli.sh ] || die "zkCli.sh missing after installing zookeeper"
command -v java >/dev/null 2>&1 || die "java missing after installing zookeeper"
command -v prometheus >/dev/null 2>&1 || die "prometheus missing after installing it"
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || die "chromium or chromedriver missing after installing them"
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || die "PostgreSQL's initdb missing after installing postgresql"

PYTHON="${PYTHON:-python3}"
VENV="$REPO/.venv"
REQ="$REPO/tests/requirements.txt"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    log "setting up the Python venv at $VENV"
    if [ ! -x "$VENV/bin/python" ]; then
        "$PYTHON" -m venv "$VENV" || die "cannot create a venv with $PYTHON"
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" \
        || die "pip install -r tests/requirements.txt failed"
    echo "$want" > "$STAMP"
fi

# ---------------------------------------------------------------- build
log "cargo build --release --workspace"
cargo build --release --workspace || die "build failed"

status=0

log "cargo test --release --workspace"
cargo test --release --workspace --no-fail-fast
rc=$?
if [ $rc -ne 0 ]; then
    echo "test.sh: cargo test failed (exit $rc)" >&2
    status=1
fi

# ---------------------------------------------------------------- end-to-end
log "pytest tests/ (end-to-end: real servers on 127.0.0.1)"
# The binaries just built: scripts the tests run (topics.sh, delete-records.sh,
# ...) use them instead of a `cargo build -p` of their own, whose different
# feature set would recompile for minutes while the tests' clusters run.
export RUNNEL_COORD_BIN="${RUNNEL_COORD_BIN:-$REPO/target/release/runnel-coord}"
export RUNNEL_BROKER_BIN="${RUNNEL_BROKER_BIN:-$REPO/target/release/runnel-broker}"
export RUNNEL_BIN="${RUNNEL_BIN:-$REPO/target/release/runnel}"
export RUNNEL_REGISTRY_BIN="${RUNNEL_REGISTRY_BIN:-$REPO/target/release/runnel-registry}"
export RUNNEL_CONNECT_BIN="${RUNNEL_CONNECT_BIN:-$REPO/target/release/runnel-connect}"
"$VENV/bin/python" -m pytest "$REPO/tests" -v -p no:cacheprovider "$@"
rc=$?
if [ $rc -ne 0 ]; then
    echo "test.sh: pytest failed (exit $rc)" >&2
    status=1
fi

exit $status
