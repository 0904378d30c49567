"""Exactly-once benchmark client (run by scripts/bench/eos.sh, which starts and
stops the clusters; see the comment at the top of eos.sh for what is
measured). Prints figures, asserts nothing.

One invocation per phase, each against a running cluster, each writing its
results as JSON; `report` reads them all and prints the tables:

  eos_bench.py produce  --bootstrap B --rf 1 --out rf1.json [options]
  eos_bench.py eos      --bootstrap B --rf 3 --out rf3.json [options]
  eos_bench.py report   rf1.json rf3.json [--header TEXT]...

Client: confluent-kafka (librdkafka) everywhere, acks=all,
max.in.flight.requests.per.connection=5, linger.ms=5, no compression,
librdkafka's own batching (batch.num.messages / batch.size defaults). Delivery
reports only for errors (delivery.report.only.error), so the Python loop costs
one produce() call per record and nothing per acknowledgement.
"""

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
import uuid

from confluent_kafka import KafkaException, Consumer, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

MIB = 1048576.0

# ------------------------------------------------------------------ helpers


def log(msg):
    print("eos-bench: %s" % msg, file=sys.stderr, flush=True)


def broker_pids(cluster_dir):
    pids = []
    if not cluster_dir:
        return pids
    for name in sorted(os.listdir(cluster_dir)):
        if name.startswith("broker-"):
            try:
                pids.append(int(open(os.path.join(cluster_dir, name, "broker.pid")).read().strip()))
            except (OSError, ValueError):
                pass
    return pids


