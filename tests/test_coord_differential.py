"""Differential test: one client scenario, run against Apache ZooKeeper 3.8
(Debian's package) and against runnel-coord; the normalised traces must be
equal (see tracing.py for what is normalised away).

The scenario is split into sections so that a difference points at one area;
every section is a function (env) -> None that records into env.trace, where
env gives a connected kazoo client, a second client, raw protocol clients and
the root znode under which the section works.
"""

import difflib
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, KazooException
from kazoo.security import ACL, Id, OPEN_ACL_UNSAFE, Permissions

import zkproto
from coordproc import poll_until, wait_for
from tracing import KazooEvents, Trace, render
from zkproto import AddWatchMode, CreateMode, Op, RawClient, WatcherType


class Env:
    def __init__(self, server, root):
        self.server = server
        self.root = root
        self.trace = Trace(root)
        self.clients = []
        self.raws = []
        self.kz = self.kazoo("A")
        self.kz2 = self.kazoo("B")
        self.kz.create(root)

    def kazoo(self, label, timeout=2.0):
        c = KazooClient(hosts=self.server.hosts, timeout=timeout)
        c.start(timeout=15)
        self.clients.append(c)
        self.trace.session(c.client_id[0], label)
        return c

    def raw(self, label, **kw):
        r = RawClient(self.server.port, **kw)
        self.raws.append(r)
        self.trace.session(r.session_id, label)
        return r

    def p(self, rel=""):
        return self.root + rel

    def close(self):
        for r in self.raws:
            try:
                r.close()
            except Exception:  # noqa: BLE001
                pass
        for c in self.clients:
            try:
                c.stop()
                c.close()
            except Exception:  # noqa: BLE001
                pass


def kids(kz, path, include_data=False):
    """kazoo get_children with the names sorted (ZooKeeper gives no order)."""
    if include_data:
        names, stat = kz.get_children(path, include_data=True)
        return sorted(names), stat
    return sorted(kz.get_children(path))


def stat_of(r):
    return r.stat()


def data_stat(r):
    return (r.buffer(), r.stat())


def path_of(r):
    return r.string()


def path_stat(r):
    return (r.string(), r.stat())


def children_of(r):
    return sorted(r.strings())


def children_stat(r):
    return (sorted(r.strings()), r.stat())


def int_of(r):
    return r.int()


# ------------------------------------------------------------------ sections

def sec_create_modes(env):
    t, kz, p = env.trace, env.kz, env.p
    t.call("create persistent", kz.create, p("/pers"), b"v1", include_data=True)
    t.call("create ephemeral", kz.create, p("/eph"), b"e", ephemeral=True, include_data=True)
    t.call("create sequential", kz.create, p("/seq-"), b"s", sequence=True, include_data=True)
    t.call("create ephemeral sequential", kz.create, p("/eseq-"), b"", ephemeral=True,
           sequence=True, include_data=True)
    t.call("create no data", kz.create, p("/nodata"), None, include_data=True)
    t.call("get no data", kz.get, p("/nodata"))
    t.call("create makepath", kz.create, p("/deep/er/node"), b"x", makepath=True)
    t.call("get_children root", kids, kz, p())
    t.call("get parent stat", kz.exists, p())
    t.call("get deep intermediate", kz.get, p("/deep/er"))
    # create2 and plain create over the raw protocol
    r = env.raw("R")
    t.raw("raw create", r.create(p("/rawc"), b"abc"), path_of)
    t.raw("raw create2", r.create2(p("/rawc2"), b"abc"), path_stat)
    t.raw("raw create2 ephemeral", r.create2(p("/rawe"), b"", CreateMode.EPHEMERAL), path_stat)
    t.raw("raw create2 eph seq", r.create2(p("/rawes-"), b"", CreateMode.EPHEMERAL_SEQUENTIAL), path_stat)
    t.raw("raw create bad flags 9", r.create(p("/badflags"), b"", 9), path_of)
    t.raw("raw create flags 5 (TTL via create)", r.create(p("/ttlviacreate"), b"", 5), path_of)
    t.raw("raw create empty acl", r.create(p("/noacl"), b"", 0, acl=[]), path_of)
    t.raw("raw create bad acl scheme", r.create(p("/badacl"), b"", 0, acl=[(31, "nosuch", "x")]), path_of)
    t.raw("raw getData rawc", r.get_data(p("/rawc")), data_stat)


