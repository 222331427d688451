"""Screen-pop latency: SIPp's INVITE to the committed RINGING bus notification, with 1 and 50
(and, asked for, 200) simultaneous inbound calls to different users, on the lab Kamailio and
the lab Asterisk side by side in one run.

Run from the repository root with the test venv (Odoo 18 in ODOO_PATH, /opt/odoo18 by
default; PostgreSQL on 127.0.0.1; Asterisk through ASTERISK_PATH or PATH)::

    python -m bench.screen_pop_latency                        # new database, dropped after
    python -m bench.screen_pop_latency --db cti_bench --keep  # reuse / keep a database
    python -m bench.screen_pop_latency --pbx kamailio --levels 1,50,200

Each PBX gets the same users, phones, calls and server in turn, on the same database. The
whole real path runs: the lab PBX (lab/); one SIPp that is the registered desk
phone of every user (it answers 180 and rings until the caller cancels); a real
``odoo-bin --load=base,web,cti_connector`` server (threaded) whose CTI service holds one SIP
session per user; one SIPp PSTN caller that places the calls of a round at once, each to a
different user, with the caller id of a demo contact (so each screen pop also identifies the
caller).

Start: the moment SIPp sent the INVITE, read per call from SIPp's own message trace (its
separator line carries the wall-clock send time), so SIPp's pacing and start-up are not
counted and every call of a burst has its own start. End: the moment the RINGING bus
notification was committed, taken as the arrival of Odoo's ``NOTIFY imbus`` (sent by the bus
right after the commit) on a separate ``LISTEN imbus`` connection; the n-th notification of
a user's channel is matched to the n-th bus row of that channel, whose payload must be
RINGING. The bus row's ``create_date`` (the transaction's start) splits the latency into
"INVITE to transaction start" (PBX, dialog-info NOTIFY, engine, queue) and "transaction"
(caller lookup, call log, bus row, commit). Everything runs on one machine, one clock.
"""

import argparse
import contextlib
import random
import tempfile
import time
from pathlib import Path

from bench import odoo_lab
from bench.odoo_lab import percentile

TARGET_P99_MS = 100.0


def wait_quiet(db, quiet_s=1.0, timeout=60.0):
    """Until no bus row was written for ``quiet_s`` (the previous round's HANGUPs are in)."""
    deadline = time.monotonic() + timeout
    last, since = odoo_lab.last_bus_id(db), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now_id = odoo_lab.last_bus_id(db)
        if now_id != last:
            last, since = now_id, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return


def run_round(db, sipp, listener, extensions, partner_ids, label, ring_s):
    wait_quiet(db)
    since_id, since_time = odoo_lab.last_bus_id(db), time.time()
    caller = sipp.call(extensions, ring_s, label)
    code = caller.wait(ring_s + 90)
    time.sleep(0.5)
    sent = sipp.invite_times(label)
    wanted = [partner_ids[ext] for ext in extensions]
    committed = odoo_lab.ringing_commit_times(db, listener, wanted, since_id, since_time)
    total, queued, txn, missing = [], [], [], 0
    for ext in extensions:
        times = committed.get(partner_ids[ext])
        if ext not in sent or times is None:
            missing += 1
            continue
        started, done = times
        total.append((done - sent[ext]) * 1000)
        queued.append((started - sent[ext]) * 1000)
        txn.append((done - started) * 1000)
    if code != 0:
        print(f"  ({label}: SIPp exited {code}; see {sipp.dir})", flush=True)
    return total, queued, txn, missing


def bench_asterisk(run_dir):
    """The lab's Asterisk configuration, with the phones' contacts taken as registered: the
    benchmark's phones are one SIPp that others register for (on another port), which
    ``rewrite_contact`` would replace by the registering SIPp's address."""
    config_dir = Path(run_dir) / "asterisk-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    for source in odoo_lab.lab.ASTERISK_DIR.iterdir():
        text = source.read_text()
        if source.name == "pjsip.conf":
            text = text.replace("rewrite_contact = yes", "rewrite_contact = no")
        (config_dir / source.name).write_text(text)
    return config_dir


