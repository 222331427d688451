"""Odoo servers: the one way the system tests, the benchmarks and the demo find the Odoo tree
and start ``odoo-bin`` serving this checkout as ``cti_connector``.

(``tools/odoo_tests`` runs Odoo's own test runner once, from the shell; it starts no server.)
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import zlib
from pathlib import Path

from .common import LabError, free_port, wait_until

REPO = Path(__file__).resolve().parent.parent
DB_HOST = os.environ.get("PGHOST", "127.0.0.1")
# What every lab server has in its configuration file: the service looks at who should be
# logged in every second instead of every five, so tests and benchmarks wait less.
SERVICE_SECTION = "[cti_connector]\nreconcile_interval = 1\n"


def find_odoo_dir():
    """The Odoo tree, found as ``tools/common.sh`` finds it: ``ODOO_PATH``, else the ``odoo``
    package that ``python3`` imports; None when there is none."""
    if os.environ.get("ODOO_PATH"):
        return Path(os.environ["ODOO_PATH"])
    found = subprocess.run(
        [
            "python3",
            "-c",
            "import importlib.util as u, os; s = u.find_spec('odoo'); "
            "print(os.path.dirname(os.path.dirname(s.origin)) if s and s.origin else '')",
        ],
        capture_output=True,
        text=True,
        cwd="/",
        check=False,
    ).stdout.strip()
    return Path(found) if found else None


def addons_path(odoo_dir):
    """Odoo's addons and a folder holding this checkout under the name ``cti_connector``."""
    if REPO.name == "cti_connector":
        return f"{Path(odoo_dir) / 'addons'},{REPO.parent}"
    # One link folder per checkout: another checkout's link would load its code, not ours.
    link_dir = Path(f"/tmp/cti_addons_{zlib.crc32(str(REPO).encode()):08x}")
    link_dir.mkdir(exist_ok=True)
    link = link_dir / "cti_connector"
    if not link.exists():
        link.symlink_to(REPO)
    return f"{Path(odoo_dir) / 'addons'},{link_dir}"


def odoo_argv(odoo_dir, db, *options, addons=None):
    """``odoo-bin`` on database ``db`` with this checkout's addon, then ``options``."""
    return [
        sys.executable,
        str(Path(odoo_dir) / "odoo-bin"),
        f"--addons-path={addons or addons_path(odoo_dir)}",
        f"--db_host={DB_HOST}",
        "-d",
        db,
        *options,
    ]


class OdooServer:
    """``odoo-bin`` serving ``db`` alone, with the CTI service (``--load=base,web,cti_connector``).

    :param name: names its configuration file and log in ``run_dir``
    :param service: more lines of the ``[cti_connector]`` section (``max_users = 10``)
    :param options: more ``odoo-bin`` options (``--workers=2``)
    :param crons: run Odoo's scheduled actions (the demo does; tests measure without them)
    """

    def __init__(  # noqa: PLR0913 - each is a setting of the server
        self,
        run_dir,
        db,
        odoo_dir,
        name="odoo",
        addons=None,
        http_port=None,
        service="",
        options=(),
        crons=False,
    ):
        self.run_dir = Path(run_dir)
        self.db = db
        self.odoo_dir = odoo_dir
        self.name = name
        self.addons = addons
        self.http_port = http_port or free_port("tcp")
        self.service = service
        self.options = list(options)
        self.crons = crons
        self.log_path = self.run_dir / f"{name}.log"
        self.proc = None

    def argv(self):
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / f"{self.name}.conf"
        config.write_text(f"[options]\n\n{SERVICE_SECTION}{self.service}")
        return odoo_argv(
            self.odoo_dir,
            self.db,
            "-c",
            str(config),
            "--db-filter",
            f"^{self.db}$",
            "--load=base,web,cti_connector",
            "--http-interface=127.0.0.1",
            f"--http-port={self.http_port}",
            f"--logfile={self.log_path}",
            *([] if self.crons else ["--max-cron-threads=0"]),
            *self.options,
            addons=self.addons,
        )

    def start(self):
        self.proc = subprocess.Popen(self.argv(), start_new_session=True, stdin=subprocess.DEVNULL)
        return self

    def poll(self):
        """None while the server runs, else its exit code (as ``Popen.poll``)."""
        return self.proc.poll()

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _alive(self):
        if self.poll() is not None:
            raise LabError(f"Odoo exited with {self.proc.returncode}; see {self.log_path}")

    def wait_for_log(self, text, timeout=120):
        """Wait until the log says ``text`` (e.g. "CTI service: serving database")."""
        wait_until(
            lambda: self._alive() or text in self.log(), timeout, interval=0.2, what=repr(text)
        )

    def wait_http(self, timeout=120):
        """Wait until the server answers on its HTTP port."""

        def answers():
            self._alive()
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.http_port)) == 0

        wait_until(answers, timeout, interval=0.5, what=f"Odoo on port {self.http_port}")

    def pids(self):
        """The server's process and its children (prefork workers)."""
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return {self.proc.pid, *(int(pid) for pid in out.split())}

    def stop(self, grace=15.0):
        """Stop the way an operator does (SIGTERM), killing it after ``grace`` seconds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        """Die at once, as a crashed server does (SIGKILL to the whole process group)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