def sec_containers_ttl(env):
    t, p = env.trace, env.p
    r = env.raw("R")
    t.raw("create container", r.create_container(p("/cont"), b"c"), path_stat)
    t.raw("exists container", r.exists(p("/cont")), stat_of)
    t.raw("create container again", r.create_container(p("/cont"), b"c"), path_stat)
    t.raw("child in container", r.create(p("/cont/child"), b""), path_of)
    t.raw("delete child", r.delete(p("/cont/child")), None)
    gone = poll_until(lambda: r.exists(p("/cont")).err == -101, timeout=15)
    t.add("emptied container removed within 15s", bool(gone))
    # a never-used container stays (ZooKeeper only removes containers that had children)
    t.raw("create unused container", r.create_container(p("/unused"), b""), path_of)
    t.raw("create ttl", r.create_ttl(p("/ttl"), 400, b"t"), path_stat)
    t.raw("create ttl sequential", r.create_ttl(p("/ttls-"), 60000, b"",
                                                CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL), path_stat)
    t.raw("create ttl 0", r.create_ttl(p("/ttl0"), 0), path_stat)
    t.raw("create ttl negative", r.create_ttl(p("/ttlneg"), -5), path_stat)
    t.raw("create ttl too large", r.create_ttl(p("/ttlhuge"), 1 << 41), path_stat)
    t.raw("create ttl with persistent flag", r.create_ttl(p("/ttlp"), 1000, b"", CreateMode.PERSISTENT), path_stat)
    t.raw("create ttl with ephemeral flag", r.create_ttl(p("/ttle"), 1000, b"", CreateMode.EPHEMERAL), path_stat)
    gone = poll_until(lambda: r.exists(p("/ttl")).err == -101, timeout=15)
    t.add("ttl node removed within 15s", bool(gone))
    t.add("unused container still there", r.exists(p("/unused")).error)
    t.raw("children", r.get_children(p()), children_of)


def sec_sequence_numbering(env):
    t, kz, p = env.trace, env.kz, env.p
    kz.create(p("/q"))
    names = []
    for i in range(3):
        names.append(kz.create(p("/q/n-"), b"", sequence=True))
    t.add("first three", names)
    kz.delete(names[1])
    kz.delete(names[2])
    t.call("after two deletes", kz.create, p("/q/n-"), b"", sequence=True)
    kz.create(p("/q/plain"))
    t.call("after plain child", kz.create, p("/q/m-"), b"", sequence=True)
    t.call("trailing slash sequential", kz.create, p("/q/"), b"", sequence=True)
    t.call("ephemeral sequential", kz.create, p("/q/e-"), b"", sequence=True, ephemeral=True)
    t.call("parent stat", kz.exists, p("/q"))
    t.call("children", kids, kz, p("/q"))
    # sequence suffix of a name that already exists -> NodeExists
    kz.create(p("/r"))
    existing = p("/r/x%010d" % 0)
    kz.create(existing)  # cversion of /r is now 1
    t.call("sequential collides?", kz.create, p("/r/x"), b"", sequence=True)
    kz.create(p("/r/x%010d" % 3))  # cversion of /r is now 3
    t.call("sequential collision", kz.create, p("/r/x"), b"", sequence=True)
    t.call("sequential collision again", kz.create, p("/r/x"), b"", sequence=True)
    t.call("r children", kids, kz, p("/r"))


