"""Unit tests of the single-register linearizability checker (linearizability.py):
hand-made histories with a known verdict, and random histories produced by a
simulated atomic register (always linearizable) and then corrupted (never)."""

import random
import time

import pytest

from linearizability import CAS, READ, WRITE, History, Op, check

INIT = (b"init", 0)


def op(client, kind, arg, call, ret, result=None):
    return Op(client, kind, arg, call, ret, result)


def R(c, t0, t1, value, version):
    return op(c, READ, None, t0, t1, (value, version))


def W(c, t0, t1, value, new_version=None):
    return op(c, WRITE, value, t0, t1, new_version)


def CASok(c, t0, t1, ev, value):
    return op(c, CAS, (ev, value), t0, t1, ("ok", ev + 1))


def CASfail(c, t0, t1, ev, value):
    return op(c, CAS, (ev, value), t0, t1, ("fail",))


def lin(ops, init=INIT):
    return check(ops, init)


# ------------------------------------------------------------------ hand-made

def test_empty_and_read_only():
    assert lin([])
    assert lin([R("a", 0, 1, b"init", 0), R("b", 0.5, 2, b"init", 0)])
    assert not lin([R("a", 0, 1, b"other", 0)])
    assert not lin([R("a", 0, 1, b"init", 3)])


def test_sequential_write_then_read():
    assert lin([W("a", 0, 1, b"x", 1), R("b", 2, 3, b"x", 1)])


def test_stale_read_after_write_returned():
    res = lin([W("a", 0, 1, b"x", 1), R("b", 2, 3, b"init", 0)])
    assert not res
    text = res.explain()
    assert "NOT linearizable" in text and "read" in text


def test_read_concurrent_with_write_sees_either():
    assert lin([W("a", 0, 10, b"x", 1), R("b", 1, 2, b"init", 0), R("c", 3, 4, b"x", 1)])
    assert lin([W("a", 0, 10, b"x", 1), R("b", 1, 2, b"x", 1)])
    # but not new-then-old (once a read saw x, later reads can't see init)
    assert not lin([W("a", 0, 10, b"x", 1), R("b", 1, 2, b"x", 1), R("c", 3, 4, b"init", 0)])


def test_read_before_write_invoked():
    res = lin([R("b", 0, 1, b"x", 1), W("a", 2, 3, b"x", 1)])
    assert not res
    assert "before it was written" in res.explain()


def test_wrong_version_reported_by_write():
    assert not lin([W("a", 0, 1, b"x", 5)])
    assert lin([W("a", 0, 1, b"x", 1), W("a", 2, 3, b"y", 2)])


def test_cas_success_and_failure():
    assert lin([CASok("a", 0, 1, 0, b"x"), CASfail("b", 2, 3, 0, b"y"), R("c", 4, 5, b"x", 1)])
    # two successful CAS from the same version: impossible, even concurrently
    assert not lin([CASok("a", 0, 10, 0, b"x"), CASok("b", 1, 9, 0, b"y")])
    # a CAS that failed although the version matched (nothing else wrote)
    assert not lin([CASfail("a", 0, 1, 0, b"x")])
    # concurrent CAS race: one wins, the other fails
    assert lin([CASok("a", 0, 10, 0, b"x"), CASfail("b", 1, 9, 0, b"y"), R("c", 11, 12, b"x", 1)])
    assert not lin([CASok("a", 0, 10, 0, b"x"), CASfail("b", 1, 9, 0, b"y"), R("c", 11, 12, b"y", 1)])


def test_cas_chain_versions():
    ops = [CASok("a", 0, 1, 0, b"a1"), CASok("b", 2, 3, 1, b"b2"), CASok("a", 4, 5, 2, b"a3"),
           R("c", 6, 7, b"a3", 3)]
    assert lin(ops)
    ops[-1] = R("c", 6, 7, b"b2", 2)
    assert not lin(ops)


def test_unknown_write_may_or_may_not_apply():
    unknown = W("a", 0, None, b"x")
    assert lin([unknown, R("b", 1, 2, b"init", 0)])
    assert lin([W("a", 0, None, b"x"), R("b", 1, 2, b"x", 1)])
    # it may take effect long after its call, but only once
    assert lin([W("a", 0, None, b"x"), R("b", 1, 2, b"init", 0), R("b", 3, 4, b"x", 1)])
    assert not lin([W("a", 0, None, b"x"), R("b", 1, 2, b"x", 1), R("b", 3, 4, b"init", 0)])


def test_unknown_cas():
    # applied: later CAS from version 1 succeeds
    assert lin([op("a", CAS, (0, b"x"), 0, None), CASok("b", 5, 6, 1, b"y"), R("c", 7, 8, b"y", 2)])
    # not applied: later CAS from version 0 succeeds
    assert lin([op("a", CAS, (0, b"x"), 0, None), CASok("b", 5, 6, 0, b"y"), R("c", 7, 8, b"y", 1)])
    # its value can't show up if its version no longer matched
    assert not lin([CASok("b", 0, 1, 0, b"y"), op("a", CAS, (0, b"x"), 2, None), R("c", 3, 4, b"x", 2)])


