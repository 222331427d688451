"""What the Odoo-level benchmarks share: a database with many CTI users, a real odoo-bin
server running the CTI service, the lab Kamailio sized for thousands of WebSockets, SIPp desk
phones for many users, and a listener that records when bus notifications are committed.

Not a benchmark itself; ``screen_pop_latency.py`` and ``users_per_process.py`` import it.
"""

import contextlib
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
import psycopg2.extensions

import lab
from lab import odoo as lab_odoo

ODOO_DIR = lab_odoo.find_odoo_dir() or Path("/opt/odoo18")
DB_HOST = lab_odoo.DB_HOST
BENCH_SIPP = Path(__file__).resolve().parent / "sipp"
FIRST_EXTENSION = 3000
SIP_PASSWORD = "bench-secret"  # noqa: S105 - the lab PBX's test accounts
# The caller id of every benchmark call: Spree Logistik GmbH of the demo data, so the
# caller lookup finds a contact, as for most real screen pops.
CALLER = "+49301234567"
EVENT = "cti_connector/event"


def load():
    with open("/proc/loadavg", encoding="ascii") as fh:
        return " ".join(fh.read().split()[:3])


def extension(index):
    return str(FIRST_EXTENSION + index)


def addons_path():
    return lab_odoo.addons_path(ODOO_DIR)


def odoo_argv(db, *options):
    return lab_odoo.odoo_argv(ODOO_DIR, db, *options)


def odoo_registry(db):
    """Odoo imported into this process, configured as the lab's servers are, and the
    registry of ``db``: for benchmarks that call the models without a server."""
    sys.path.insert(0, str(ODOO_DIR))
    import odoo  # noqa: PLC0415 - found only now
    from odoo.modules.registry import Registry  # noqa: PLC0415

    odoo.tools.config.parse_config([f"--addons-path={addons_path()}", f"--db_host={DB_HOST}"])
    return Registry(db)


def inbound_event(name, call_id, extension):
    """The event ``name`` of an inbound call from CALLER to ``extension``, as an agent
    reports it."""
    return {
        "name": name,
        "call": {
            "id": call_id,
            "cid": f"{call_id}@bench",
            "direction": "INBOUND",
            "source": CALLER,
            "sourceName": "",
            "destination": extension,
            "destinationName": "",
            "status": name,
            "cause": "",
        },
    }


def sql(db, query, params=()):
    with psycopg2.connect(dbname=db, host=DB_HOST) as cnx, cnx.cursor() as cr:
        cr.execute(query, params)
        return cr.fetchall() if cr.description else None


def database_exists(db):
    rows = sql("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", (db,))
    return bool(rows)


def drop_database(db):
    cnx = psycopg2.connect(dbname="postgres", host=DB_HOST)
    cnx.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    with cnx.cursor() as cr:
        cr.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    cnx.close()


USERS_SCRIPT = """
import sys
count, first, password = {count}, {first}, {password!r}
Users = env["res.users"].with_context(
    no_reset_password=True, mail_create_nolog=True, tracking_disable=True, active_test=False
)
groups = [env.ref("base.group_user").id, env.ref("cti_connector.group_cti_user").id]
pbx = env.ref("cti_connector.demo_pbx")
have = set(Users.search([("login", "=like", "cti_bench_%")]).mapped("login"))
missing = [i for i in range(count) if f"cti_bench_{{i}}" not in have]
for start in range(0, len(missing), 250):
    chunk = missing[start:start + 250]
    users = Users.create([
        {{"name": f"Bench User {{i}}", "login": f"cti_bench_{{i}}", "groups_id": [(6, 0, groups)]}}
        for i in chunk
    ])
    env["cti.account"].create([
        {{"user_id": user.id, "pbx_id": pbx.id, "username": str(first + i), "password": password}}
        for i, user in zip(chunk, users)
    ])
    env.cr.commit()
    print("created", start + len(chunk), "of", len(missing), flush=True)
"""


