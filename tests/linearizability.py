"""A Wing & Gong linearizability checker for histories of one register,
with the memoisation of Lowe ("Testing for linearizability", 2017) as in
Knossos/Porcupine.

The register is a znode: its state is (value, version), where version is
the znode's data version (every successful setData adds one). Operations:

  read            -> result (value, version)          (sync + getData)
  write(value)    -> result new version, or None       (setData, any version)
  cas(ev, value)  -> result ("ok", new version)        (setData with version ev)
                     or ("fail",)                      (BadVersion)

An operation whose outcome the client does not know (connection loss,
timeout: the request may or may not have been applied, possibly later)
has ret=None. It is treated as possibly taking effect at any point after
its call, or never (Porcupine's convention: its return is at infinity, so
linearizing it last is the same as dropping it). Reads with an unknown
outcome are dropped: they constrain nothing.

    h = History()
    t = h.invoke("c1", "cas", (3, b"x"))
    ... h.ok(t, ("ok", 4)) / h.ok(t, ("fail",)) / h.unknown(t)
    res = check(h.ops(), init=(b"init", 0))
    assert res.ok, res.explain()
"""

import threading
import time

READ, WRITE, CAS = "read", "write", "cas"


class Op:
    __slots__ = ("id", "client", "kind", "arg", "call", "ret", "result")

    def __init__(self, client, kind, arg, call, ret=None, result=None, id=None):
        assert kind in (READ, WRITE, CAS), kind
        self.id = id
        self.client = client
        self.kind = kind
        self.arg = arg
        self.call = call
        self.ret = ret          # None: outcome unknown
        self.result = result

    @property
    def unknown(self):
        return self.ret is None

    def __repr__(self):
        def short(v):
            if isinstance(v, bytes) and len(v) > 24:
                return repr(v[:24]) + "..."
            return repr(v)
        if self.kind == READ:
            what = "read -> %s" % (short(self.result) if not self.unknown else "?")
        elif self.kind == WRITE:
            what = "write(%s) -> %s" % (short(self.arg), "?" if self.unknown else "v%s" % (self.result,))
        else:
            ev, val = self.arg
            res = "?" if self.unknown else (
                "ok v%s" % (self.result[1],) if self.result[0] == "ok" else "BadVersion")
            what = "cas(v%d, %s) -> %s" % (ev, short(val), res)
        end = "inf" if self.unknown else "%.4f" % self.ret
        return "[%s %s @%.4f..%s]" % (self.client, what, self.call, end)


class History:
    """Thread-safe recorder of register operations (times: time.monotonic())."""

    def __init__(self, clock=time.monotonic):
        self._lock = threading.Lock()
        self._ops = []
        self.clock = clock

    def invoke(self, client, kind, arg=None):
        op = Op(client, kind, arg, self.clock())
        with self._lock:
            op.id = len(self._ops)
            self._ops.append(op)
        return op

    def ok(self, op, result):
        op.result = result
        op.ret = self.clock()

    def fail(self, op):
        """A cas that definitely failed with BadVersion."""
        assert op.kind == CAS
        self.ok(op, ("fail",))

    def unknown(self, op):
        op.ret = None
        op.result = None

    def ops(self):
        with self._lock:
            return list(self._ops)

    def __len__(self):
        return len(self._ops)


def step(state, op):
    """(ok, new_state) for op applied to state, judged by op's result."""
    value, version = state
    if op.kind == READ:
        return tuple(op.result) == state, state
    if op.kind == WRITE:
        if not op.unknown and op.result is not None and op.result != version + 1:
            return False, state
        return True, (op.arg, version + 1)
    ev, new = op.arg
    if op.unknown:
        if ev == version:
            return True, (new, version + 1)
        return True, state
    if op.result[0] == "ok":
        if ev != version:
            return False, state
        if len(op.result) > 1 and op.result[1] is not None and op.result[1] != version + 1:
            return False, state
        return True, (new, version + 1)
    return ev != version, state


class _Entry:
    __slots__ = ("op", "is_call", "match", "prev", "next", "time")

    def __init__(self, op, is_call, time_):
        self.op, self.is_call, self.time = op, is_call, time_
        self.match = self.prev = self.next = None


