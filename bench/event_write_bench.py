"""The service host's two writer lanes on their own: how long pushing an engine event to the
browsers takes (the push lane: caller lookup, bus row, commit) and how long logging it takes
(the log lane: call log, chatter).

Run from the repository root with the test venv, on a database with the module installed and
benchmark users (``screen_pop_latency.py --keep`` leaves one)::

    python -m bench.event_write_bench --db cti_bench
    python -m bench.event_write_bench --db cti_bench --batch 50
    python -m bench.event_write_bench --db cti_bench --profile   # plus a cProfile top 40

For each of ``--calls`` users it pushes, like the host's push lane, an inbound call's
RINGING (caller identified as a demo contact, bus notification) and then its CANCEL, each in
a transaction of its own (or ``--batch`` of them per transaction, as the host pushes a
burst); then it logs them, like the log lane (call row; missed call, chatter message and
"Call back" activity), in this process (no server, no PBX), and prints per-event times
(p50/p99) and events per second for each. The rows it writes are deleted at the end.
"""

import argparse
import cProfile
import io
import pstats
import time
import uuid

from bench import odoo_lab
from bench.odoo_lab import inbound_event, percentile


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--batch", type=int, default=1, help="events per transaction")
    parser.add_argument("--warm", action="store_true", help="one call per user first")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort key")
    args = parser.parse_args()

    registry = odoo_lab.odoo_registry(args.db)
    from odoo import SUPERUSER_ID, api
    from odoo.addons.cti_connector.service.push_memory import PushMemory

    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        accounts = env["cti.account"].search([("user_id.login", "=like", "cti_bench_%")])
        users = [(a.user_id.id, a.username) for a in accounts[: args.calls]]
    tag = uuid.uuid4().hex[:8]

    memory = PushMemory()

    def push_batch(items):
        """Like PushLane._push_batch: the events in one transaction; ms per event."""
        start = time.perf_counter()
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            events = [(user_id, payload, "ready") for user_id, payload in items]
            env["cti.push"]._cti_handle_events(events, memory)
        return [(time.perf_counter() - start) * 1000 / len(items)] * len(items)

    def log_batch(items):
        """Like LogLanes.run_chunk, without the waits for the push lane."""
        start = time.perf_counter()
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            for user_id, payload in items:
                env["cti.call"]._cti_record_event(env["res.users"].browse(user_id), payload)
                env.flush_all()
        return [(time.perf_counter() - start) * 1000 / len(items)] * len(items)

    def write_all(items, write_batch):
        times = []
        for first in range(0, len(items), args.batch):
            times += write_batch(items[first : first + args.batch])
        return times

    # warm the registry's caches (ormcache, prefetch) as a running service has them
    push_batch([(users[0][0], inbound_event("RINGING", f"warm-{tag}", users[0][1]))])
    if args.warm:
        # each user had a call before: their per-user caches (access rights, record rules)
        # are warm, as in a server that has been running for a while
        for user_id, extension in users:
            push_batch([(user_id, inbound_event("RINGING", f"warm-{tag}-{user_id}", extension))])
    profiler = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    ringing = [(uid, inbound_event("RINGING", f"{tag}-{uid}", ext)) for uid, ext in users]
    cancel = [(uid, inbound_event("CANCEL", f"{tag}-{uid}", ext)) for uid, ext in users]
    results = [
        ("push RINGING", write_all(ringing, push_batch)),
        ("push CANCEL", write_all(cancel, push_batch)),
        ("log RINGING", write_all(ringing, log_batch)),
        ("log CANCEL", write_all(cancel, log_batch)),
    ]
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - start

    with registry.cursor() as cr:
        cr.execute("DELETE FROM cti_call WHERE sip_call_id LIKE %s", (f"%{tag}%",))
        cr.execute("DELETE FROM bus_bus WHERE message LIKE %s", (f"%{tag}%",))

    odoo_lab.print_table(
        ["event", "count", "p50 ms", "p99 ms", "events/s", "load"],
        [
            [name, len(times), f"{percentile(times, 0.5):.2f}", f"{percentile(times, 0.99):.2f}",
             f"{1000 / (sum(times) / len(times)):.0f}", odoo_lab.load()]
            for name, times in results
        ],
    )  # fmt: skip
    print(f"{2 * len(users)} events pushed and logged in {elapsed:.2f} s")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(40)
        print(out.getvalue())


if __name__ == "__main__":
    main()