def sec_versions(env):
    t, kz, p = env.trace, env.kz, env.p
    kz.create(p("/v"), b"0")
    t.call("set any", kz.set, p("/v"), b"1")
    t.call("set v1", kz.set, p("/v"), b"22", version=1)
    t.call("set stale v1", kz.set, p("/v"), b"x", version=1)
    t.call("set v=-2", kz.set, p("/v"), b"x", version=-2)
    t.call("get", kz.get, p("/v"))
    t.call("set empty", kz.set, p("/v"), b"")
    t.call("set None", kz.set, p("/v"), None)
    t.call("get after None", kz.get, p("/v"))
    kz.create(p("/v/c1"))
    kz.create(p("/v/c2"))
    kz.delete(p("/v/c1"))
    t.call("parent cversion/numChildren/pzxid", kz.exists, p("/v"))
    t.call("delete stale version", kz.delete, p("/v/c2"), version=3)
    t.call("delete right version", kz.delete, p("/v/c2"), version=0)
    t.call("set_acls bad version", kz.set_acls, p("/v"), OPEN_ACL_UNSAFE, version=7)
    t.call("set_acls version 0", kz.set_acls, p("/v"), OPEN_ACL_UNSAFE, version=0)
    t.call("set_acls version 0 again", kz.set_acls, p("/v"), OPEN_ACL_UNSAFE, version=0)
    t.call("stat after acl", kz.exists, p("/v"))
    t.call("delete any version", kz.delete, p("/v"), version=-1)
    t.call("gone", kz.exists, p("/v"))


def sec_errors(env):
    t, kz, p = env.trace, env.kz, env.p
    kz.create(p("/e"), b"")
    kz.create(p("/e/child"), b"")
    kz.create(p("/eph"), b"", ephemeral=True)
    t.call("NoNode get", kz.get, p("/missing"))
    t.call("NoNode set", kz.set, p("/missing"), b"")
    t.call("NoNode delete", kz.delete, p("/missing"))
    t.call("NoNode children", kids, kz, p("/missing"))
    t.call("NoNode get_acls", kz.get_acls, p("/missing"))
    t.call("NoNode set_acls", kz.set_acls, p("/missing"), OPEN_ACL_UNSAFE)
    t.call("NoNode create parent missing", kz.create, p("/missing/x"), b"")
    t.call("exists missing", kz.exists, p("/missing"))
    t.call("NodeExists", kz.create, p("/e"), b"")
    t.call("NotEmpty", kz.delete, p("/e"))
    t.call("NoChildrenForEphemerals", kz.create, p("/eph/x"), b"")
    t.call("NoChildrenForEphemerals seq", kz.create, p("/eph/x"), b"", sequence=True)
    t.call("BadVersion set", kz.set, p("/e"), b"", version=5)
    t.call("BadVersion delete", kz.delete, p("/e/child"), version=5)
    t.call("delete root", kz.delete, "/")
    t.call("delete /zookeeper", kz.delete, "/zookeeper")
    t.call("create root", kz.create, "/", b"")
    t.call("NoAuth on read-only ACL",
           lambda: (kz.create(p("/ro"), b"", acl=[ACL(Permissions.READ, Id("world", "anyone"))]),
                    kz.set(p("/ro"), b"x")))
    t.call("NoAuth delete child of create-only ACL",
           lambda: (kz.create(p("/co"), b"", acl=[ACL(Permissions.CREATE | Permissions.READ,
                                                      Id("world", "anyone"))]),
                    kz.create(p("/co/c"), b""), kz.delete(p("/co/c"))))
    t.call("get_acls ro", kz.get_acls, p("/ro"))
    # Bad paths go over the raw protocol (kazoo normalises paths itself).
    r = env.raw("R")
    r.create(p("/a"))
    bad = {
        "relative": "a",
        "trailing slash": p("/a/"),
        "double slash": p("/a//b"),
        "dot": p("/a/."),
        "dotdot": p("/a/.."),
        "dot segment": p("/a/./b"),
        "empty": "",
        "nul": p("/a/b\x00c"),
        "control char": p("/a/b\x01"),
        "DEL char": p("/a/b\x7f"),
        "noncharacter": p("/a/\ufff0"),
        "slash slash": "//",
    }
    for name, path in bad.items():
        t.raw("bad path %s: create" % name, r.create(path), path_of)
        t.raw("bad path %s: create sequential" % name, r.create(path, flags=CreateMode.PERSISTENT_SEQUENTIAL), path_of)
        t.raw("bad path %s: delete" % name, r.delete(path), None)
        t.raw("bad path %s: setData" % name, r.set_data(path, b""), stat_of)
    ok = {"dot prefix": p("/a/.b"), "dotdot prefix": p("/a/..b"), "three dots": p("/a/..."),
          "space": p("/a/b c"), "nbsp": p("/a/b\u00a0"), "unicode": p("/a/\u00e9t\u00e9")}
    for name, path in ok.items():
        t.raw("odd but valid path %s: create" % name, r.create(path), path_of)
    for name in ("trailing slash", "dot", "dotdot"):
        t.raw("read %s: exists" % name, r.exists(bad[name]), stat_of)
        t.raw("read %s: getData" % name, r.get_data(bad[name]), data_stat)
        t.raw("read %s: getChildren" % name, r.get_children(bad[name]), children_of)
    t.raw("children of /a", r.get_children(p("/a")), children_of)