class CpuMeter:
    """CPU time of the brokers (from /proc) and of this process and its
    reaped children over a phase, as % of one core."""

    def __init__(self, pids):
        self.pids = pids
        self.hz = os.sysconf("SC_CLK_TCK")

    def _broker_s(self):
        t = 0
        for p in self.pids:
            try:
                f = open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()
                t += int(f[11]) + int(f[12])
            except (OSError, IndexError, ValueError):
                pass
        return t / self.hz

    def start(self):
        self.b0 = self._broker_s()
        self.c0 = os.times()
        self.w0 = time.monotonic()

    def stop(self):
        wall = max(time.monotonic() - self.w0, 1e-9)
        c1 = os.times()
        client = (c1.user - self.c0.user) + (c1.system - self.c0.system) + \
            (c1.children_user - self.c0.children_user) + (c1.children_system - self.c0.children_system)
        return {"cpu_broker": 100.0 * (self._broker_s() - self.b0) / wall, "cpu_client": 100.0 * client / wall}


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(q / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


class Admin:
    def __init__(self, bootstrap):
        self.a = AdminClient({"bootstrap.servers": bootstrap})

    def create(self, topic, partitions, rf, min_isr=None):
        cfg = {"min.insync.replicas": str(min_isr)} if min_isr else {}
        fs = self.a.create_topics([NewTopic(topic, partitions, rf, config=cfg)], operation_timeout=30)
        fs[topic].result(60)
        # Load only once every partition has a leader and (RF>1) a full ISR.
        deadline = time.monotonic() + 60
        while True:
            md = self.a.list_topics(topic, timeout=10).topics.get(topic)
            if md is not None and md.error is None and len(md.partitions) == partitions and all(
                    p.leader >= 0 and len(p.isrs) == rf for p in md.partitions.values()):
                return
            if time.monotonic() > deadline:
                log("warning: %s: not every partition has a leader and a full ISR after 60 s" % topic)
                return
            time.sleep(0.2)

    def delete(self, topic):
        try:
            self.a.delete_topics([topic], operation_timeout=30)[topic].result(60)
        except Exception as e:  # noqa: BLE001 (a figure run: report and go on)
            log("warning: delete %s: %s" % (topic, e))


def base_producer_conf(bootstrap, errors):
    return {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "max.in.flight.requests.per.connection": 5,
        "compression.type": "none",
        "message.timeout.ms": 120000,
        "delivery.report.only.error": True,
        "on_delivery": lambda err, msg: errors.append(err) if err is not None else None,
        "error_cb": lambda err: errors.append(err),
    }


def produce_n(p, topic, value, n, partitions=None):
    """produce() n records (round robin over `partitions` when given, else
    librdkafka's partitioner); waits when librdkafka's queue is full."""
    i = 0
    produce = p.produce
    poll = p.poll
    while i < n:
        try:
            if partitions:
                produce(topic, value, partition=i % partitions)
            else:
                produce(topic, value)
            i += 1
        except BufferError:
            poll(0.005)
            continue
        if not i & 0x3FFF:
            poll(0)


# ------------------------------------------------------------------ produce phase


def produce_case(bootstrap, topic, size, n, idempotent, meter):
    errors = []
    conf = base_producer_conf(bootstrap, errors)
    conf["enable.idempotence"] = bool(idempotent)
    p = Producer(conf)
    value = os.urandom(size)
    # Warm-up, not timed: metadata, connections, InitProducerId.
    p.produce(topic, value)
    if p.flush(60) != 0:
        errors.append("warm-up record not delivered")
    os.sync()
    meter.start()
    t0 = time.monotonic()
    produce_n(p, topic, value, n)
    left = p.flush(300)
    secs = time.monotonic() - t0
    cpu = meter.stop()
    p.poll(0)
    delivered = n - left
    errs = [str(e) for e in errors]
    r = {"idempotent": bool(idempotent), "size": size, "records": n, "left": left, "secs": secs,
         "rec_s": (n - left) / secs, "mb_s": (n - left) * size / MIB / secs,
         "errors": len(errs), "error_sample": errs[:3]}
    r.update(cpu)
    log("  %s %d B: %d records in %.2f s: %.0f rec/s, %.1f MB/s (CPU broker %.0f%%, client %.0f%%)%s" % (
        "idempotent    " if idempotent else "non-idempotent", size, delivered, secs, r["rec_s"], r["mb_s"],
        cpu["cpu_broker"], cpu["cpu_client"], "; %d errors: %s" % (len(errs), errs[:3]) if errs else ""))
    return r


def run_produce(a, admin, meter):
    out = []
    sizes = [(1024, a.records_1k), (100, a.records_100)]
    # Warm-up of the cluster (first topic, first segments), not reported.
    t = "eos-warmup-%s" % uuid.uuid4().hex[:6]
    admin.create(t, a.partitions, a.rf, a.min_isr if a.rf > 1 else None)
    log("  (warm-up, not reported)")
    produce_case(a.bootstrap, t, 1024, min(20000, a.records_1k), True, meter)
    admin.delete(t)
    for size, n in sizes:
        # ABBA...: non-idempotent first in odd rounds, idempotent first in even
        # ones, so drift in the machine's load does not favour either.
        order = []
        for r in range(a.rounds):
            order += [False, True] if r % 2 == 0 else [True, False]
        for idem in order:
            t = "eos-produce-%s" % uuid.uuid4().hex[:6]
            admin.create(t, a.partitions, a.rf, a.min_isr if a.rf > 1 else None)
            r = produce_case(a.bootstrap, t, size, n, idem, meter)
            r["rf"] = a.rf
            out.append(r)
            admin.delete(t)
    return out


# ------------------------------------------------------------------ transactions


def txn_producer(bootstrap, txid, errors):
    conf = base_producer_conf(bootstrap, errors)
    conf.update({"transactional.id": txid, "enable.idempotence": True, "transaction.timeout.ms": 60000,
                 "message.timeout.ms": 60000})
    p = Producer(conf)
    p.init_transactions(60)
    return p


def txn_case(a, topic, per_txn, cap, meter):
    errors = []
    p = txn_producer(a.bootstrap, "eos-bench-%d-%s" % (per_txn, uuid.uuid4().hex[:6]), errors)
    value = os.urandom(a.txn_size)
    # Warm-up transaction, not timed (AddPartitionsToTxn to every partition once).
    p.begin_transaction()
    produce_n(p, topic, value, a.partitions, a.partitions)
    p.commit_transaction(60)
    os.sync()
    commit_ms, end_ms = [], []
    n = 0
    txns = 0
    meter.start()
    t0 = time.monotonic()
    deadline = t0 + a.txn_seconds
    while n < cap and time.monotonic() < deadline:
        p.begin_transaction()
        produce_n(p, topic, value, per_txn, a.partitions)
        t1 = time.monotonic()
        if p.flush(120) != 0:
            errors.append("flush left records")
        t2 = time.monotonic()
        p.commit_transaction(120)
        t3 = time.monotonic()
        commit_ms.append((t3 - t2) * 1000)
        end_ms.append((t3 - t1) * 1000)
        n += per_txn
        txns += 1
    secs = time.monotonic() - t0
    cpu = meter.stop()
    errs = [str(e) for e in errors]
    r = {"per_txn": per_txn, "size": a.txn_size, "records": n, "txns": txns, "secs": secs,
         "rec_s": n / secs, "mb_s": n * a.txn_size / MIB / secs, "commits_s": txns / secs,
         "commit_p50": pct(commit_ms, 50), "commit_p99": pct(commit_ms, 99), "commit_max": max(commit_ms),
         "end_p50": pct(end_ms, 50), "end_p99": pct(end_ms, 99),
         "errors": len(errs), "error_sample": errs[:3]}
    r.update(cpu)
    log("  every %d: %d records, %d commits in %.2f s: %.0f rec/s, %.1f commits/s, commit p50 %.1f ms "
        "p99 %.1f ms (CPU broker %.0f%%, client %.0f%%)%s" % (
            per_txn, n, txns, secs, r["rec_s"], r["commits_s"], r["commit_p50"], r["commit_p99"],
            cpu["cpu_broker"], cpu["cpu_client"], "; %d errors: %s" % (len(errs), errs[:3]) if errs else ""))
    return r


def fill_worker(bootstrap, topic, partitions, size, per_txn, txns, abort_every, k, q):
    """One transactional producer of the fill: `txns` transactions of
    `per_txn` records, every abort_every-th aborted. The value's first byte
    says which (C / A), for the consumers' check."""
    try:
        errors = []
        p = txn_producer(bootstrap, "eos-fill-%d-%s" % (k, uuid.uuid4().hex[:6]), errors)
        vc = b"C" + os.urandom(size - 1)
        va = b"A" + os.urandom(size - 1)
        committed = aborted = 0
        for i in range(txns):
            # 1 in abort_every, never the last one: a read_committed consumer
            # then reads the same log to its end as a read_uncommitted one.
            abort = abort_every > 0 and i % abort_every == abort_every // 2
            p.begin_transaction()
            produce_n(p, topic, va if abort else vc, per_txn, partitions)
            if abort:
                p.flush(120)  # the records are in the log before the abort marker
                p.abort_transaction(120)
                aborted += per_txn
            else:
                p.commit_transaction(120)
                committed += per_txn
        q.put({"committed": committed, "aborted": aborted, "errors": [str(e) for e in errors][:3],
               "n_errors": len(errors)})
    except Exception as e:  # noqa: BLE001
        q.put({"committed": 0, "aborted": 0, "errors": [repr(e)], "n_errors": 1})


def fill(a, topic, meter):
    per = a.fill_per_txn
    total_txns = max(1, a.fill_records // per)
    k = a.fill_producers
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = []
    meter.start()
    t0 = time.monotonic()
    for i in range(k):
        txns = total_txns // k + (1 if i < total_txns % k else 0)
        pr = ctx.Process(target=fill_worker, args=(a.bootstrap, topic, a.partitions, a.txn_size, per, txns,
                                                   a.abort_every, i, q))
        pr.start()
        procs.append(pr)
    res = [q.get(timeout=600) for _ in procs]
    for pr in procs:
        pr.join(30)
    secs = time.monotonic() - t0
    cpu = meter.stop()
    r = {"committed": sum(x["committed"] for x in res), "aborted": sum(x["aborted"] for x in res),
         "producers": k, "per_txn": per, "abort_every": a.abort_every, "secs": secs,
         "errors": sum(x["n_errors"] for x in res), "error_sample": sum((x["errors"] for x in res), [])[:3]}
    r["rec_s"] = (r["committed"] + r["aborted"]) / secs
    r.update(cpu)
    log("  fill: %d committed + %d aborted records (%d producers, %d per transaction, 1 in %d aborted) in "
        "%.1f s, %.0f rec/s%s" % (r["committed"], r["aborted"], k, per, a.abort_every, secs, r["rec_s"],
                                   "; errors: %s" % r["error_sample"] if r["errors"] else ""))
    return r


def consume_case(a, topic, isolation, expected, meter):
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "eos-bench-%s" % uuid.uuid4().hex[:6],
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": isolation, "auto.offset.reset": "earliest",
                  # librdkafka's default (1000 ms) pauses a partition's fetching
                  # for a whole second each time its local queue passes
                  # queued.min.messages / queued.max.messages.kbytes (64 MB),
                  # which reading a backlog of 1 KiB records does all the time:
                  # the consumer then idles (both CPUs low), at half the rate
                  # and with a noisy one. 10 ms keeps the fetcher busy.
                  "fetch.queue.backoff.ms": a.fetch_queue_backoff_ms})
    c.assign([TopicPartition(topic, i, OFFSET_BEGINNING) for i in range(a.partitions)])
    n = nbytes = n_aborted = 0
    eof = set()
    t_first = t_last = None
    meter.start()
    deadline = time.monotonic() + a.consume_timeout
    while len(eof) < a.partitions and time.monotonic() < deadline:
        # A short timeout: consume() waits for its whole count or the timeout,
        # so a long one would add idle waits (and delay seeing the end).
        msgs = c.consume(10000, 0.002)
        for m in msgs:
            e = m.error()
            if e is None:
                t_last = time.monotonic()
                if t_first is None:
                    t_first = t_last
                v = m.value()
                n += 1
                nbytes += len(v)
                if v[0] == 65:  # b"A": a record of an aborted transaction
                    n_aborted += 1
                eof.discard(m.partition())
            elif e.code() == -191:  # _PARTITION_EOF
                eof.add(m.partition())
            else:
                log("  consumer error: %s" % e)
    t_end = time.monotonic()
    cpu = meter.stop()
    c.close()
    # From the first record to the last one: the partition EOF that says "the
    # end" may come only after a fetch that long-polls at the end of the log
    # (fetch.wait.max.ms), which is not reading.
    t_first = t_first or t_end
    t_last = t_last or t_end
    secs = max(t_last - t_first, 1e-9)
    r = {"isolation": isolation, "records": n, "expected": expected, "aborted_seen": n_aborted,
         "eof_wait": t_end - t_last,
         "secs": secs, "rec_s": n / secs, "mb_s": nbytes / MIB / secs, "complete": len(eof) == a.partitions}
    r.update(cpu)
    log("  %-16s %d records (expected %d, %d from aborted transactions) in %.2f s (then %.2f s to the EOF):"
        " %.0f rec/s, %.1f MB/s (CPU broker %.0f%%, client %.0f%%)%s" % (
            isolation, n, expected, n_aborted, secs, r["eof_wait"], r["rec_s"],
                                                   r["mb_s"], cpu["cpu_broker"], cpu["cpu_client"],
                                                   "" if r["complete"] else "; TIMED OUT before the end"))
    return r