def prepare_database(db, users):
    """Install the module (demo data) into ``db`` if needed and give it ``users`` CTI users
    ``cti_bench_<i>`` with extensions 3000 + i. Returns True if the database was created."""
    created = False
    if not database_exists(db):
        print(f"installing cti_connector into a new database {db} (a few minutes)...", flush=True)
        subprocess.run(
            odoo_argv(db, "-i", "cti_connector", "--stop-after-init", "--log-level=warn"),
            check=True,
        )
        created = True
    have = sql(db, "SELECT count(*) FROM res_users WHERE login LIKE 'cti_bench_%%'")[0][0]
    if have < users:
        print(f"creating {users - have} CTI users...", flush=True)
        script = USERS_SCRIPT.format(count=users, first=FIRST_EXTENSION, password=SIP_PASSWORD)
        argv = odoo_argv(db, "--log-level=warn", "--no-http")
        subprocess.run(
            [*argv[:2], "shell", *argv[2:]],
            input=script,
            text=True,
            check=True,
        )
    return created


def bench_partner_ids(db, count):
    """{extension: partner id} of the first ``count`` benchmark users (a user's bus channel
    is their partner once ``mail`` is installed)."""
    rows = sql(
        db,
        "SELECT a.username, u.partner_id FROM cti_account a JOIN res_users u "
        "ON u.id = a.user_id WHERE u.login LIKE 'cti_bench_%%' AND a.username::int < %s",
        (FIRST_EXTENSION + count,),
    )
    return dict(rows)


def point_at(db, pbx):
    """Every account at the lab PBX; nobody logged in to the CTI yet."""
    sql(db, "UPDATE cti_pbx SET ws_url = %s, domain = %s", (pbx.ws_url, pbx.domain))
    sql(db, "UPDATE cti_account SET session_wanted = false, session_state = 'logged_out'")


def want_sessions(db, count):
    """Log the first ``count`` benchmark users in to the CTI, as /cti/login does."""
    sql(
        db,
        "UPDATE cti_account SET session_wanted = true WHERE username::int >= %s "
        "AND username::int < %s AND user_id IN "
        "(SELECT id FROM res_users WHERE login LIKE 'cti_bench_%%')",
        (FIRST_EXTENSION, FIRST_EXTENSION + count),
    )
    sql(db, "NOTIFY cti_session")


def ready_count(db):
    return sql(
        db, "SELECT count(*) FROM cti_account WHERE session_wanted AND session_state = 'ready'"
    )[0][0]


# -- Kamailio sized for thousands of WebSockets ------------------------------------------


class BigKamailio(lab.Kamailio):
    """The lab Kamailio with more shared/private memory and more TCP connections allowed.

    The configuration is the lab's own, copied into the run directory with
    ``tcp_max_connections`` added (Kamailio's default, 2048, is about what 2,000 agents use);
    nothing the tests rely on changes."""

    def __init__(self, run_dir, shm_mb=512, pkg_mb=32, tcp_max=8192, **kwargs):
        cfg = Path(run_dir) / "kamailio-bench.cfg"
        cfg.parent.mkdir(parents=True, exist_ok=True)
        text = lab.KAMAILIO_CFG.read_text()
        text = text.replace(
            "tcp_accept_no_cl=yes",
            f"tcp_accept_no_cl=yes\ntcp_max_connections={tcp_max}",
            1,
        )
        cfg.write_text(text)
        super().__init__(run_dir, cfg=cfg, **kwargs)
        self.shm_mb, self.pkg_mb = shm_mb, pkg_mb

    def argv(self):
        argv = super().argv()
        argv[argv.index("-m") + 1] = str(self.shm_mb)
        argv[argv.index("-M") + 1] = str(self.pkg_mb)
        return argv


# -- the Odoo server ---------------------------------------------------------------------


class OdooServer(lab_odoo.OdooServer):
    """The lab's Odoo server (threaded) on the benchmark database, started once the CTI
    service serves it."""

    def __init__(self, run_dir, db, max_users=2500, log_level="info", debug_host=False):
        options = [
            f"--log-level={log_level}",
            # the line start() waits for, whatever the level
            "--log-handler=odoo.addons.cti_connector.service.runner:INFO",
        ]
        if debug_host:
            # the service host's DEBUG lines: each push transaction, its size and its waits
            options.append("--log-handler=odoo.addons.cti_connector.service.host:DEBUG")
        super().__init__(
            run_dir,
            db,
            ODOO_DIR,
            service=f"max_users = {max_users}\ndatabases = {db}\n",
            options=options,
        )

    def start(self, timeout=120):
        super().start()
        self.wait_for_log("CTI service: serving database", timeout)
        return self


def rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """User + system CPU of ``pid`` and of every process whose parent is ``pid``."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc").iterdir():
        if not task.name.isdigit():
            continue
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(task.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def thread_cpu(pid):
    """{thread name: CPU seconds} of one process."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


# -- when bus notifications are committed --------------------------------------------------


class ImbusListener:
    """``LISTEN imbus`` on the ``postgres`` database, where Odoo's bus sends ``NOTIFY imbus``
    right after a transaction holding bus notifications commits. Records (wall-clock time,
    channel) for each channel of our database."""

    def __init__(self, db):
        self.db = db
        self.received = []  # (time.time(), channel tuple)
        self._stop = threading.Event()
        self._cnx = psycopg2.connect(dbname="postgres", host=DB_HOST)
        self._cnx.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with self._cnx.cursor() as cr:
            cr.execute("LISTEN imbus")
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        cnx = self._cnx
        while not self._stop.is_set():
            if select.select([cnx], [], [], 0.2)[0]:
                cnx.poll()
                now = time.time()
                while cnx.notifies:
                    note = cnx.notifies.pop(0)
                    for channel in json.loads(note.payload):
                        if channel and channel[0] == self.db:
                            self.received.append((now, tuple(channel)))

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self._cnx.close()


def last_bus_id(db):
    return sql(db, "SELECT coalesce(max(id), 0) FROM bus_bus")[0][0]


def ringing_commit_times(db, listener, partner_ids, since_bus_id, since_time):
    """{partner id: (start of the transaction that wrote the user's first RINGING, moment
    it was committed)}, wall-clock times.

    The start is the bus rows' ``create_date`` (Odoo's ``cr.now()``, PostgreSQL's
    transaction timestamp), which also tells the rows of one transaction apart: each commit
    sends one imbus notification naming each of its channels once, so the n-th notification
    of a user's channel after ``since_time`` is the n-th transaction with rows for that
    channel after ``since_bus_id``."""
    rows = sql(
        db,
        "SELECT channel, message, extract(epoch FROM create_date AT TIME ZONE 'UTC') "
        "FROM bus_bus WHERE id > %s ORDER BY id",
        (since_bus_id,),
    )
    transactions = {}  # partner id -> [(start, [event names])]
    for channel_json, message, created in rows:
        channel = json.loads(channel_json)
        if len(channel) != 3 or channel[1] != "res.partner":
            continue
        body = json.loads(message)
        name = (body.get("payload") or {}).get("name") if body.get("type") == EVENT else None
        mine = transactions.setdefault(channel[2], [])
        if not mine or mine[-1][0] != float(created):
            mine.append((float(created), []))
        if name:
            mine[-1][1].append(name)
    notified = {}
    for when, channel in listener.received:
        if when >= since_time and len(channel) == 3 and channel[1] == "res.partner":
            notified.setdefault(channel[2], []).append(when)
    out = {}
    for partner_id in partner_ids:
        times = notified.get(partner_id, [])
        for index, (start, names) in enumerate(transactions.get(partner_id, [])):
            if "RINGING" in names:
                if index < len(times):
                    out[partner_id] = (start, times[index])
                break
    return out


# -- SIPp: desk phones for many users, and the PSTN calling them ---------------------------


