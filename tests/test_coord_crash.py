"""Crash test: writers record every acknowledged create/setData while the
server is killed with SIGKILL at random moments and restarted; afterwards
every acknowledged write is there with its last acknowledged value (or with
a later value whose acknowledgement was lost in the crash).

Seed: RUNNEL_CRASH_SEED (printed on failure).
"""

import os
import random
import socket
import threading
import time

import pytest

from coordproc import wait_for
from zkproto import ConnectionClosed, RawClient

KILLS = 5
WRITERS = 2


class Writer(threading.Thread):
    def __init__(self, server, name, seed, stop):
        super().__init__(daemon=True)
        self.server, self.name, self.stop = server, name, stop
        self.rng = random.Random(seed)
        self.acked = {}        # path -> (value, version) of the last acknowledged write
        self.unknown = {}      # path -> values sent after the last ack whose outcome is unknown
        self.maybe_created = set()
        self.errors = []       # unexpected error replies
        self.acks = 0
        self.lost = 0          # requests whose outcome is unknown
        self.client = None
        self.counter = 0

    def connect(self):
        while not self.stop.is_set():
            try:
                return RawClient(self.server.port, timeout_ms=4000, sock_timeout=3.0)
            except (OSError, ConnectionClosed, ValueError):
                time.sleep(0.02)
        return None

    def run(self):
        while not self.stop.is_set():
            if self.client is None:
                self.client = self.connect()
                if self.client is None:
                    return
            self.counter += 1
            value = ("%s-%d" % (self.name, self.counter)).encode()
            known = list(self.acked)
            if not known or self.rng.random() < 0.4:
                path = "/crash/%s-%06d" % (self.name, self.counter)
                op = "create"
            else:
                path = self.rng.choice(known)
                op = "set"
            try:
                if op == "create":
                    rep = self.client.create2(path, value)
                else:
                    rep = self.client.set_data(path, value)
            except (OSError, ConnectionClosed, socket.timeout, TimeoutError, ValueError):
                self.lost += 1
                if op == "create":
                    self.maybe_created.add(path)
                else:
                    self.unknown.setdefault(path, []).append(value)
                self.client.close_socket()
                self.client = None
                continue
            if rep.err != 0:
                self.errors.append((op, path, rep.error))
                continue
            rd = rep.reader()
            if op == "create":
                rd.string()
            stat = rd.stat()
            self.acked[path] = (value, stat.version)
            self.unknown.pop(path, None)
            self.acks += 1
        if self.client is not None:
            self.client.close_socket()


def check_all(server, writers):
    problems = []
    r = RawClient(server.port, timeout_ms=4000)
    try:
        for w in writers:
            for path, (value, version) in w.acked.items():
                rep = r.get_data(path)
                if rep.err != 0:
                    problems.append("%s: acknowledged write lost (%s)" % (path, rep.error))
                    continue
                rd = rep.reader()
                data, stat = rd.buffer(), rd.stat()
                later = w.unknown.get(path, [])
                if data == value:
                    if stat.version != version:
                        problems.append("%s: value %r but version %d, acknowledged %d"
                                        % (path, data, stat.version, version))
                elif data in later:
                    if stat.version <= version:
                        problems.append("%s: later value %r with version %d <= acknowledged %d"
                                        % (path, data, stat.version, version))
                else:
                    problems.append("%s: has %r, last acknowledged %r (unacknowledged later: %r)"
                                    % (path, data, value, later))
    finally:
        r.close()
    return problems


def test_no_acknowledged_write_lost_across_sigkills(fresh_coord):
    server = fresh_coord
    seed = int(os.environ.get("RUNNEL_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    setup = RawClient(server.port)
    assert setup.create("/crash").error == "OK"
    setup.close()
    stop = threading.Event()
    writers = [Writer(server, "w%d" % i, seed + i, stop) for i in range(WRITERS)]
    for w in writers:
        w.start()
    acks_at_kill = []
    try:
        for _ in range(KILLS):
            before = sum(w.acks for w in writers)
            # let the writers make progress, then kill at a random moment
            wait_for(lambda: sum(w.acks for w in writers) >= before + 20, 30,
                     desc="writers to make progress (seed %d)" % seed)
            time.sleep(rng.uniform(0.0, 1.5))
            acks_at_kill.append(sum(w.acks for w in writers))
            server.kill()
            server.start()
    finally:
        stop.set()
        for w in writers:
            w.join(30)
    total_acks = sum(w.acks for w in writers)
    print("seed %d: %d acknowledged writes, %d with unknown outcome, kills after %r acks"
          % (seed, total_acks, sum(w.lost for w in writers), acks_at_kill))
    errors = [e for w in writers for e in w.errors]
    assert not errors, "unexpected error replies (seed %d): %r" % (seed, errors[:10])
    assert total_acks >= 100, "too few acknowledged writes to mean anything: %d" % total_acks
    problems = check_all(server, writers)
    assert not problems, "seed %d, %d acked writes, kills after %r acks:\n%s" % (
        seed, total_acks, acks_at_kill, "\n".join(problems[:30]))
    # and once more after a last kill with no writer running
    server.kill()
    server.start()
    problems = check_all(server, writers)
    assert not problems, "after the final restart (seed %d):\n%s" % (seed, "\n".join(problems[:30]))