def run_eos(a, admin, meter):
    res = {"txn": [], "fill": None, "consume": []}
    topic = "eos-txn-%s" % uuid.uuid4().hex[:6]
    admin.create(topic, a.partitions, a.rf, a.min_isr if a.rf > 1 else None)
    log("transactional producer, %d B records, %d partitions, RF %d" % (a.txn_size, a.partitions, a.rf))
    for per_txn, cap in ((100, a.txn_records_100), (1000, a.txn_records_1000)):
        r = txn_case(a, topic, per_txn, cap, meter)
        r["rf"] = a.rf
        res["txn"].append(r)
    admin.delete(topic)

    topic = "eos-consume-%s" % uuid.uuid4().hex[:6]
    admin.create(topic, a.partitions, a.rf, a.min_isr if a.rf > 1 else None)
    log("fill of the consume topic")
    f = fill(a, topic, meter)
    f["rf"] = a.rf
    res["fill"] = f
    os.sync()
    total = f["committed"] + f["aborted"]
    log("consume from the start, %d partitions" % a.partitions)
    order = []
    for r in range(a.rounds):
        order += ["read_uncommitted", "read_committed"] if r % 2 == 0 else ["read_committed", "read_uncommitted"]
    for iso in order:
        exp = total if iso == "read_uncommitted" else f["committed"]
        r = consume_case(a, topic, iso, exp, meter)
        r["log_records"] = total
        r["log_rec_s"] = total / r["secs"]
        res["consume"].append(r)
    admin.delete(topic)
    return res