def test_unknown_read_is_ignored():
    assert lin([op("a", READ, None, 0, None), W("b", 1, 2, b"x", 1)])


def test_explain_names_the_stuck_op():
    ops = [W("a", 0, 1, b"x", 1), W("a", 2, 3, b"y", 2), R("b", 4, 5, b"x", 1)]
    res = lin(ops)
    assert not res
    text = res.explain()
    assert "longest linearizable prefix" in text
    assert "read -> (b'x', 1)" in text


def test_history_recorder():
    h = History()
    t = h.invoke("a", WRITE, b"x")
    h.ok(t, 1)
    t = h.invoke("a", CAS, (1, b"y"))
    h.fail(t)
    t = h.invoke("b", CAS, (1, b"z"))
    h.unknown(t)
    t = h.invoke("b", READ)
    h.ok(t, (b"x", 1))
    assert len(h) == 4
    # the CAS from version 1 failed although only the write (version 1)
    # had taken effect when it ran: not linearizable
    assert not check(h.ops(), INIT)


# ------------------------------------------------------------------ random

def simulate(rng, clients=4, n_ops=40, unknown_rate=0.1):
    """A history of an atomic register: each op takes effect at a random
    point inside its [call, ret] interval; some outcomes are then hidden."""
    ops = []
    t_free = {c: 0.0 for c in range(clients)}
    points = []
    for i in range(n_ops):
        c = rng.randrange(clients)
        call = t_free[c] + rng.random()
        ret = call + rng.random() * 3
        lp = rng.uniform(call, ret)
        t_free[c] = ret
        points.append((lp, c, call, ret))
    points.sort()
    state = INIT
    counter = 0
    for lp, c, call, ret in points:
        kind = rng.choice([READ, WRITE, CAS, CAS])
        if kind == READ:
            o = op(c, READ, None, call, ret, state)
        elif kind == WRITE:
            counter += 1
            val = b"w%d" % counter
            state = (val, state[1] + 1)
            o = op(c, WRITE, val, call, ret, state[1])
        else:
            counter += 1
            val = b"c%d" % counter
            ev = state[1] if rng.random() < 0.6 else max(0, state[1] - rng.randrange(1, 3))
            if ev == state[1]:
                state = (val, state[1] + 1)
                o = op(c, CAS, (ev, val), call, ret, ("ok", state[1]))
            else:
                o = op(c, CAS, (ev, val), call, ret, ("fail",))
        if kind != READ and rng.random() < unknown_rate:
            o.ret, o.result = None, None
        ops.append(o)
    return ops


@pytest.mark.parametrize("seed", range(150))
def test_random_atomic_histories_are_linearizable(seed):
    rng = random.Random(seed)
    ops = simulate(rng, clients=rng.randrange(1, 6), n_ops=rng.randrange(5, 60))
    res = check(ops, INIT)
    assert res, res.explain()


@pytest.mark.parametrize("seed", range(150))
def test_random_corrupted_histories_are_not(seed):
    rng = random.Random(1000 + seed)
    ops = simulate(rng, clients=rng.randrange(1, 5), n_ops=rng.randrange(10, 60), unknown_rate=0.0)
    # corruption: a read that returns a version one too high with its value,
    # or a successful write reporting a skipped version
    reads = [o for o in ops if o.kind == READ]
    writes = [o for o in ops if o.kind == WRITE]
    if reads and (not writes or rng.random() < 0.5):
        o = rng.choice(reads)
        o.result = (o.result[0], o.result[1] + 7)
    elif writes:
        o = rng.choice(writes)
        o.result = o.result + 7
    else:
        pytest.skip("nothing to corrupt")
    assert not check(ops, INIT)


def test_stale_read_injected_into_random_history():
    """A read issued after a write returned that sees the value before it."""
    rng = random.Random(7)
    ops = simulate(rng, clients=3, n_ops=50, unknown_rate=0.0)
    assert check(ops, INIT)
    writes = [o for o in ops if o.kind == WRITE]
    w = writes[len(writes) // 2]
    # the state just before w: the read gets the value w replaced
    prev = max((o for o in ops if o.kind != READ and o.ret is not None and o.ret < w.call
                and (o.kind == WRITE or o.result[0] == "ok")), key=lambda o: o.ret, default=None)
    end = max(o.ret for o in ops) + 10
    stale = R("x", end, end + 1, b"init", 0) if prev is None else None
    if stale is None:
        val = prev.arg if prev.kind == WRITE else prev.arg[1]
        stale = R("x", end, end + 1, val, 0)  # version 0 never follows a write: stale or bogus
    assert not check(ops + [stale], INIT)


def test_large_concurrent_history_is_quick():
    rng = random.Random(42)
    ops = simulate(rng, clients=8, n_ops=3000, unknown_rate=0.02)
    t0 = time.monotonic()
    res = check(ops, INIT)
    took = time.monotonic() - t0
    assert res, res.explain()
    assert took < 60, "checking 3000 ops took %.1fs" % took