class Sipp:
    """SIPp runs for the benchmarks, each logging into ``run_dir``."""

    def __init__(self, run_dir, pbx):
        self.binary = lab.require_binary("sipp")
        self.dir = Path(run_dir) / "sipp"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pbx = pbx
        self.procs = []

    def _spawn(self, label, scenario, port, extra):
        argv = [
            self.binary,
            "-sf",
            str(scenario),
            "-i",
            lab.LOOPBACK,
            "-p",
            str(port),
            "-nostdin",
            "-trace_err",
            "-error_file",
            str(self.dir / f"{label}.errors.log"),
            "-mp",
            str(lab.free_port("udp")),
            *extra,
        ]
        log = open(self.dir / f"{label}.out", "ab")  # noqa: SIM115 - closed by the OS at exit
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        self.procs.append(proc)
        return proc

    def desk_phones(self, extensions, timeout=120):
        """One SIPp UAS that is the registered phone of every extension: it rings (180) and
        waits for the caller's CANCEL. Returns once every extension is registered."""
        port = lab.free_port("udp")
        self._spawn(
            "phones",
            lab.SIPP_DIR / "uas_noanswer.xml",
            port,
            ["-max_socket", "1024"],
        )
        lab.wait_until(lambda: lab._udp_port_bound(port), 10, what="the desk phone SIPp")  # noqa: SLF001
        users = self.dir / "register.csv"
        users.write_text(
            "SEQUENTIAL\n"
            + "".join(
                f"{ext};[authentication username={ext} password={SIP_PASSWORD}]\n"
                for ext in extensions
            )
        )
        count = len(extensions)
        proc = self._spawn(
            "register",
            BENCH_SIPP / "register_inf.xml",
            lab.free_port("udp"),
            [
                "-inf",
                str(users),
                "-key",
                "domain",
                self.pbx.domain,
                "-key",
                "contact_port",
                str(port),
                "-key",
                "expires",
                "3600",
                "-m",
                str(count),
                "-r",
                "200",
                "-l",
                "100",
                "-timeout",
                f"{timeout}s",
                f"{lab.LOOPBACK}:{self.pbx.sip_port}",
            ],
        )
        code = proc.wait(timeout + 10)
        if code != 0:
            raise lab.LabError(f"registering {count} desk phones failed (sipp exit {code})")
        return port

    def call(self, extensions, ring_s, label, rate_per_s=1000):
        """Place one call to each extension, all at once (up to ``rate_per_s`` new calls per
        second); each rings ``ring_s`` seconds and is then cancelled. Returns the SIPp
        process; its message trace is ``<label>.messages.log``."""
        targets = self.dir / f"{label}.csv"
        targets.write_text("SEQUENTIAL\n" + "".join(f"{ext}\n" for ext in extensions))
        for _attempt in range(5):
            proc = self._spawn_caller(label, targets, len(extensions), ring_s, rate_per_s)
            with contextlib.suppress(subprocess.TimeoutExpired):
                # SIPp quits at once when its random media port (-mp) is taken: try another
                if proc.wait(0.3) != 0 and not self.invite_times(label):
                    continue
            return proc
        raise lab.LabError(f"SIPp could not start placing calls: see {self.dir}")

    def _spawn_caller(self, label, targets, count, ring_s, rate_per_s):
        return self._spawn(
            label,
            BENCH_SIPP / "uac_ring_inf.xml",
            lab.free_port("udp"),
            [
                "-inf",
                str(targets),
                "-key",
                "caller",
                CALLER,
                "-key",
                "domain",
                self.pbx.domain,
                "-set",
                "ring_ms",
                str(int(ring_s * 1000)),
                "-m",
                str(count),
                "-l",
                str(count),
                "-r",
                str(rate_per_s),
                "-trace_msg",
                "-message_file",
                str(self.dir / f"{label}.messages.log"),
                "-timeout",
                f"{int(ring_s + 60)}s",
                f"{lab.LOOPBACK}:{self.pbx.sip_port}",
            ],
        )

    def invite_times(self, label):
        """{extension: wall-clock time SIPp sent the INVITE}, from SIPp's message trace,
        whose separator line carries the send time in local time
        (``----- 2026-11-21 03:13:25.959322``)."""
        path = self.dir / f"{label}.messages.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        out = {}
        pattern = re.compile(
            r"-{20,} (\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d)\.(\d{6})[^\n]*\n"
            r"UDP message sent \(\d+ bytes\):\s*\n\s*INVITE sip:([^@\s]+)@"
        )
        for match in pattern.finditer(text):
            day, clock, micro, ext = match.groups()
            when = time.mktime(time.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S"))
            out.setdefault(ext, when + int(micro) / 1e6)
        return out

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def print_table(header, rows):
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(str(cell).ljust(width) for cell, width in zip(header, widths, strict=True))
    print(line)
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
