"""What the end-to-end helpers share: locating the built binaries, free
ports, polling, and one child process with a log file and a readiness probe
(coordproc.CoordServer, brokerproc.Broker and the ensemble members build on
ManagedProcess)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every server started and not yet closed: conftest prints their log tails
# when a test fails.
LIVE = []


def built_binary(name, env_var, missing):
    """$env_var if set, else <repo>/target/release/<name>, else target/debug;
    FileNotFoundError(missing) when none is there."""
    env = os.environ.get(env_var)
    if env:
        return env
    for profile in ("release", "debug"):
        path = os.path.join(REPO, "target", profile, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(missing)


def ephemeral_range():
    """The kernel's range for outgoing connections' local ports: a server
    started on a port inside it can lose the port to any client socket."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=10.0, interval=0.02, desc="condition"):
    """Poll cond() until it returns a truthy value; return that value.
    Raises TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - keep polling, report the last error
            last_exc = e
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s%s" % (
                timeout, desc, "" if last_exc is None else " (last error: %r)" % last_exc))
        time.sleep(interval)


def poll_until(cond, timeout=10.0, interval=0.02):
    """Like wait_for but returns False on timeout instead of raising."""
    try:
        return wait_for(cond, timeout, interval)
    except TimeoutError:
        return False


def write_properties(path, items):
    """Writes a zoo.cfg or server.properties: one key=value line per item."""
    with open(path, "w") as f:
        for k, v in items.items():
            f.write("%s=%s\n" % (k, v))


class ManagedProcess:
    """One child process run in workdir with its output appended to log_path.

    A subclass sets workdir, log_path, name, port, proc = None and
    starts = 0, and defines command() and ready(). The class attributes say
    what it is called in errors and what a start adds to the environment."""

    exited_error = RuntimeError      # raised when the process exits during start-up
    not_ready = "did not answer"     # "<name> <not_ready> within Ns" on a start timeout
    already_running = "server already running"
    env_defaults = {"RUST_BACKTRACE": "1"}
    stop_timeout = 10.0

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def launch(self, cmd):
        """Start cmd with a header line in the log; returns at once."""
        assert not self.alive(), self.already_running
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(("\n==== start #%d: %s\n" % (self.starts, " ".join(cmd))).encode())
        log.flush()
        env = dict(os.environ)
        for k, v in self.env_defaults.items():
            env.setdefault(k, v)
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir, env=env)
        log.close()
        if self not in LIVE:
            LIVE.append(self)

    def wait_ready(self, timeout):
        """Return once ready() says so; raise exited_error if the process
        exits first, or kill it and raise TimeoutError after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise self.exited_error("%s exited with code %s during start-up; log tail:\n%s"
                                        % (self.name, self.proc.returncode, self.log_tail()))
            if self.ready():
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError("%s %s within %.0fs; log tail:\n%s"
                                   % (self.name, self.not_ready, timeout, self.log_tail()))
            time.sleep(0.05)

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def pause(self):
        self.signal(signal.SIGSTOP)

    def resume(self):
        self.signal(signal.SIGCONT)

    def kill(self):
        """SIGKILL and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def stop(self, timeout=None):
        """SIGCONT (a paused process could not stop) and SIGTERM, then
        SIGKILL after timeout (default: stop_timeout). Returns the exit code."""
        if timeout is None:
            timeout = self.stop_timeout
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def close(self):
        self.stop()
        if self in LIVE:
            LIVE.remove(self)

    def log_tail(self, n=60):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])


class ScriptWorker:
    """A client script run as its own Python process (so it can be killed
    like a real consumer), reporting what it does as JSON lines in a file."""

    def __init__(self, tmp_path, prefix, script, args):
        self.out = str(tmp_path / ("%s-%s" % (prefix, uuid.uuid4().hex[:6])))
        open(self.out, "w").close()
        self.err = open(self.out + ".err", "w")
        argv = [self.out if a is ScriptWorker.OUT else a for a in args]
        self.proc = subprocess.Popen([sys.executable, "-c", script, *argv],
                                     stdout=subprocess.DEVNULL, stderr=self.err)

    #: Stands in `args` for the path of the worker's output file.
    OUT = object()

    def events(self):
        with open(self.out) as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