def sec_children_and_exists(env):
    t, kz, p = env.trace, env.kz, env.p
    kz.create(p("/c"), b"parent")
    for name, data in (("x", b"1"), ("y", b"22"), ("z", b"")):
        kz.create(p("/c/" + name), data)
    kz.create(p("/c/y/deeper"), b"d")
    t.call("children", kids, kz, p("/c"))
    t.call("children include_data", kids, kz, p("/c"), include_data=True)
    t.call("children of leaf", kids, kz, p("/c/x"))
    t.call("children of leaf include_data", kids, kz, p("/c/x"), include_data=True)
    t.call("exists missing", kz.exists, p("/c/none"))
    t.call("exists present", kz.exists, p("/c/y"))
    t.call("get", kz.get, p("/c/y"))
    t.call("/zookeeper children", kids, kz, "/zookeeper")
    t.call("/zookeeper/quota exists", lambda: kz.exists("/zookeeper/quota") is not None)
    r = env.raw("R")
    t.raw("getAllChildrenNumber", r.get_all_children_number(p("/c")), int_of)
    t.raw("getAllChildrenNumber leaf", r.get_all_children_number(p("/c/x")), int_of)
    t.raw("getAllChildrenNumber missing", r.get_all_children_number(p("/c/none")), int_of)
    t.raw("getChildren2", r.get_children2(p("/c")), children_stat)
    t.raw("getChildren2 missing", r.get_children2(p("/c/none")), children_stat)
    t.raw("create eph 1", r.create(p("/c/e1"), b"", CreateMode.EPHEMERAL), path_of)
    t.raw("create eph 2", r.create(p("/c/y/e2"), b"", CreateMode.EPHEMERAL_SEQUENTIAL), path_of)
    t.raw("getEphemerals prefix", r.get_ephemerals(p("/c")), lambda rd: sorted(rd.strings()))
    t.raw("getEphemerals prefix partial", r.get_ephemerals(p("/c/y/e")), lambda rd: sorted(rd.strings()))
    t.raw("getEphemerals nothing", r.get_ephemerals(p("/nothing")), lambda rd: sorted(rd.strings()))
    kz.create(p("/c/kzeph"), b"", ephemeral=True)  # another session's: not listed
    t.raw("getEphemerals of this session only", r.get_ephemerals(p("/c")), lambda rd: sorted(rd.strings()))
    t.raw("whoAmI", r.who_am_i(), lambda rd: [(rd.string(), rd.string()) for _ in range(rd.int())])
    t.raw("multiRead", r.multi_read([
        (Op.GET_CHILDREN, zkproto.body_path_watch(p("/c"))),
        (Op.GET_DATA, zkproto.body_path_watch(p("/c/y"))),
        (Op.GET_DATA, zkproto.body_path_watch(p("/c/none"))),
        (Op.GET_CHILDREN, zkproto.body_path_watch(p("/c/none"))),
    ]), lambda rd: zkproto.decode_multi(rd.rest(), read=True))


