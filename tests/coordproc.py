"""Start and stop real coordination servers for the end-to-end tests.

Two kinds:
  * ``zookeeper`` -- Apache ZooKeeper 3.8 from Debian's ``zookeeper`` package,
    run in the foreground with ZooKeeperServerMain (standalone).
  * ``runnel``    -- ``<repo>/target/release/runnel-coord --config <dir>/zoo.cfg``.

Environment:
  RUNNEL_COORD_BIN   path of the runnel-coord binary (default: <repo>/target/release/runnel-coord)
  RUNNEL_COORD_IMPL  set to ``zookeeper`` to put Apache ZooKeeper in the runnel-coord slot
                     (only for developing the tests themselves; the suite's verdict is
                     about runnel-coord when this is unset).
"""

import os
import shutil
import subprocess

from procutil import (LIVE, REPO, ManagedProcess, free_port, poll_until,  # noqa: F401 - re-exported
                      wait_for, write_properties)
from zkproto import four_letter

RUNNEL_BIN = os.environ.get("RUNNEL_COORD_BIN") or os.path.join(REPO, "target", "release", "runnel-coord")
IMPL = os.environ.get("RUNNEL_COORD_IMPL", "runnel")

JAVA = shutil.which("java") or "/usr/bin/java"
ZK_JARS = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"]
ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"

TICK_MS = 200  # minSessionTimeout 400 ms, maxSessionTimeout 4000 ms

def srvr_mode(port, timeout=1.0):
    """The "Mode: ..." of a server's srvr answer ("leader", "follower",
    "standalone", ...); "not serving" when it says it is not currently
    serving requests; None when it does not answer."""
    try:
        text = four_letter(port, "srvr", timeout=timeout)
    except OSError:
        return None
    if "not currently serving" in text:
        return "not serving"
    for line in text.splitlines():
        if line.startswith("Mode:"):
            return line.split(":", 1)[1].strip()
    return None


def ruok(port, timeout=1.0):
    try:
        return four_letter(port, "ruok", timeout=timeout) == "imok"
    except OSError:
        return False


def serving(port, timeout=1.0):
    """ruok answers imok and srvr does not say the server is not serving yet
    (Apache ZooKeeper answers ruok before it accepts sessions)."""
    if not ruok(port, timeout):
        return False
    try:
        return "not currently serving" not in four_letter(port, "srvr", timeout=timeout)
    except OSError:
        return False


class ServerExited(RuntimeError):
    pass


class CoordServer(ManagedProcess):
    """One server process with its own directory, config file and log file."""

    exited_error = ServerExited
    not_ready = "did not answer ruok"
    already_running = "server already running"
    env_defaults = {"RUST_BACKTRACE": "1"}
    stop_timeout = 10.0

    def __init__(self, workdir, kind=None, name=None, tick_ms=TICK_MS, extra_cfg=None,
                 port=None):
        self.kind = kind or ("zookeeper" if IMPL == "zookeeper" else "runnel")
        self.name = name or self.kind
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.data_dir = os.path.join(self.workdir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.cfg_path = os.path.join(self.workdir, "zoo.cfg")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.port = port or free_port()
        self.tick_ms = tick_ms
        self.extra_cfg = dict(extra_cfg or {})
        self.proc = None
        self.starts = 0
        self.write_config()

    # -- configuration
    def config_items(self):
        items = {
            "tickTime": str(self.tick_ms),
            "dataDir": self.data_dir,
            "clientPort": str(self.port),
            "clientPortAddress": "127.0.0.1",
            "maxClientCnxns": "200",
            "4lw.commands.whitelist": "*",
        }
        items.update(self.extra_cfg)
        return items

    def write_config(self):
        write_properties(self.cfg_path, self.config_items())

    def command(self):
        if self.kind == "zookeeper":
            return [JAVA,
                    "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Dzookeeper.extendedTypesEnabled=true",
                    "-Dznode.container.checkIntervalMs=200",
                    "-Dzookeeper.admin.enableServer=false",
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                    "-cp", ":".join(ZK_JARS),
                    "org.apache.zookeeper.server.ZooKeeperServerMain", self.cfg_path]
        if not os.path.exists(RUNNEL_BIN):
            raise FileNotFoundError("runnel-coord binary not found at %s (run `cargo build --release "
                                    "-p runnel-coord`, or set RUNNEL_COORD_BIN)" % RUNNEL_BIN)
        return [RUNNEL_BIN, "--config", self.cfg_path]

    # -- lifecycle
    @property
    def hosts(self):
        return "127.0.0.1:%d" % self.port

    def ready(self):
        """Serves clients (see `serving`)."""
        return serving(self.port)

    def start(self, timeout=60.0, wait=True):
        """Start the process; with wait (the default) return once it serves
        clients (see `serving`), raising if it exits or times out first.
        wait=False only launches it (ensemble members can't serve until a
        quorum of them runs)."""
        self.launch(self.command())
        if not wait:
            return self
        return self.wait_ready(timeout)

    def restart(self, hard=True, wait=True):
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start(wait=wait)

    def four(self, cmd):
        return four_letter(self.port, cmd)

    def __repr__(self):
        return "<%s %s port=%d pid=%s>" % (self.name, self.kind, self.port, self.pid)


def run_zkcli(port, args=None, stdin_text=None, timeout=60, jvm_flags=()):
    """Run Debian's zkCli.sh against 127.0.0.1:port. Returns CompletedProcess.
    jvm_flags: more JVM options (e.g. -Djava.security.auth.login.config=...)."""
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = " ".join(["-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto"]
                                      + list(jvm_flags))
    env["ZOO_LOG_DIR"] = env.get("TMPDIR", "/tmp")
    cmd = ["bash", ZKCLI, "-server", "127.0.0.1:%d" % port] + list(args or [])
    return subprocess.run(cmd, input=stdin_text, capture_output=True, text=True,
                          timeout=timeout, env=env)
