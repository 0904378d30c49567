#!/usr/bin/env bash
# Consumer-group figures against a running broker (not a test: prints numbers).
#
#   scripts/bench/group-bench.sh --bootstrap-server 127.0.0.1:9092 [--rounds 10] [--commits 20000]
#
# * rebalance time of a 3-member group when a 4th member joins and when one
#   leaves (median over rounds): from the triggering JoinGroup / LeaveGroup
#   until every member holds the new generation's assignment. Members are raw
#   protocol clients heartbeating every 50 ms, so the figure is the
#   coordinator's, not a client's heartbeat interval.
# * OffsetCommit requests/s (one partition per request, offsets-only group,
#   8 connections with 32 requests in flight each), every one a coord multi.
set -euo pipefail
PROG=group-bench
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
PYTHON="$(venv_python)"
exec "$PYTHON" - "$@" <<'PYEOF'
import argparse, socket, statistics, struct, threading, time, uuid
from confluent_kafka.admin import AdminClient, NewTopic

p = argparse.ArgumentParser()
p.add_argument("--bootstrap-server", required=True)
p.add_argument("--rounds", type=int, default=10)
p.add_argument("--commits", type=int, default=20000)
a = p.parse_args()
host, port = a.bootstrap_server.rsplit(":", 1)
port = int(port)

def s(v): b = v.encode(); return struct.pack(">h", len(b)) + b
def i32(v): return struct.pack(">i", v)
def byts(v): return struct.pack(">i", len(v)) + v

class Conn:
    def __init__(self):
        self.sock = socket.create_connection((host, port)); self.corr = 0
    def send(self, api, ver, body):
        self.corr += 1
        payload = struct.pack(">hhi", api, ver, self.corr) + s("bench") + body
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
    def recv(self):
        n = struct.unpack(">i", self._exact(4))[0]
        return self._exact(n)[4:]
    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            c = self.sock.recv(n - len(buf))
            if not c: raise ConnectionError("closed")
            buf += c
        return buf
    def call(self, api, ver, body):
        self.send(api, ver, body); return self.recv()

def rstr(r, pos):
    n = struct.unpack(">h", r[pos:pos+2])[0]; return r[pos+2:pos+2+n].decode(), pos + 2 + n

class Member(threading.Thread):
    """JoinGroup v1 / SyncGroup v0 / Heartbeat v0 loop; records when it holds a generation."""
    def __init__(self, group):
        super().__init__(daemon=True); self.group = group; self.member = ""; self.gen = -1
        self.stop = False; self.synced_at = {}; self.conn = Conn()
    def join(self_):
        body = s(self_.group) + i32(10000) + i32(10000) + s(self_.member) + s("consumer") + i32(1) + s("range") + byts(b"")
        r = self_.conn.call(11, 1, body)
        err, gen = struct.unpack(">hi", r[:6]); _, pos = rstr(r, 6); leader, pos = rstr(r, pos); me, pos = rstr(r, pos)
        if err: raise RuntimeError("join error %d" % err)
        self_.member = me
        n = struct.unpack(">i", r[pos:pos+4])[0]; pos += 4; ids = []
        for _ in range(n):
            mid, pos = rstr(r, pos); ln = struct.unpack(">i", r[pos:pos+4])[0]; pos += 4 + ln; ids.append(mid)
        assigns = b"".join(s(m) + byts(b"x") for m in ids)
        r = self_.conn.call(14, 0, s(self_.group) + i32(gen) + s(me) + i32(len(ids)) + assigns)
        if struct.unpack(">h", r[:2])[0] == 0:
            self_.gen = gen; self_.synced_at[gen] = time.monotonic()
    def run(self):
        self.join()
        while not self.stop:
            time.sleep(0.05)
            r = self.conn.call(12, 0, s(self.group) + i32(self.gen) + s(self.member))
            if struct.unpack(">h", r[:2])[0] == 27:
                self.join()
    def leave(self):
        self.stop = True; time.sleep(0.1)
        Conn().call(13, 0, s(self.group) + s(self.member))

def wait_gen(members, gen, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if all(gen in m.synced_at for m in members):
            return max(m.synced_at[gen] for m in members)
        time.sleep(0.002)
    raise TimeoutError("generation %d not reached" % gen)

joins, leaves = [], []
for _ in range(a.rounds):
    group = "bench-" + uuid.uuid4().hex[:8]
    ms = [Member(group) for _ in range(3)]
    for m in ms: m.start(); time.sleep(0.05)
    end = time.monotonic() + 30
    while len({m.gen for m in ms}) != 1 or ms[0].gen < 0:
        time.sleep(0.01)
        if time.monotonic() > end: raise TimeoutError("3-member group did not settle")
    g = ms[0].gen
    t0 = time.monotonic(); new = Member(group); new.start()
    done = wait_gen(ms + [new], g + 1); joins.append(done - t0)
    t0 = time.monotonic(); new.leave()
    done = wait_gen(ms, g + 2); leaves.append(done - t0 - 0.1)
    for m in ms: m.leave()

print("rebalance on join  (3 -> 4 members): median %.1f ms (min %.1f, max %.1f, n=%d)" % (
    statistics.median(joins) * 1000, min(joins) * 1000, max(joins) * 1000, len(joins)))
print("rebalance on leave (4 -> 3 members): median %.1f ms (min %.1f, max %.1f, n=%d)" % (
    statistics.median(leaves) * 1000, min(leaves) * 1000, max(leaves) * 1000, len(leaves)))

admin = AdminClient({"bootstrap.servers": a.bootstrap_server})
topic = "bench-" + uuid.uuid4().hex[:8]
admin.create_topics([NewTopic(topic, 8, 1)])[topic].result(15)
time.sleep(1)
group = "commits-" + uuid.uuid4().hex[:8]
per_conn = a.commits // 8
def committer(idx, errors):
    c = Conn(); inflight = 0; sent = 0; got = 0
    while got < per_conn:
        while inflight < 32 and sent < per_conn:
            body = s(group) + i32(-1) + s("") + struct.pack(">q", -1) + i32(1) + s(topic) + i32(1) + i32(idx) + struct.pack(">q", sent) + s("")
            c.send(8, 2, body); sent += 1; inflight += 1
        r = c.recv(); inflight -= 1; got += 1
        n = struct.unpack(">h", r[4:6])[0]
        code = struct.unpack(">h", r[6 + n + 8:6 + n + 10])[0]
        if code != 0: errors.append(code)
errors = []
ts = [threading.Thread(target=committer, args=(i, errors)) for i in range(8)]
t0 = time.monotonic()
for t in ts: t.start()
for t in ts: t.join()
el = time.monotonic() - t0
print("OffsetCommit: %d requests in %.2f s = %.0f requests/s (error codes: %s; 14 = COORDINATOR_LOAD_IN_PROGRESS while the new group loads)" % (per_conn * 8, el, per_conn * 8 / el, {c: errors.count(c) for c in set(errors)}))
PYEOF