def sec_kazoo_watches(env):
    t, kz, kz2, p = env.trace, env.kz, env.kz2, env.p
    ev = KazooEvents(kz, t)
    kz.create(p("/w"), b"0")
    kz.create(p("/w/a"), b"")
    kz.get(p("/w"), watch=ev.watcher("data /w"))
    kz.get_children(p("/w"), watch=ev.watcher("child /w"))
    kz.exists(p("/w/new"), watch=ev.watcher("exists /w/new"))
    kz.get(p("/w/a"), watch=ev.watcher("data /w/a"))
    kz2.set(p("/w"), b"1")
    t.add("after set /w", ev.take(1))
    kz2.set(p("/w"), b"2")
    t.add("after second set /w (one-shot: nothing)", ev.take())
    kz2.create(p("/w/new"), b"")
    t.add("after create /w/new", ev.take(2))
    kz2.delete(p("/w/a"))
    t.add("after delete /w/a", ev.take(1))
    kz2.create(p("/w/b"), b"")
    t.add("after create /w/b (child watch used up)", ev.take())
    # exists watch on an existing node fires on data change and on delete
    kz.exists(p("/w/b"), watch=ev.watcher("exists /w/b"))
    kz2.delete(p("/w/b"))
    t.add("after delete /w/b", ev.take(1))
    # watches from a multi
    kz.get(p("/w"), watch=ev.watcher("data /w again"))
    kz.get_children(p("/w"), watch=ev.watcher("child /w again"))
    tx = kz2.transaction()
    tx.set_data(p("/w"), b"3")
    tx.create(p("/w/m"), b"")
    t.call("multi result", tx.commit)
    t.add("after multi", ev.take(2))


def sec_raw_watch_order(env):
    """Exact frame order on one connection: notifications vs replies."""
    t, p = env.trace, env.p
    w = env.raw("W")
    m = env.raw("M")
    m.create(p("/o"), b"")
    m.create(p("/o/k"), b"")
    # several watches triggered by one write from another session
    w.get_data(p("/o/k"), watch=True)
    w.exists(p("/o/k"), watch=True)
    w.get_children(p("/o"), watch=True)
    w.exists(p("/o/missing"), watch=True)
    w.get_children(p("/o/k"), watch=True)
    w.frames.clear()
    t.raw("M delete /o/k", m.delete(p("/o/k")), None)
    t.raw("W sync", w.sync(p("/o")), path_of)
    t.add("W frames (events before the later reply)", list(w.frames))
    t.add("W events", [e for e in w.take_events()])
    # self-triggered: the event comes before the reply of the write that fired it
    w.get_data(p("/o"), watch=True)
    w.frames.clear()
    t.raw("W setData /o", w.set_data(p("/o"), b"self"), stat_of)
    t.add("W frames on own write", list(w.frames))
    t.add("W events 2", w.take_events())
    # creates: NodeCreated (exists watch) and NodeChildrenChanged (parent)
    w.exists(p("/o/n"), watch=True)
    w.get_children(p("/o"), watch=True)
    w.frames.clear()
    t.raw("W create /o/n", w.create(p("/o/n"), b""), path_of)
    t.add("W frames on own create", list(w.frames))
    t.add("W events 3", w.take_events())
    # checkWatches / removeWatches
    w.get_data(p("/o/n"), watch=True)
    t.raw("checkWatches data present", w.check_watches(p("/o/n"), WatcherType.DATA), None)
    t.raw("checkWatches children absent", w.check_watches(p("/o/n"), WatcherType.CHILDREN), None)
    w.frames.clear()
    t.raw("removeWatches data", w.remove_watches(p("/o/n"), WatcherType.DATA), None)
    t.add("frames on removeWatches", list(w.frames))
    t.add("events on removeWatches", w.take_events())
    t.raw("removeWatches none left", w.remove_watches(p("/o/n"), WatcherType.ANY), None)
    m.set_data(p("/o/n"), b"x")
    t.raw("W sync 2", w.sync(p("/o")), path_of)
    t.add("no event after removal", w.take_events())