def measure(pbx_name, run_dir, db, users, levels, args):
    """Run every level against one lab PBX; returns [(level, rounds, total, queued, txn,
    missing, load)]."""
    run_dir = Path(run_dir) / pbx_name
    run_dir.mkdir(parents=True, exist_ok=True)
    accounts = {odoo_lab.extension(i): odoo_lab.SIP_PASSWORD for i in range(users)}
    if pbx_name == "asterisk":
        pbx = odoo_lab.lab.Asterisk(run_dir, users=accounts, config_dir=bench_asterisk(run_dir))
    else:
        pbx = odoo_lab.BigKamailio(run_dir, users=accounts)
    server = odoo_lab.OdooServer(run_dir, db, debug_host=args.debug_host)
    sipp = None
    listener = None
    results = []
    try:
        pbx.start()
        odoo_lab.point_at(db, pbx)
        partner_ids = odoo_lab.bench_partner_ids(db, users)
        sipp = odoo_lab.Sipp(run_dir, pbx)
        sipp.desk_phones(sorted(partner_ids))
        server.start()
        odoo_lab.want_sessions(db, users)
        odoo_lab.lab.wait_until(
            lambda: odoo_lab.ready_count(db) >= users, 120, 0.5, f"{users} READY"
        )
        listener = odoo_lab.ImbusListener(db).start()
        extensions = sorted(partner_ids)
        for level in levels:
            rounds = min(args.max_rounds, max(1, -(-args.samples // level)))
            ring_s = 1.0 + level / 50
            total, queued, txn, missing = [], [], [], 0
            load_before = odoo_lab.load()
            for round_no in range(rounds):
                chosen = random.sample(extensions, level)
                t, q, x, m = run_round(
                    db,
                    sipp,
                    listener,
                    chosen,
                    partner_ids,
                    f"{pbx_name}{level}-{round_no}",
                    ring_s,
                )
                total += t
                queued += q
                txn += x
                missing += m
            results.append((level, rounds, total, queued, txn, missing, load_before))
            print(
                f"  {pbx_name}, {level} simultaneous: {len(total)} calls in {rounds} round(s), "
                f"p99 {percentile(total, 0.99):.1f} ms (load {odoo_lab.load()})",
                flush=True,
            )
    finally:
        if listener is not None:
            listener.stop()
        server.stop()
        if sipp is not None:
            sipp.stop()
        pbx.stop()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database to use (created if missing)")
    parser.add_argument("--keep", action="store_true", help="keep a database this run created")
    parser.add_argument("--run-dir", help="keep logs here (default: a temporary directory)")
    parser.add_argument("--pbx", default="kamailio,asterisk", help="lab PBXs, in this order")
    parser.add_argument("--levels", default="1,50", help="simultaneous calls per round")
    parser.add_argument(
        "--samples", type=int, default=200, help="calls per level (rounds = samples / level)"
    )
    parser.add_argument("--max-rounds", type=int, default=30, help="rounds per level at most")
    parser.add_argument(
        "--debug-host", action="store_true", help="log each push transaction in odoo.log"
    )
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    pbx_names = [name.strip() for name in args.pbx.split(",") if name.strip()]
    if "asterisk" in pbx_names and not odoo_lab.lab.find_asterisk():
        print(f"ASTERISK BENCHMARK SKIPPED: {odoo_lab.lab.ASTERISK_HINT}", flush=True)
        pbx_names.remove("asterisk")
    users = max(levels)
    db = args.db or f"cti_bench_{random.randrange(10**6)}"  # noqa: S311
    created = odoo_lab.prepare_database(db, users)
    results = {}
    with contextlib.ExitStack() as stack:
        run_dir = args.run_dir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="cti-screenpop-")
        )
        for pbx_name in pbx_names:
            results[pbx_name] = measure(pbx_name, run_dir, db, users, levels, args)
    if created and not args.keep:
        odoo_lab.drop_database(db)

    print()
    print(f"Screen-pop latency, SIPp INVITE sent -> RINGING bus notification committed ({users}")
    print("users logged in through one odoo-bin, each lab PBX in turn, all on this machine)")
    print()
    header = [
        "PBX",
        "simultaneous calls",
        "calls",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "p99 / 100 ms target",
        "p50 to txn start",
        "p50 txn",
        "missing",
        "load (1/5/15 min)",
    ]
    rows = []
    for pbx_name, pbx_results in results.items():
        for level, _rounds, total, queued, txn, missing, load_before in pbx_results:
            rows.append(
                [
                    pbx_name,
                    level,
                    len(total),
                    f"{percentile(total, 0.5):.1f}",
                    f"{percentile(total, 0.95):.1f}",
                    f"{percentile(total, 0.99):.1f}",
                    f"{max(total, default=float('nan')):.1f}",
                    f"{percentile(total, 0.99) / TARGET_P99_MS:.2f}",
                    f"{percentile(queued, 0.5):.1f}",
                    f"{percentile(txn, 0.5):.1f}",
                    missing,
                    load_before,
                ]
            )
    odoo_lab.print_table(header, rows)
    if len(results) == 2:
        first, second = results
        print()
        for (level, _r, a, *_), (_l, _r2, b, *_) in zip(
            results[first], results[second], strict=True
        ):
            if a and b:
                print(
                    f"{level} simultaneous: {second} / {first}, "
                    f"p50 {percentile(b, 0.5) / percentile(a, 0.5):.2f}, "
                    f"p99 {percentile(b, 0.99) / percentile(a, 0.99):.2f}"
                )


if __name__ == "__main__":
    main()
