"""Users per service process: 2,000 users logged in to the CTI through one odoo-bin.

Run from the repository root with the test venv (Odoo 18 in ODOO_PATH, /opt/odoo18 by
default; PostgreSQL on 127.0.0.1)::

    python -m bench.users_per_process                         # 2,000 users, new database
    python -m bench.users_per_process --users 500 --db cti_bench --keep

One real ``odoo-bin --load=base,web,cti_connector`` server (threaded, ``max_users`` raised
above the count) against the lab Kamailio with one subscriber per user (more shared memory
and ``tcp_max_connections`` than the tests' lab, see ``odoo_lab.BigKamailio``). It measures:

- the time from logging every user in (``session_wanted`` and ``NOTIFY cti_session``, as
  ``/cti/login`` does) until every account's committed session state is READY;
- how long the server then stays busy (below 5 % of a core over 2 s), preparing each user's
  screen pops (their access rights, computed and cached once);
- the resident memory the server gained (VmRSS after minus before, over the users);
- CPU at idle over ``--idle`` seconds (30 by default: every agent sends a keepalive ping
  every 25 s), of the server and of Kamailio, in % of one core;
- the screen-pop latency (SIPp INVITE to committed RINGING, as in screen_pop_latency.py) of
  single calls placed one after another while all users are connected.
"""

import argparse
import contextlib
import random
import tempfile
import time
from pathlib import Path

from bench import odoo_lab
from bench.odoo_lab import percentile

TARGET_KIB_PER_USER = 512


def wait_settled(pid, below_percent=5.0, window_s=2.0, timeout=300.0):
    """Seconds until the server used less than ``below_percent`` of a core over a window."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        before = odoo_lab.cpu_seconds(pid)
        time.sleep(window_s)
        if (odoo_lab.cpu_seconds(pid) - before) / window_s * 100 < below_percent:
            return time.monotonic() - start - window_s
    raise TimeoutError(f"the server stayed busy for {timeout:.0f} s")


def status_field(pid, name):
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--db", help="database to use (created if missing)")
    parser.add_argument("--keep", action="store_true", help="keep a database this run created")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU sampling")
    parser.add_argument("--calls", type=int, default=20, help="single calls while connected")
    parser.add_argument("--run-dir", help="keep logs here (default: a temporary directory)")
    args = parser.parse_args()
    count = args.users
    db = args.db or f"cti_bench_{random.randrange(10**6)}"  # noqa: S311
    created = odoo_lab.prepare_database(db, count)
    rows = []
    with contextlib.ExitStack() as stack:
        run_dir = args.run_dir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="cti-users-")
        )
        pbx = odoo_lab.BigKamailio(
            run_dir,
            users={odoo_lab.extension(i): odoo_lab.SIP_PASSWORD for i in range(count)},
        )
        server = odoo_lab.OdooServer(run_dir, db, max_users=count + 100, log_level="warn")
        sipp = listener = None
        try:
            pbx.start()
            odoo_lab.point_at(db, pbx)
            partner_ids = odoo_lab.bench_partner_ids(db, count)
            server.start()
            pid = server.proc.pid
            time.sleep(3)
            rss_before = odoo_lab.rss_kib(pid)
            threads_before = status_field(pid, "Threads")
            load_start = odoo_lab.load()
            start = time.monotonic()
            odoo_lab.want_sessions(db, count)
            half = None
            while True:
                ready = odoo_lab.ready_count(db)
                if half is None and ready >= count / 2:
                    half = time.monotonic() - start
                if ready >= count:
                    break
                if time.monotonic() - start > 600:
                    raise TimeoutError(f"only {ready} of {count} READY after 600 s")
                time.sleep(0.25)
            all_ready = time.monotonic() - start
            rows.append((f"{count} users: time until half READY", f"{half:.1f} s", load_start))
            rows.append((f"{count} users: time until all READY", f"{all_ready:.1f} s", load_start))
            # Each READY queues the one-time preparation of the user's screen pops (their
            # access rights, ~3 ms each) behind the log lane: idle is measured after it.
            settled = wait_settled(pid)
            rows.append(("then busy preparing screen pops", f"{settled:.1f} s", odoo_lab.load()))
            rss_after = odoo_lab.rss_kib(pid)
            per_user = (rss_after - rss_before) / count
            rows.append(
                (
                    "server RSS before / after",
                    f"{rss_before / 1024:.0f} / {rss_after / 1024:.0f} MiB",
                    odoo_lab.load(),
                )
            )
            rows.append(
                (
                    "RSS per user (target < 512 KiB)",
                    f"{per_user:.0f} KiB ({per_user / TARGET_KIB_PER_USER:.2f} of target)",
                    odoo_lab.load(),
                )
            )
            rows.append(
                (
                    "server threads / open files",
                    f"{status_field(pid, 'Threads')} (was {threads_before}) / "
                    f"{len(list(Path(f'/proc/{pid}/fd').iterdir()))}",
                    odoo_lab.load(),
                )
            )
            cpu_server, cpu_pbx = odoo_lab.cpu_seconds(pid), odoo_lab.cpu_seconds(pbx.proc.pid)
            time.sleep(args.idle)
            idle_server = (odoo_lab.cpu_seconds(pid) - cpu_server) / args.idle * 100
            idle_pbx = (odoo_lab.cpu_seconds(pbx.proc.pid) - cpu_pbx) / args.idle * 100
            idle_load = odoo_lab.load()
            rows.append(
                (f"CPU at idle over {args.idle:.0f} s, odoo-bin", f"{idle_server:.2f} %", idle_load)
            )
            rows.append(
                (f"CPU at idle over {args.idle:.0f} s, Kamailio", f"{idle_pbx:.2f} %", idle_load)
            )
            still = odoo_lab.ready_count(db)
            rows.append(("users still READY after the idle period", f"{still}", idle_load))

            # single calls while everyone is connected
            sipp = odoo_lab.Sipp(run_dir, pbx)
            targets = random.sample(sorted(partner_ids), args.calls)
            sipp.desk_phones(targets)
            listener = odoo_lab.ImbusListener(db).start()
            latencies = []
            for number, ext in enumerate(targets):
                time.sleep(0.5)
                since_id, since_time = odoo_lab.last_bus_id(db), time.time()
                label = f"single-{number}"
                sipp.call([ext], 1.0, label).wait(60)
                time.sleep(0.3)
                sent = sipp.invite_times(label)
                done = odoo_lab.ringing_commit_times(
                    db, listener, [partner_ids[ext]], since_id, since_time
                )
                if ext in sent and partner_ids[ext] in done:
                    latencies.append((done[partner_ids[ext]][1] - sent[ext]) * 1000)
            rows.append(
                (
                    f"RINGING latency, {len(latencies)} single calls, p50 / p99 / max",
                    f"{percentile(latencies, 0.5):.1f} / {percentile(latencies, 0.99):.1f} / "
                    f"{max(latencies, default=float('nan')):.1f} ms",
                    odoo_lab.load(),
                )
            )
        finally:
            if listener is not None:
                listener.stop()
            server.stop()
            if sipp is not None:
                sipp.stop()
            pbx.stop()
    if created and not args.keep:
        odoo_lab.drop_database(db)
    print()
    print(f"{count} CTI users in one odoo-bin (threaded) against the lab Kamailio")
    print()
    odoo_lab.print_table(["measure", "value", "load (1/5/15 min)"], rows)


if __name__ == "__main__":
    main()