def sec_persistent_watches(env):
    t, p = env.trace, env.p
    w = env.raw("W")
    m = env.raw("M")
    m.create(p("/pw"), b"")
    t.raw("addWatch persistent", w.add_watch(p("/pw"), AddWatchMode.PERSISTENT), None)
    t.raw("addWatch recursive", w.add_watch(p(), AddWatchMode.PERSISTENT_RECURSIVE), None)
    t.raw("addWatch bad mode", w.add_watch(p("/pw"), 7), None)
    ops = [
        ("create /pw/c", lambda: m.create(p("/pw/c"), b"")),
        ("set /pw", lambda: m.set_data(p("/pw"), b"1")),
        ("set /pw again", lambda: m.set_data(p("/pw"), b"2")),
        ("set /pw/c", lambda: m.set_data(p("/pw/c"), b"1")),
        ("create /pw/c/d", lambda: m.create(p("/pw/c/d"), b"")),
        ("delete /pw/c/d", lambda: m.delete(p("/pw/c/d"))),
        ("delete /pw/c", lambda: m.delete(p("/pw/c"))),
        ("delete /pw", lambda: m.delete(p("/pw"))),
        ("create /pw", lambda: m.create(p("/pw"), b"")),
        ("create /other", lambda: m.create(p("/other"), b"")),
    ]
    for label, op in ops:
        rep = op()
        t.add(label, rep.error)
        w.sync(p())
        t.add("events after " + label, w.take_events())
    t.raw("checkWatches persistent", w.check_watches(p("/pw"), WatcherType.ANY), None)
    t.raw("removeWatches persistent (ANY)", w.remove_watches(p("/pw"), WatcherType.ANY), None)
    w.sync(p())
    t.add("events on remove", w.take_events())
    m.set_data(p("/pw"), b"3")
    w.sync(p())
    t.add("after removal only the recursive watch fires", w.take_events())


def sec_set_watches_on_reconnect(env):
    """A session resumed on a new connection re-registers its watches with
    setWatches(relativeZxid); changes made in between fire at once."""
    t, p = env.trace, env.p
    m = env.raw("M")
    m.create(p("/sw"), b"0")
    m.create(p("/sw/c"), b"")
    w = env.raw("W")
    w.get_data(p("/sw"), watch=True)
    rel = w.last_zxid
    sid, pw = w.session_id, w.passwd
    w.close_socket()
    m.set_data(p("/sw"), b"1")
    m.create(p("/sw/new"), b"")
    m.delete(p("/sw/c"))
    w2 = RawClient(env.server.port, session_id=sid, passwd=pw, last_zxid=rel)
    env.raws.append(w2)
    t.add("resumed same session", w2.session_id == sid)
    w2.send(Op.SET_WATCHES, zkproto.body_set_watches(rel, data=[p("/sw"), p("/sw/c"), p("/sw/unchanged")],
                                                     exist=[p("/sw/new"), p("/sw/none")],
                                                     child=[p("/sw")]),
            xid=zkproto.SET_WATCHES_XID)
    got = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        f = w2.read_frame(timeout=deadline - time.monotonic())
        if isinstance(f, zkproto.Reply):
            got.append(("reply", f.xid, f.error))
            break
    w2.sync(p())
    t.add("setWatches reply", got)
    t.add("events", sorted(e.key() for e in w2.take_events()))


