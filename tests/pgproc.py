"""A real PostgreSQL server for tests, from Debian's `postgresql` package
(scripts/test.sh installs it): its own cluster in a temporary folder,
listening on a free port of 127.0.0.1 only, trust authentication, stopped
and removed by close().

PostgreSQL refuses to run as root, so when the tests run as root the
server's commands run as the package's `postgres` user (runuser) in a
folder that user owns."""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile

from procutil import free_port


def server_bin_dir():
    """The newest installed server's bin folder (initdb, pg_ctl)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise RuntimeError("PostgreSQL server not installed: apt-get install postgresql "
                           "(scripts/test.sh installs it)")
    return os.path.dirname(found[-1])


class Postgres:
    def __init__(self):
        self.bin = server_bin_dir()
        self.dir = tempfile.mkdtemp(prefix="runnel-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = free_port()
        self.as_user = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.started = False

    def _run(self, *cmd, timeout=60):
        r = subprocess.run(self.as_user + list(cmd), capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            log = ""
            if os.path.exists(self.log):
                with open(self.log) as f:
                    log = f.read()[-2000:]
            raise RuntimeError("%s failed (%d): %s %s\n%s" % (cmd[0], r.returncode, r.stdout, r.stderr, log))
        return r.stdout

    def start(self):
        self._run(os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale=C")
        # fsync off: a test's data need not outlive a crash of the machine.
        opts = "-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off" % (self.port, self.dir)
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", opts,
                  "-w", "-t", "60", "start", timeout=90)
        self.started = True
        return self

    def url(self, db):
        return "jdbc:postgresql://127.0.0.1:%d/%s" % (self.port, db)

    def psql(self, sql, db="postgres"):
        """Runs SQL with psql; the rows as lists of fields (unaligned,
        tab-separated)."""
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
                            "-v", "ON_ERROR_STOP=1", "-At", "-F", "\t", "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql %r: %s" % (sql, r.stderr.strip()))
        return [line.split("\t") for line in r.stdout.splitlines()]

    def close(self):
        if self.started:
            try:
                self._run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")
            except Exception:  # noqa: BLE001 - removing the folder matters more
                pass
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)
