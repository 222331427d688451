"""The demo behind ``tools/run``: a PBX, desk phones and Odoo with the addon, on this machine.

``python -m tools.demo up ODOO_DIR`` starts everything and stays in the foreground until
Ctrl-C; ``python -m tools.demo call 1001`` places a simulated inbound call to a demo user
while the demo runs.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import lab
from lab.odoo import OdooServer, odoo_argv

REPO = Path(__file__).resolve().parent.parent

RUN_DIR = REPO / "var" / "demo"
STATE = RUN_DIR / "state.json"
DATABASE = os.environ.get("CTI_DEMO_DB", "cti_demo")
HTTP_PORT = int(os.environ.get("CTI_DEMO_PORT", "8069"))
DOMAIN = "pbx.test"
# Must match demo/cti_demo.xml: Odoo login, password, extension, SIP password.
USERS = [("alice", "alice", "1001", "sip1001"), ("bob", "bob", "1002", "sip1002")]


def say(text):
    print(f"[cti] {text}", flush=True)


def psql(database, sql, **variables):
    """Run ``sql`` with psql, passing values as psql variables (quoted by psql, :'name')."""
    argv = ["psql", "-h", "127.0.0.1", "-qAt", "-d", database]
    for name, value in variables.items():
        argv += ["-v", f"{name}={value}"]
    return subprocess.run(argv, input=sql, capture_output=True, text=True, check=True).stdout


def database_exists():
    return psql("postgres", "SELECT 1 FROM pg_database WHERE datname = :'db';", db=DATABASE)


def keep_far_end_answering(sipp, stop):
    """The PSTN far end: answers every outbound call after 2 s of ringing, one at a time."""
    while not stop.is_set():
        run = sipp.uas("answer", ring_s=2, timeout_s=3600)
        while run.running() and not stop.is_set():
            time.sleep(0.5)
        run.stop()


def _interrupt(_signum, _frame):
    raise KeyboardInterrupt


def up(odoo_dir):
    signal.signal(signal.SIGTERM, _interrupt)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    log = RUN_DIR / "odoo.log"
    # A new checkout may bring new fields: an existing demo database is updated first.
    exists = database_exists().strip()
    say(f"{'updating' if exists else 'creating'} the demo database {DATABASE} (about a minute)")
    subprocess.run(
        odoo_argv(
            odoo_dir,
            DATABASE,
            "-u" if exists else "-i",
            "cti_connector",
            "--stop-after-init",
            f"--logfile={log}",
        ),
        check=True,
    )

    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        sipp = lab.SippFactory(RUN_DIR)
        stack.callback(sipp.stop)
        kamailio = lab.Kamailio(
            RUN_DIR, users={ext: pw for _, _, ext, pw in USERS}, domain=DOMAIN, gateway=sipp.gateway
        )
        stack.enter_context(kamailio)
        for _, _, extension, password in USERS:
            phone = lab.Baresip(RUN_DIR, extension, password, kamailio, auto_answer=True)
            stack.enter_context(phone)
            phone.wait_registered()
        threading.Thread(target=keep_far_end_answering, args=(sipp, stop), daemon=True).start()
        stack.callback(stop.set)

        psql(
            DATABASE,
            "UPDATE cti_pbx SET ws_url = :'url', domain = :'domain' WHERE id IN "
            "(SELECT res_id FROM ir_model_data WHERE module = 'cti_connector' "
            "AND name = 'demo_pbx');",
            url=kamailio.ws_url,
            domain=DOMAIN,
        )
        STATE.write_text(json.dumps({"sip_port": kamailio.sip_port, "domain": DOMAIN}))
        stack.callback(STATE.unlink, missing_ok=True)

        odoo = OdooServer(RUN_DIR, DATABASE, odoo_dir, http_port=HTTP_PORT, crons=True)
        stack.enter_context(odoo)
        try:
            odoo.wait_http()
        except lab.LabError as exc:
            raise SystemExit(str(exc)) from None
        print(
            f"""
  Odoo         http://127.0.0.1:{HTTP_PORT}/odoo   (database {DATABASE})
  Logins       admin / admin (CTI manager), alice / alice (extension 1001), bob / bob (1002)
  PBX          {kamailio.ws_url} (Kamailio, SIP domain {DOMAIN}, UDP {kamailio.sip_port})
  Desk phones  baresip for 1001 and 1002, answering automatically
  Inbound call ./tools/call 1001        (SIPp calls alice from +49 30 1234567)
  Logs         {RUN_DIR}
  Ctrl-C stops everything.
""",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            odoo.proc.wait()
        say("stopping")


def call(extension, caller="+49301234567", talk_s=20.0):
    if not STATE.exists():
        raise SystemExit("The demo is not running: start it with ./tools/run first.")
    state = json.loads(STATE.read_text())
    kamailio = types.SimpleNamespace(sip_port=state["sip_port"], domain=state["domain"])
    sipp = lab.SippFactory(RUN_DIR / "calls")
    say(f"calling {extension} from {caller}; the caller hangs up {talk_s:.0f} s after the answer")
    run = sipp.uac(kamailio, extension, caller=caller, talk_s=talk_s, timeout_s=talk_s + 60)
    code = run.wait(timeout=talk_s + 90)
    say("call finished" if code == 0 else f"SIPp exited with {code}; see {sipp.run_dir}")
    return code


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "up":
        up(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "call":
        sys.exit(call(sys.argv[2]))
    else:
        raise SystemExit("usage: demo.py up ODOO_DIR | demo.py call EXTENSION")