# ------------------------------------------------------------------ report


def fmt(x, spec="%.0f"):
    return "–" if x is None else spec % x


def mean(xs):
    return statistics.mean(xs) if xs else None


def median(xs):
    return statistics.median(xs) if xs else None


def report(files, headers):
    data = [json.load(open(f)) for f in files]
    print()
    for h in headers:
        print(h)
    parts = sorted({d["args"]["partitions"] for d in data})
    print("every topic: %s partition(s), created for its case and deleted after it" % "/".join(map(str, parts)))
    print("MB = 2^20 bytes of record values; rec/s and MB/s are medians over the runs (each run's rec/s listed,"
          " in the order run);")
    print("CPU = brokers / this client, % of one core over the timed part (all share the machine's cores).")

    prod = [r for d in data for r in d.get("produce", [])]
    if prod:
        print()
        print("1. Produce, acks=all, confluent-kafka, max.in.flight 5, linger.ms 5 (idempotent = enable.idempotence=true;"
              " target: idempotent >= 95 % of non-idempotent)")
        print("   CPU = brokers / client; client near or above 100 % = the Python client is the bottleneck, brokers + client"
              " near 200 % = the machine is. \"broker CPU s per 1M rec\" is the brokers' cost whichever it is.")
        print()
        print("| RF | record | records/run | non-idem rec/s | non-idem MB/s | idem rec/s | idem MB/s | idem / non-idem |"
              " best / best | runs non-idem | runs idem | CPU non-idem | CPU idem | broker CPU s per 1M rec non-idem / idem | errors |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        keys = []
        for r in prod:
            k = (r["rf"], r["size"])
            if k not in keys:
                keys.append(k)
        for rf, size in keys:
            rs = [r for r in prod if r["rf"] == rf and r["size"] == size]
            a = [r for r in rs if not r["idempotent"]]
            b = [r for r in rs if r["idempotent"]]
            ra, rb = median([r["rec_s"] for r in a]), median([r["rec_s"] for r in b])
            ratio = "%.1f %%" % (100 * rb / ra) if ra and rb else "–"
            best = "%.1f %%" % (100 * max(r["rec_s"] for r in b) / max(r["rec_s"] for r in a)) if a and b else "–"
            cpu = lambda xs: "%.0f / %.0f" % (mean([r["cpu_broker"] for r in xs]), mean([r["cpu_client"] for r in xs])) \
                if xs else "–"
            errs = sum(r["errors"] + (1 if r["left"] else 0) for r in rs)
            # The brokers' CPU per record: what idempotence costs the broker,
            # whoever the bottleneck is (clients and brokers share the cores).
            bcost = lambda xs: median([r["cpu_broker"] / 100 * r["secs"] / r["records"] * 1e6 for r in xs])
            print("| %d%s | %d B | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s |" % (
                rf, " (min ISR 2)" if rf > 1 else "", size, rs[0]["records"], fmt(ra), fmt(median([r["mb_s"] for r in a]), "%.1f"),
                fmt(rb), fmt(median([r["mb_s"] for r in b]), "%.1f"), ratio, best,
                " ".join("%.0f" % r["rec_s"] for r in a), " ".join("%.0f" % r["rec_s"] for r in b),
                cpu(a), cpu(b), fmt(bcost(a), "%.2f"), fmt(bcost(b), "%.2f"), errs))

    txn = [r for d in data for r in (d.get("eos") or {}).get("txn", [])]
    if txn:
        print()
        print("2. Transactional producer (commit every N records, round robin over the partitions; flush(), then"
              " commit_transaction() timed alone = \"commit\"; \"flush+commit\" = from the last produce() call to the"
              " commit's return)")
        print()
        print("| RF | records/txn | record | records | txns | s | rec/s | MB/s | commits/s | commit p50 / p99 / max ms |"
              " flush+commit p50 / p99 ms | CPU | errors |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in txn:
            print("| %d | %d | %d B | %d | %d | %.1f | %.0f | %.1f | %.1f | %.1f / %.1f / %.1f | %.1f / %.1f | %.0f / %.0f | %d |" % (
                r["rf"], r["per_txn"], r["size"], r["records"], r["txns"], r["secs"], r["rec_s"], r["mb_s"],
                r["commits_s"], r["commit_p50"], r["commit_p99"], r["commit_max"], r["end_p50"], r["end_p99"],
                r["cpu_broker"], r["cpu_client"], r["errors"]))

    for d in data:
        e = d.get("eos") or {}
        f, cons = e.get("fill"), e.get("consume", [])
        if not cons:
            continue
        print()
        print("3. Consume from the start, confluent-kafka, default fetch settings but fetch.queue.backoff.ms=%d (librdkafka's"
              " 1000 ms default idles a consumer reading a backlog of 1 KiB records); the topic: %d committed + %d aborted"
              " records of %d B (RF %d, %d transactional producers at once, %d records per transaction, 1 in %d aborted;"
              " filled at %.0f rec/s)" % (d["args"]["fetch_queue_backoff_ms"], f["committed"], f["aborted"], d["args"]["txn_size"], f["rf"], f["producers"],
                                         f["per_txn"], f["abort_every"], f["rec_s"]))
        print("   \"delivered\" counts what the application got; \"log rec/s\" = records in the log (both kinds) / time"
              " to read to the end, the same log for both isolation levels. \"s\" = first record to last record"
              " (+ the wait for the partition EOFs, a fetch long-polling at the log's end: not counted). Target: read_committed >= 90 % of"
              " read_uncommitted (delivered rec/s is the stricter reading: read_committed hands over 1 in 10 fewer).")
        print()
        print("| isolation | delivered (expected) | aborted delivered | s | delivered rec/s | delivered MB/s |"
              " delivered rec/s vs read_uncommitted | log rec/s | log rec/s vs read_uncommitted | runs (log rec/s) | CPU |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        base = median([r["log_rec_s"] for r in cons if r["isolation"] == "read_uncommitted"])
        dbase = median([r["rec_s"] for r in cons if r["isolation"] == "read_uncommitted"])
        for iso in ("read_uncommitted", "read_committed"):
            rs = [r for r in cons if r["isolation"] == iso]
            if not rs:
                continue
            lr = median([r["log_rec_s"] for r in rs])
            delivered = " ".join("%d%s" % (r["records"], "" if r["complete"] else " (timed out)") for r in rs)
            dr = median([r["rec_s"] for r in rs])
            print("| %s | %s (%d) | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                iso, delivered, rs[0]["expected"], " ".join(str(r["aborted_seen"]) for r in rs),
                " ".join("%.2f (+%.2f)" % (r["secs"], r.get("eof_wait", 0)) for r in rs), fmt(dr),
                fmt(median([r["mb_s"] for r in rs]), "%.1f"), "%.1f %%" % (100 * dr / dbase) if dbase and dr else "–",
                fmt(lr),
                "%.1f %%" % (100 * lr / base) if base and lr else "–",
                " ".join("%.0f" % r["log_rec_s"] for r in rs),
                "%.0f / %.0f" % (mean([r["cpu_broker"] for r in rs]), mean([r["cpu_client"] for r in rs]))))


# ------------------------------------------------------------------ main


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "report":
        p = argparse.ArgumentParser(prog="eos_bench.py report")
        p.add_argument("files", nargs="+")
        p.add_argument("--header", action="append", default=[])
        a = p.parse_args(sys.argv[2:])
        report(a.files, a.header)
        return
    p = argparse.ArgumentParser()
    p.add_argument("phase", choices=["produce", "eos", "all"])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--rf", type=int, required=True)
    p.add_argument("--min-isr", type=int, default=2)
    p.add_argument("--cluster-dir", default="")
    p.add_argument("--out", required=True)
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--records-1k", type=int, default=1000000)
    p.add_argument("--records-100", type=int, default=3000000)
    p.add_argument("--txn-size", type=int, default=1024)
    p.add_argument("--txn-records-100", type=int, default=50000)
    p.add_argument("--txn-records-1000", type=int, default=300000)
    p.add_argument("--txn-seconds", type=float, default=10)
    p.add_argument("--fill-records", type=int, default=400000)
    p.add_argument("--fill-per-txn", type=int, default=1000)
    p.add_argument("--fill-producers", type=int, default=2)
    p.add_argument("--abort-every", type=int, default=10)
    p.add_argument("--consume-timeout", type=float, default=120)
    p.add_argument("--fetch-queue-backoff-ms", type=int, default=10)
    a = p.parse_args()
    admin = Admin(a.bootstrap)
    meter = CpuMeter(broker_pids(a.cluster_dir))
    out = {"args": vars(a)}
    if a.phase in ("produce", "all"):
        log("produce, acks=all, RF %d, %d partitions, %d round(s)" % (a.rf, a.partitions, a.rounds))
        out["produce"] = run_produce(a, admin, meter)
    if a.phase in ("eos", "all"):
        out["eos"] = run_eos(a, admin, meter)
    json.dump(out, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        log("failed: %s" % e)
        sys.exit(1)