def sec_multi(env):
    t, kz, p = env.trace, env.kz, env.p
    kz.create(p("/m"), b"")
    kz.create(p("/m/old"), b"o")
    tx = kz.transaction()
    tx.create(p("/m/a"), b"a")
    tx.create(p("/m/s-"), b"", sequence=True)
    tx.set_data(p("/m/old"), b"o2")
    tx.check(p("/m/old"), 1)
    tx.delete(p("/m/a"))
    t.call("multi success", tx.commit)
    t.call("children after success", kids, kz, p("/m"))
    t.call("old after success", kz.get, p("/m/old"))
    tx = kz.transaction()
    tx.create(p("/m/b"), b"b")
    tx.create(p("/m/old"), b"")   # NodeExists
    tx.set_data(p("/m/old"), b"never")
    tx.delete(p("/m/missing"))
    t.call("multi rollback", tx.commit)
    t.call("children after rollback", kids, kz, p("/m"))
    t.call("old after rollback", kz.get, p("/m/old"))
    tx = kz.transaction()
    tx.check(p("/m/old"), 5)
    tx.create(p("/m/c"), b"")
    t.call("multi check fails", tx.commit)
    tx = kz.transaction()
    tx.create(p("/m/d"), b"")
    tx.delete(p("/m/old"), version=9)
    t.call("multi bad version delete", tx.commit)
    tx = kz.transaction()
    tx.create(p("/m/e"), b"")
    tx.create(p("/m/e/f"), b"")
    tx.delete(p("/m/e/f"))
    tx.delete(p("/m/e"))
    t.call("multi sees its own earlier ops", tx.commit)
    tx = kz.transaction()
    t.call("empty multi", tx.commit)
    r = env.raw("R")
    t.raw("raw multi create2+check", r.multi([
        (Op.CREATE2, zkproto.body_create(p("/m/g"), b"g")),
        (Op.CHECK, zkproto.body_check(p("/m/g"), 0)),
        (Op.SET_DATA, zkproto.body_set_data(p("/m/g"), b"gg", 0)),
    ]), lambda rd: zkproto.decode_multi(rd.rest()))
    t.raw("raw multi bad path", r.multi([
        (Op.CREATE, zkproto.body_create(p("/m/h"), b"")),
        (Op.CREATE, zkproto.body_create(p("/m/h/"), b"")),
    ]), lambda rd: zkproto.decode_multi(rd.rest()))
    t.raw("raw multi ephemeral parent", r.multi([
        (Op.CREATE, zkproto.body_create(p("/m/eph"), b"", flags=CreateMode.EPHEMERAL)),
        (Op.CREATE, zkproto.body_create(p("/m/eph/x"), b"")),
    ]), lambda rd: zkproto.decode_multi(rd.rest()))
    t.raw("raw multi with a read op", r.multi([
        (Op.CREATE, zkproto.body_create(p("/m/i"), b"")),
        (Op.GET_DATA, zkproto.body_path_watch(p("/m/i"))),
    ]), lambda rd: zkproto.decode_multi(rd.rest()))
    t.raw("raw multiRead with a write op", r.multi_read([
        (Op.GET_DATA, zkproto.body_path_watch(p("/m/old"))),
        (Op.CREATE, zkproto.body_create(p("/m/j"), b"")),
    ]), lambda rd: zkproto.decode_multi(rd.rest(), read=True))
    t.call("final children", kids, kz, p("/m"), include_data=True)


def sec_session_close_ephemerals(env):
    t, p = env.trace, env.p
    watcher = env.kz2
    ev = KazooEvents(watcher, t)
    owner = env.kazoo("O")
    owner.create(p("/s"), b"")
    t.call("create ephemeral", owner.create, p("/s/e"), b"", ephemeral=True, include_data=True)
    t.call("create ephemeral seq", owner.create, p("/s/es-"), b"", ephemeral=True, sequence=True)
    watcher.exists(p("/s/e"), watch=ev.watcher("exists /s/e"))
    watcher.get_children(p("/s"), watch=ev.watcher("child /s"))
    t.call("owner sees ephemerals", kids, owner, p("/s"), include_data=True)
    owner.stop()
    # both deletions belong to one closeSession transaction: no order between them
    t.add("watcher events after owner closed", sorted(ev.take(2)))
    t.call("children after close", kids, watcher, p("/s"))
    t.call("parent after close", watcher.exists, p("/s"))
    # raw closeSession
    r = env.raw("R")
    r.create(p("/s/raw"), b"", CreateMode.EPHEMERAL)
    rep = r.close()
    t.add("closeSession reply", None if rep is None else rep.error)
    t.call("raw ephemeral gone", watcher.exists, p("/s/raw"))