class Result:
    def __init__(self, ok, ops, init, detail=None, steps=0, inconclusive=False):
        self.ok = ok
        self.ops = ops
        self.init = init
        self.detail = detail or {}
        self.steps = steps
        self.inconclusive = inconclusive

    def __bool__(self):
        return self.ok

    def explain(self, context=12):
        if self.ok:
            return "linearizable (%d ops, %d search steps)" % (len(self.ops), self.steps)
        if self.inconclusive:
            return "gave up after %d search steps (%d ops): history too large or too concurrent" % (
                self.steps, len(self.ops))
        d = self.detail
        lines = ["NOT linearizable (%d ops, initial register %r)." % (len(self.ops), self.init)]
        if "reason" in d:
            lines.append(d["reason"])
        if "best" in d:
            lines.append("The longest linearizable prefix found has %d ops; the register is then %r." % (
                d["best"], d["best_state"]))
            lines.append("No pending operation can take effect before this one returns:")
            lines.append("  %r" % (d["stuck"],))
            lines.append("Linearization of that prefix, last %d ops:" % context)
            for op in d["prefix"][-context:]:
                lines.append("  %r" % (op,))
            stuck = d["stuck"]
            near = [op for op in self.ops
                    if op.call <= (stuck.ret if stuck.ret is not None else float("inf"))
                    and (op.ret is None or op.ret >= stuck.call)]
            lines.append("Operations overlapping it in time (%d):" % len(near))
            for op in near[:3 * context]:
                lines.append("  %r" % (op,))
        return "\n".join(lines)


def _precheck(ops, init):
    """Cheap diagnoses with precise messages (the search would also fail)."""
    values = {init[0]} | {op.arg[1] if op.kind == CAS else op.arg for op in ops if op.kind != READ}
    for op in ops:
        if op.kind == READ and not op.unknown and op.result[0] not in values:
            return "a read returned a value nobody wrote: %r" % (op,)
    for op in ops:
        if op.kind == READ and not op.unknown:
            val = op.result[0]
            writers = [w for w in ops if w.kind != READ and (w.arg[1] if w.kind == CAS else w.arg) == val]
            if val != init[0] and writers and all(w.call > op.ret for w in writers):
                return "a read returned a value before it was written: %r, written by %r" % (op, writers)
    return None


def check(ops, init, max_steps=20_000_000):
    """Check a single-register history; returns a Result (truthy when linearizable).

    ops: Op objects (History.ops()); init: (value, version) before the first op."""
    init = tuple(init)
    ops = [op for op in ops if not (op.kind == READ and op.unknown)]
    ops.sort(key=lambda o: o.call)
    for i, op in enumerate(ops):
        op.id = i
    reason = _precheck(ops, init)
    if reason:
        return Result(False, ops, init, {"reason": reason})
    if not ops:
        return Result(True, ops, init)

    inf = float("inf")
    entries = []
    for op in ops:
        c = _Entry(op, True, op.call)
        r = _Entry(op, False, inf if op.unknown else op.ret)
        c.match = r
        entries.append(c)
        entries.append(r)
    # calls before returns at equal times (the more permissive reading)
    entries.sort(key=lambda e: (e.time, 0 if e.is_call else 1))
    head = _Entry(None, False, -inf)
    prev = head
    for e in entries:
        prev.next = e
        e.prev = prev
        prev = e

    def lift(e):
        e.prev.next = e.next
        if e.next is not None:
            e.next.prev = e.prev
        m = e.match
        m.prev.next = m.next
        if m.next is not None:
            m.next.prev = m.prev

    def unlift(e):
        m = e.match
        m.prev.next = m
        if m.next is not None:
            m.next.prev = m
        e.prev.next = e
        if e.next is not None:
            e.next.prev = e

    state = init
    linearized = 0
    stack = []          # (entry, state before it)
    cache = set()
    best = -1
    best_info = None
    steps = 0
    entry = head.next
    while head.next is not None:
        steps += 1
        if steps > max_steps:
            return Result(False, ops, init, steps=steps, inconclusive=True)
        if entry.is_call:
            ok, new_state = step(state, entry.op)
            if ok:
                new_lin = linearized | (1 << entry.op.id)
                key = (new_lin, new_state)
                if key not in cache:
                    cache.add(key)
                    stack.append((entry, state))
                    state = new_state
                    linearized = new_lin
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if len(stack) > best:
                best = len(stack)
                best_info = ([e.op for e, _ in stack], state, entry.op)
            if not stack:
                break
            entry, state = stack.pop()
            linearized &= ~(1 << entry.op.id)
            unlift(entry)
            entry = entry.next
    else:
        return Result(True, ops, init, steps=steps)
    prefix, st, stuck = best_info
    return Result(False, ops, init, {"best": best, "best_state": st, "stuck": stuck, "prefix": prefix},
                  steps=steps)
