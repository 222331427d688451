"""Colleagues' line states for many users: the time from a colleague's RINGING leaving the
engine to the bus notification every watcher of the company gets being committed and
announced (``NOTIFY imbus``), through the service host's real push lane.

Run from the repository root with the test venv, on a database with the module installed
(``screen_pop_latency.py --keep`` leaves one; this creates the users it lacks)::

    python -m bench.line_state_fanout --db cti_bench
    python -m bench.line_state_fanout --db cti_bench --users 500 --gap-ms 20

All ``--users`` CTI users are in one company, so each is a watcher of every other: one
line change is one bus row on the company's channel, read by each watcher's websocket.
Each user gets an inbound call's RINGING, then its CANCEL: first one user every
``--gap-ms`` ms (calls coming in through the day), then all of them at once (a burst);
it prints, for each, p50/p99/max of the time from the RINGING entering the push queue (as
the engine emits it) to the NOTIFY of the company channel that carries it, and the bus rows
written per line change. The rows it writes are deleted at the end.
"""

import argparse
import json
import threading
import time
import uuid

from bench import odoo_lab
from bench.odoo_lab import inbound_event, percentile


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--gap-ms", type=float, default=20.0, help="between spaced calls")
    args = parser.parse_args()

    odoo_lab.prepare_database(args.db, args.users)
    registry = odoo_lab.odoo_registry(args.db)
    from odoo import SUPERUSER_ID, api
    from odoo.addons.cti_connector.service.config import ServiceConfig
    from odoo.addons.cti_connector.service.host import ServiceHost

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        accounts = env["cti.account"].search([("user_id.login", "=like", "cti_bench_%")])
        accounts = accounts[: args.users]
        accounts.pbx_id.share_line_states = True
        # one company: everybody watches everybody
        company = env.ref("base.main_company")
        accounts.company_id = company
        users = [(a.user_id.id, a.username) for a in accounts]
        watchers = len(users)
    channel = (args.db, "res.company", company.id, "cti_line")
    tag = uuid.uuid4().hex[:8]

    # The service host's push lane and log lane, fed as its agents would feed them.
    host = ServiceHost(args.db, ServiceConfig(), reactor=None)
    lanes = [
        threading.Thread(target=host.push_lane.run, daemon=True),
        threading.Thread(target=host.log_lanes.run, args=(0,), daemon=True),
    ]
    for lane in lanes:
        lane.start()
    listener = odoo_lab.ImbusListener(args.db).start()

    def run(label, gap):
        """Every user's RINGING (``gap`` seconds apart), then their CANCEL; the seconds from
        each RINGING entering the queue to the first NOTIFY of the company channel after."""
        listener.received.clear()
        first_bus_id = odoo_lab.last_bus_id(args.db)
        queued = {}  # call id -> wall-clock time its RINGING entered the queue
        for user_id, extension in users:
            call_id = f"{tag}-{label}-{user_id}"
            queued[call_id] = time.time()
            host.push_lane.events.put(
                (user_id, inbound_event("RINGING", call_id, extension), "ready", time.monotonic())
            )
            if gap:
                time.sleep(gap)
        for user_id, extension in users:
            payload = inbound_event("CANCEL", f"{tag}-{label}-{user_id}", extension)
            host.push_lane.events.put((user_id, payload, "ready", time.monotonic()))
        channel_json = json.dumps(list(channel), separators=(",", ":"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = odoo_lab.sql(
                args.db,
                "SELECT message, create_date FROM bus_bus WHERE id > %s AND channel = %s "
                "ORDER BY id",
                (first_bus_id, channel_json),
            )
            if len(rows) >= 2 * len(users):
                break
            time.sleep(0.2)
        time.sleep(0.5)  # the last NOTIFY
        # Each push transaction with line rows sends one NOTIFY naming the company channel
        # once, in commit order; its rows share their create_date (the transaction's start).
        notified = [when for when, ch in listener.received if ch == channel]
        latencies = []
        transaction = -1
        last_start = None
        for message, created in rows:
            if created != last_start:
                transaction += 1
                last_start = created
            event = json.loads(message)["payload"]["event"] or {}
            call_id = (event.get("call") or {}).get("id")
            if event.get("name") == "RINGING" and call_id in queued and transaction < len(notified):
                latencies.append(notified[transaction] - queued[call_id])
        line_rows = len(rows)
        return latencies, line_rows

    results = []
    # warm the registry's caches, as a running service has them
    run("warm", 0)
    for label, gap in (("spaced", args.gap_ms / 1000), ("burst", 0)):
        latencies, line_rows = run(label, gap)
        results.append((label, latencies, line_rows))

    host.push_lane.stop()
    host.log_lanes.stop()
    for lane in lanes:
        lane.join(60)
    listener.stop()
    with registry.cursor() as cr:
        cr.execute("DELETE FROM cti_call WHERE sip_call_id LIKE %s", (f"%{tag}%",))
        cr.execute("DELETE FROM bus_bus WHERE message LIKE %s", (f"%{tag}%",))
        cr.execute("DELETE FROM cti_line_state WHERE user_id = ANY(%s)", ([u for u, _e in users],))

    print(f"{len(users)} CTI users in one company, each watching the {watchers - 1} others")
    odoo_lab.print_table(
        ["calls", "RINGING", "p50 ms", "p99 ms", "max ms", "line rows/change", "load"],
        [
            [label, len(lat), f"{percentile(lat, 0.5) * 1000:.1f}",
             f"{percentile(lat, 0.99) * 1000:.1f}", f"{max(lat) * 1000:.1f}",
             f"{rows / (2 * len(users)):.2f}", odoo_lab.load()]
            for label, lat, rows in results
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
