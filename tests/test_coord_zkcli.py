"""zkCli.sh from Debian's zookeeper package against runnel-coord.

One zkCli session runs a batch of commands from stdin against Apache
ZooKeeper and against runnel-coord; the printed output must be the same once
server-specific values (zxids, times, session ids) are normalised. A few
one-shot invocations (`zkCli.sh -server H:P cmd args`) check exit codes and
output directly.
"""

import re

import pytest

from coordproc import run_zkcli

ZXID_RE = re.compile(r"\b(cZxid|mZxid|pZxid) = (0x[0-9a-f]+)")
TIME_RE = re.compile(r"\b(ctime|mtime) = (.*)$")
DATE_RE = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} [A-Z]+ \d{4}$")
OWNER_RE = re.compile(r"\bephemeralOwner = (0x[0-9a-f]+)")
NOISE = ("SLF4J:", "Connecting to ", "Welcome to ZooKeeper", "JLine support")
CONNECTED_EVENT = "WatchedEvent state:SyncConnected type:None path:null"


def script(root):
    return "\n".join([
        "create %s" % root,
        "create %s/a hello" % root,
        "ls %s" % root,
        "get %s/a" % root,
        "stat %s/a" % root,
        "set %s/a world" % root,
        "get -s %s/a" % root,
        "set -v 7 %s/a stale" % root,
        "create -e %s/eph" % root,
        "create -s %s/seq- data" % root,
        "create -e -s %s/eseq-" % root,
        "ls -s %s" % root,
        "ls -R %s" % root,
        "create %s/a again" % root,
        "delete %s/missing" % root,
        "create %s/x/y/z" % root,
        "delete %s" % root,
        "get %s/missing" % root,
        "stat %s/missing" % root,
        "getAllChildrenNumber %s" % root,
        "getEphemerals %s" % root,
        "getAcl %s/a" % root,
        "setAcl %s/a world:anyone:r" % root,
        "getAcl %s/a" % root,
        "set %s/a forbidden" % root,
        "sync %s" % root,
        "create -c %s/cont" % root,
        "create -t 60000 %s/ttl" % root,
        "stat %s/ttl" % root,
        "delete -v 5 %s/seq-0000000002" % root,
        "delete %s/seq-0000000002" % root,
        "deleteall %s" % root,
        "ls %s" % root,
        "create bad/path",
        "quit",
    ]) + "\n"


def normalise(text):
    """Replace server-specific values; also check their format on the way."""
    zxids = {}
    out = []
    problems = []
    for line in text.splitlines():
        if any(line.startswith(n) for n in NOISE) or not line.strip():
            continue
        m = ZXID_RE.search(line)
        if m:
            z = int(m.group(2), 16)
            zxids.setdefault(z, len(zxids))
            line = "%s = <zxid>" % m.group(1)
        m = TIME_RE.search(line)
        if m:
            if not DATE_RE.match(m.group(2)):
                problems.append("bad date format: %r" % line)
            line = "%s = <time>" % m.group(1)
        if line.startswith("[") and line.endswith("]") and len(line) > 2:
            # lists (ls, getEphemerals) come in the server's order: ZooKeeper gives none
            line = "[" + ", ".join(sorted(line[1:-1].split(", "))) + "]"
        m = OWNER_RE.search(line)
        if m and m.group(1) != "0x0":
            line = "ephemeralOwner = <session>"
        if line == CONNECTED_EVENT:
            # zkCli prints its session's connection as a watch event when it
            # gets it, before or after the first commands and again after a
            # reconnect: a matter of the client's timing, not the server's.
            if out and out[-1] == "WATCHER::":
                out.pop()
            continue
        out.append(line)
    return out, problems


def run_batch(server, root):
    r = run_zkcli(server.port, [], stdin_text=script(root), timeout=120)
    out, p1 = normalise(r.stdout)
    err, p2 = normalise(r.stderr)
    return r.returncode, out, err, p1 + p2


@pytest.fixture(scope="module")
def batch_results(zk_server, coord_server):
    root = "/zkcli_batch"
    return run_batch(zk_server, root), run_batch(coord_server, root)


def test_batch_stdout_same_as_zookeeper(batch_results):
    (_, zk_out, _, _), (_, rc_out, _, problems) = batch_results
    assert not problems
    assert rc_out == zk_out


def test_batch_stderr_same_as_zookeeper(batch_results):
    (_, _, zk_err, _), (_, _, rc_err, _) = batch_results
    assert rc_err == zk_err


def test_batch_output_reads_as_expected(batch_results):
    """What a user would look for in zkCli's output, independent of ZooKeeper."""
    _, (rc, out, err, _) = batch_results
    root = "/zkcli_batch"
    assert "Created %s/a" % root in err
    assert "hello" in out
    assert "world" in out
    assert "[a]" in out                                  # ls root after first create
    assert "Created %s/seq-0000000002" % root in err     # sequence from parent cversion
    assert "Created %s/eseq-0000000003" % root in err
    assert "[a, eph, eseq-0000000003, seq-0000000002]" in out
    assert "Node already exists: %s/a" % root in err
    assert "Node does not exist: %s/missing" % root in err
    assert "Node not empty: %s" % root in err
    assert "version No is not valid : %s/a" % root in err  # BadVersion on set -v
    assert "Insufficient permission : %s/a" % root in err  # NoAuth after setAcl r
    assert "'world,'anyone" in out
    assert ": cdrwa" in out and ": r" in out
    assert "dataVersion = 1" in out and "dataLength = 5" in out
    assert "[%s/eph, %s/eseq-0000000003]" % (root, root) in out   # getEphemerals
    assert "Sync is OK" in out
    assert err[-2:] == ["Node does not exist: %s" % root,          # ls after deleteall
                        "Path must start with / character"]


def test_one_shot_commands(coord_server, zk_server):
    root = "/zkcli_oneshot"
    results = {}
    for name, srv in (("zk", zk_server), ("runnel", coord_server)):
        res = []
        for args in (["create", root, "payload"],
                     ["get", root],
                     ["ls", root],
                     ["get", root + "/missing"],
                     ["delete", root],
                     ["stat", root]):
            r = run_zkcli(srv.port, args, timeout=60)
            out, _ = normalise(r.stdout)
            err, _ = normalise(r.stderr)
            out = [l for l in out if not l.startswith(("WATCHER::", "WatchedEvent"))]
            res.append((args[0], r.returncode, out, err))
        results[name] = res
    assert results["runnel"] == results["zk"]
    create, get, ls, get_missing, delete, stat = results["runnel"]
    assert create[1] == 0 and ("Created %s" % root) in create[3]
    assert get[1] == 0 and get[2][-1] == "payload"
    assert ls[1] == 0 and ls[2][-1] == "[]"
    assert get_missing[1] != 0 and get_missing[3] == ["Node does not exist: %s/missing" % root]
    assert delete[1] == 0
    assert stat[1] != 0 and stat[3] == ["Node does not exist: %s" % root]