def sec_acl_and_sync(env):
    t, kz, p = env.trace, env.kz, env.p
    kz.create(p("/acl"), b"")
    t.call("default acl", kz.get_acls, p("/acl"))
    t.call("root acl", lambda: kz.get_acls("/")[0])
    t.call("set_acls read+write", kz.set_acls, p("/acl"),
           [ACL(Permissions.READ | Permissions.WRITE, Id("world", "anyone"))])
    t.call("acl after set", kz.get_acls, p("/acl"))
    t.call("set_acls empty", kz.set_acls, p("/acl"), [])
    t.call("set_acls ip", kz.set_acls, p("/acl"), [ACL(Permissions.ALL, Id("ip", "127.0.0.1"))])
    t.call("acl after ip", kz.get_acls, p("/acl"))
    t.call("sync", kz.sync, p("/acl"))
    t.call("sync missing node", kz.sync, p("/nope"))
    t.call("create with acl", kz.create, p("/acl2"), b"",
           acl=[ACL(Permissions.ALL, Id("world", "anyone")), ACL(Permissions.READ, Id("ip", "10.0.0.1"))])
    t.call("get_acls multiple", kz.get_acls, p("/acl2"))


def sec_data_limit(env):
    """ZooKeeper's jute.maxbuffer: a request frame longer than 0xfffff bytes
    makes the server close the connection (kazoo: ConnectionLoss), the
    session survives and nothing is written."""
    t, kz, p = env.trace, env.kz, env.p
    sid = kz.client_id[0]
    data = bytes(range(256)) * 3906  # 999936 bytes
    t.call("create ~1MB", kz.create, p("/big"), data)
    t.call("get ~1MB", lambda: (len(kz.get(p("/big"))[0]), kz.get(p("/big"))[0] == data))
    t.call("create 1 MiB", kz.create, p("/huge"), b"x" * (1 << 20))
    wait_for(lambda: kz.connected, 15, desc="kazoo reconnect")
    t.add("same session after", kz.client_id[0] == sid)
    t.call("huge not created", kz.exists, p("/huge"))
    t.call("set 1 MiB", kz.set, p("/big"), b"y" * (1 << 20))
    wait_for(lambda: kz.connected, 15, desc="kazoo reconnect")
    t.call("big unchanged", lambda: kz.get(p("/big"))[0] == data)
    # the exact boundary, over the raw protocol
    r = env.raw("R")
    path = p("/edge")
    overhead = 8 + (4 + len(path.encode())) + 4 + (4 + 4 + 4 + 5 + 4 + 6) + 4
    at_limit = zkproto.JUTE_MAXBUFFER - overhead
    for label, size in (("frame == jute.maxbuffer", at_limit), ("frame == jute.maxbuffer + 1", at_limit + 1)):
        try:
            rep = r.create(path, b"z" * size)
            t.add(label, ("reply", rep.error))
        except (zkproto.ConnectionClosed, ConnectionError, OSError):
            # How the close shows (EOF, EPIPE or ECONNRESET) depends on how
            # much of the frame the client had sent when the server hung
            # up, on either server: only the close itself is compared.
            t.add(label, "connection closed")
            r = env.raw("R2")
    t.call("edge node stat", kz.exists, path)


def sec_four_letter(env):
    t = env.trace
    t.add("ruok", env.server.four("ruok"))
    t.add("unknown word", env.server.four("xyzw"))


SECTIONS = [
    sec_create_modes,
    sec_containers_ttl,
    sec_sequence_numbering,
    sec_versions,
    sec_errors,
    sec_children_and_exists,
    sec_kazoo_watches,
    sec_raw_watch_order,
    sec_persistent_watches,
    sec_set_watches_on_reconnect,
    sec_multi,
    sec_session_close_ephemerals,
    sec_acl_and_sync,
    sec_data_limit,
    sec_four_letter,
]


def run_section(section, server, root):
    env = Env(server, root)
    try:
        section(env)
        return render(env.trace.finish())
    finally:
        env.close()


@pytest.mark.parametrize("section", SECTIONS, ids=[s.__name__[4:] for s in SECTIONS])
def test_same_trace_as_zookeeper(section, zk_server, coord_server, root):
    expected = run_section(section, zk_server, root)
    got = run_section(section, coord_server, root)
    if expected != got:
        diff = "\n".join(difflib.unified_diff(expected, got, "Apache ZooKeeper 3.8", "runnel-coord",
                                              lineterm="", n=2))
        pytest.fail("traces differ (- ZooKeeper, + runnel-coord):\n" + diff, pytrace=False)
    assert len(expected) > 0
