"""Real-PBX lab: Kamailio + baresip + SIPp on loopback, driven from Python.

Standard library only.  Used by the pytest fixtures in ``tests_engine`` and
by demo scripts.  Every class writes its configuration into a run directory,
picks free 127.0.0.1 ports, waits until the program is ready and always kills
its process group on ``stop()``.

Example::

    from pbx.lab import Baresip, Kamailio, SippFactory

    run = Path("/tmp/run1")
    sipp = SippFactory(run)                      # reserves the gateway port
    with Kamailio(run, users={"1001": "pw1001"}, gateway=sipp.gateway) as pbx:
        with Baresip(run, "1001", "pw1001", pbx) as phone:
            phone.wait_registered()
            caller = sipp.uac(pbx, "1001", talk_s=3)   # SIPp calls 1001
            phone.wait_event("CALL_INCOMING")
            phone.answer()
            assert caller.wait() == 0
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
KAMAILIO_CFG = HERE / "kamailio" / "kamailio.cfg"
SIPP_DIR = HERE / "sipp"
LOOPBACK = "127.0.0.1"

INSTALL_HINT = {
    "kamailio": "apt-get install kamailio kamailio-websocket-modules kamailio-presence-modules",
    "openssl": "apt-get install openssl",
    "baresip": "apt-get install baresip",
    "sipp": "apt-get install sip-tester",
    "kamcmd": "apt-get install kamailio",
}


class LabError(RuntimeError):
    """A lab program failed to start or misbehaved."""


def require_binary(name: str) -> str:
    """Return the absolute path of ``name`` or raise with an install hint."""
    path = shutil.which(name)
    if not path:
        hint = INSTALL_HINT.get(name, "install it")
        raise LabError(f"{name!r} not found on PATH - {hint}")
    return path


def free_port(kind: str = "udp") -> int:
    """A currently free 127.0.0.1 port (``kind`` is "udp" or "tcp")."""
    stype = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, stype) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def free_port_both() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        port = free_port("udp")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise LabError("no port free for both UDP and TCP")


def _udp_port_bound(port: int) -> bool:
    """True if some process has 127.0.0.1:port (UDP) bound (Linux /proc)."""
    wanted = f":{port:04X}"
    try:
        with open("/proc/net/udp", encoding="ascii") as fh:
            for line in fh.readlines()[1:]:
                local = line.split()[1]
                if local.endswith(wanted):
                    return True
    except OSError:
        return False
    return False


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value, else raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class _Managed:
    """A subprocess in its own process group, logging to a file."""

    name = "process"

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self._logfh = None

    def _spawn(self, argv: list[str], log_path: Path, cwd: Path | None = None) -> None:
        self._logfh = open(log_path, "ab")  # noqa: SIM115 - closed in _kill
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._logfh,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _kill(self, grace: float = 3.0) -> None:
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
            # the group may hold children even after the leader has exited
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
        self.proc = None
        if self._logfh is not None:
            self._logfh.close()
            self._logfh = None

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        self._kill()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------
# TLS: a private CA per run
# --------------------------------------------------------------------------

TLS_MODULE_HINT = "apt-get install kamailio-tls-modules"


class TestPki:
    """A private CA and a server certificate for 127.0.0.1 / localhost, made per run.

    Generated with the ``openssl`` CLI so nothing in the lab needs a Python crypto
    package; a fresh CA per run means no test can pass by trusting a system CA by accident.
    """

    def __init__(self, directory: Path | str) -> None:
        self.dir = Path(directory)
        self.ca_cert = self.dir / "ca.crt"
        self.ca_key = self.dir / "ca.key"
        self.server_cert = self.dir / "server.crt"
        self.server_key = self.dir / "server.key"

    def create(self) -> TestPki:
        openssl = require_binary("openssl")
        self.dir.mkdir(parents=True, exist_ok=True)
        ext = self.dir / "server.ext"
        # Python verifies the host name against subjectAltName only (never the CN); the
        # key usages keep strict verifiers (VERIFY_X509_STRICT, Python 3.13+) satisfied.
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid:always\n",
            encoding="ascii",
        )
        ca_ext = "basicConstraints=critical,CA:TRUE"
        steps = [
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=cti_connector test CA", "-keyout", str(self.ca_key),
             "-out", str(self.ca_cert), "-addext", ca_ext,
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            [openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(self.server_key), "-out", str(self.dir / "server.csr")],
            [openssl, "x509", "-req", "-in", str(self.dir / "server.csr"),
             "-CA", str(self.ca_cert), "-CAkey", str(self.ca_key), "-CAcreateserial",
             "-days", "2", "-extfile", str(ext), "-out", str(self.server_cert)],
        ]  # fmt: skip
        for argv in steps:
            out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
            if out.returncode != 0:
                raise LabError(f"openssl failed: {' '.join(argv[:3])}\n{out.stderr}")
        return self


# --------------------------------------------------------------------------
# Kamailio
# --------------------------------------------------------------------------

# db_text table headers (from kamailio's dbtext schema, 5.6)
DBTEXT_TABLES = {
    "subscriber": "id(int,auto) username(string) domain(string) password(string) "
    "ha1(string) ha1b(string)",
    "location": "id(int,auto) ruid(string) username(string) domain(string,null) "
    "contact(string) received(string,null) path(string,null) expires(int) q(double) "
    "callid(string) cseq(int) last_modified(int) flags(int) cflags(int) "
    "user_agent(string) socket(string,null) methods(int,null) instance(string,null) "
    "reg_id(int) server_id(int) connection_id(int) keepalive(int) partition(int)",
    "presentity": "id(int,auto) username(string) domain(string) event(string) "
    "etag(string) expires(int) received_time(int) body(string) sender(string) "
    "priority(int) ruid(string,null)",
    "active_watchers": "id(int,auto) presentity_uri(string) watcher_username(string) "
    "watcher_domain(string) to_user(string) to_domain(string) event(string) "
    "event_id(string,null) to_tag(string) from_tag(string) callid(string) "
    "local_cseq(int) remote_cseq(int) contact(string) record_route(string,null) "
    "expires(int) status(int) reason(string,null) version(int) socket_info(string) "
    "local_contact(string) from_user(string) from_domain(string) updated(int) "
    "updated_winfo(int) flags(int) user_agent(string,null)",
    "watchers": "id(int,auto) presentity_uri(string) watcher_username(string) "
    "watcher_domain(string) event(string) status(int) reason(string,null) "
    "inserted_time(int)",
    "xcap": "id(int,auto) username(string) domain(string) doc(string) doc_type(int) "
    "etag(string) source(int) doc_uri(string) port(int)",
    "pua": "id(int,auto) pres_uri(string) pres_id(string) event(int) expires(int) "
    "desired_expires(int) flag(int) etag(string) tuple_id(string,null) "
    "watcher_uri(string) call_id(string) to_tag(string) from_tag(string) cseq(int) "
    "record_route(string,null) contact(string) remote_contact(string) version(int) "
    "extra_headers(string)",
    "version": "id(int,auto) table_name(string) table_version(int)",
}
DBTEXT_VERSIONS = {
    "subscriber": 7,
    "location": 9,
    "presentity": 5,
    "active_watchers": 12,
    "watchers": 3,
    "xcap": 4,
    "pua": 7,
}


def _dbtext_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("\n", "\\n")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest


class Kamailio(_Managed):
    """Kamailio test PBX (UDP SIP + SIP over WebSocket) on loopback.

    ``gateway`` is ``(host, port)`` of the "PSTN gateway" (a SIPp UAS).
    ``tls=True`` adds SIP over secure WebSocket on ``wss_port`` (``wss_url``), with a
    certificate from a private CA made for the run (``ca_cert``); it needs the
    kamailio-tls-modules package.
    """

    name = "kamailio"

    def __init__(
        self,
        run_dir: Path | str,
        users: dict[str, str] | None = None,
        domain: str = "pbx.test",
        gateway: tuple[str, int] | None = None,
        sip_port: int | None = None,
        ws_port: int | None = None,
        debug_level: int = 2,
        cfg: Path | str = KAMAILIO_CFG,
        tls: bool = False,
        wss_port: int | None = None,
    ) -> None:
        super().__init__()
        self.binary = require_binary("kamailio")
        self.run_dir = Path(run_dir) / "kamailio"
        self.users = dict(users or {"1001": "secret1001", "1002": "secret1002"})
        self.domain = domain
        self.gateway = gateway
        self.sip_port = sip_port or free_port("udp")
        self.ws_port = ws_port or free_port("tcp")
        self.debug_level = debug_level
        self.cfg = Path(cfg)
        self.db_dir = self.run_dir / "db"
        self.log_path = self.run_dir / "kamailio.log"
        self.pid_path = self.run_dir / "kamailio.pid"
        self.ctl_path = self.run_dir / "kamailio_ctl"
        self._log_offset = 0
        self.tls = tls
        self.wss_port = (wss_port or free_port("tcp")) if tls else None
        self.pki = TestPki(self.run_dir / "tls") if tls else None
        self.tls_cfg_path = self.run_dir / "tls.cfg"

    # -- properties -------------------------------------------------------
    @property
    def ws_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.ws_port}"

    @property
    def wss_url(self) -> str:
        if not self.tls:
            raise LabError("this Kamailio was started without tls=True")
        return f"wss://{LOOPBACK}:{self.wss_port}"

    @property
    def ca_cert(self) -> Path:
        """The private CA that signed the server certificate (the agent's ``ca_bundle``)."""
        if self.pki is None:
            raise LabError("this Kamailio was started without tls=True")
        return self.pki.ca_cert

    @property
    def sip_uri(self) -> str:
        """UDP address of the PBX as a SIP URI (outbound proxy for UDP UAs)."""
        return f"sip:{LOOPBACK}:{self.sip_port}"

    def aor(self, user: str) -> str:
        return f"sip:{user}@{self.domain}"

    # -- config -----------------------------------------------------------
    def _write_db(self) -> None:
        self.db_dir.mkdir(parents=True, exist_ok=True)
        for table, header in DBTEXT_TABLES.items():
            rows: list[str] = []
            if table == "version":
                rows = [f"0:{name}:{ver}" for name, ver in DBTEXT_VERSIONS.items()]
            elif table == "subscriber":
                # db_text reads an empty field as NULL, so ha1/ha1b (unused:
                # calculate_ha1 is on) get their real values
                for i, (user, pwd) in enumerate(sorted(self.users.items()), start=1):
                    ha1 = _md5(f"{user}:{self.domain}:{pwd}")
                    ha1b = _md5(f"{user}@{self.domain}:{self.domain}:{pwd}")
                    fields = [str(i), user, self.domain, pwd, ha1, ha1b]
                    rows.append(":".join(_dbtext_escape(f) for f in fields))
            text = header + "\n" + "".join(r + "\n" for r in rows)
            (self.db_dir / table).write_text(text, encoding="utf-8")

    def argv(self) -> list[str]:
        gw = f"{self.gateway[0]}:{self.gateway[1]}" if self.gateway else ""
        defines = {
            "SIP_PORT": str(self.sip_port),
            "WS_PORT": str(self.ws_port),
            "PBX_DOMAIN": f'"{self.domain}"',
            "DB_URL": f'"text://{self.db_dir}"',
            "LOCAL_SIP_URI": f'"{self.sip_uri}"',
            "GW_HOSTPORT": f'"{gw}"',
            "CTL_SOCK": f'"unix:{self.ctl_path}"',
            "DEBUG_LEVEL": str(self.debug_level),
        }
        if self.tls:
            defines.update(
                {
                    "WITH_TLS": "1",
                    "WSS_PORT": str(self.wss_port),
                    "TLS_CFG": f'"{self.tls_cfg_path}"',
                }
            )
        argv = [
            self.binary,
            "-DD",
            "-E",
            "-f",
            str(self.cfg),
            "-Y",
            str(self.run_dir),
            "-P",
            str(self.pid_path),
            "-m",
            "64",
            "-M",
            "8",
        ]
        for key, value in defines.items():
            argv += ["-A", f"{key}={value}"]
        return argv

    # -- lifecycle --------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Kamailio:
        if self.running():
            return self
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._write_db()
        if self.tls:
            self._write_tls()
        with contextlib.suppress(FileNotFoundError):
            self.ctl_path.unlink()
        (self.run_dir / "cmdline.txt").write_text(" ".join(self.argv()) + "\n")
        with open(self.log_path, "ab") as fh:
            fh.write(f"\n===== start {time.strftime('%H:%M:%S')} =====\n".encode())
        self._log_offset = self.log_path.stat().st_size
        self._spawn(self.argv(), self.log_path, cwd=self.run_dir)
        try:
            wait_until(self._ready, timeout, interval=0.1, what="kamailio to answer OPTIONS")
        except TimeoutError as exc:
            self._kill()
            msg = f"kamailio did not start: see {self.log_path}\n{self.log_tail()}"
            raise LabError(msg) from exc
        return self

    def _write_tls(self) -> None:
        """The run's certificates (made once, kept across restarts) and tls.cfg."""
        if not self.pki.server_cert.exists():
            self.pki.create()
        module_dirs = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules")
        if not any(Path(d, "tls.so").exists() for d in module_dirs):
            raise LabError(f"kamailio's tls module is missing - {TLS_MODULE_HINT}")
        # The PBX asks for no client certificate: the agent authenticates with digest.
        self.tls_cfg_path.write_text(
            "[server:default]\n"
            "method = TLSv1.2+\n"
            "verify_certificate = no\n"
            "require_certificate = no\n"
            f"certificate = {self.pki.server_cert}\n"
            f"private_key = {self.pki.server_key}\n"
            "\n[client:default]\n"
            "verify_certificate = no\n"
            "require_certificate = no\n",
            encoding="ascii",
        )

    def _ready(self) -> bool:
        if not self.running():
            raise LabError(f"kamailio exited ({self.proc.returncode}):\n{self.log_tail()}")
        if not self._options_ok():
            return False
        for port in (self.ws_port, self.wss_port):
            if port is None:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                try:
                    sock.connect((LOOPBACK, port))
                except OSError:
                    return False
        return True

    def _options_ok(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((LOOPBACK, 0))
            sock.settimeout(0.3)
            port = sock.getsockname()[1]
            branch = "z9hG4bK" + uuid.uuid4().hex[:12]
            msg = (
                f"OPTIONS sip:{LOOPBACK}:{self.sip_port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {LOOPBACK}:{port};branch={branch};rport\r\n"
                f"From: <sip:probe@{LOOPBACK}>;tag={uuid.uuid4().hex[:8]}\r\n"
                f"To: <sip:{LOOPBACK}:{self.sip_port}>\r\n"
                f"Call-ID: {uuid.uuid4().hex}\r\n"
                "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            try:
                sock.sendto(msg.encode(), (LOOPBACK, self.sip_port))
                data = sock.recv(4096)
            except OSError:
                return False
            return data.startswith(b"SIP/2.0 200")

    def stop(self) -> None:
        self._kill()

    def restart(self, down_s: float = 0.0) -> Kamailio:
        """Stop, optionally stay down ``down_s`` seconds, start on the SAME ports."""
        self.stop()
        if down_s:
            time.sleep(down_s)
        # the TCP port may linger briefly in the kernel after the kill
        wait_until(lambda: self._tcp_bindable(), 10, what="WS port to be free again")
        return self.start()

    def _tcp_bindable(self) -> bool:
        for port in (self.ws_port, self.wss_port):
            if port is None:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((LOOPBACK, port))
                except OSError:
                    return False
        return True

    # -- logs and introspection ------------------------------------------
    def log_text(self, since_start: bool = True) -> str:
        """The log text (by default only since the latest start/restart)."""
        try:
            with open(self.log_path, "rb") as fh:
                if since_start:
                    fh.seek(self._log_offset)
                return fh.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text(since_start=False).splitlines()[-lines:])

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match:
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log_text()), timeout, what=f"log /{pattern}/")

    def ws_connections(self) -> dict[int, str]:
        """Open SIP WebSocket connections, ``{connection id: description}`` (``ws.dump``)."""
        dump = self.kamcmd("ws.dump")
        return {
            int(cid): text for cid, text in re.findall(r"(\d+): (ws:.*sub-protocol: sip\))", dump)
        }

    def ws_close(self, connection_id: int) -> str:
        """Close one WebSocket connection from Kamailio's side (``ws.close``: a Close frame,
        then the TCP connection goes), as a PBX does when it drops a client."""
        out = self.kamcmd("ws.close", str(connection_id))
        if "error" in out:
            raise LabError(f"kamcmd ws.close {connection_id}: {out.strip()}")
        return out

    def kamcmd(self, *args: str, timeout: float = 5.0) -> str:
        """Run an RPC command through the ctl socket, e.g. ``kamcmd("ul.dump")``."""
        binary = require_binary("kamcmd")
        out = subprocess.run(
            [binary, "-s", f"unix:{self.ctl_path}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return out.stdout + out.stderr


class ConnectionCounter:
    """A TCP port that accepts every connection and closes it at once, noting when.

    Stands in for a PBX that is down behind its address (a load balancer with no backend, a
    port whose server is restarting): a client's reconnection attempts become countable,
    so a test can tell backoff from a storm. ``with ConnectionCounter(port) as dead: ...``
    """

    def __init__(self, port: int, host: str = LOOPBACK) -> None:
        self.port = port
        self.times: list[float] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(64)
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> ConnectionCounter:
        self._thread.start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.times.append(time.monotonic())
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)

    def __enter__(self) -> ConnectionCounter:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------
# baresip
# --------------------------------------------------------------------------

BARESIP_MODULE_DIRS = ("/usr/lib/baresip/modules", "/usr/local/lib/baresip/modules")


def _baresip_module_path() -> str:
    for path in BARESIP_MODULE_DIRS:
        if Path(path, "ctrl_tcp.so").exists():
            return path
    raise LabError("baresip modules (ctrl_tcp.so) not found - " + INSTALL_HINT["baresip"])


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _netstring(data: bytes) -> bytes:
    return str(len(data)).encode() + b":" + data + b","


class Baresip(_Managed):
    """A baresip desk phone registered over UDP, controlled through ctrl_tcp.

    Events are baresip's ctrl_tcp event dicts, e.g.
    ``{"event": true, "class": "call", "type": "CALL_INCOMING",
    "accountaor": "sip:1001@pbx.test", "direction": "incoming",
    "peeruri": "sip:+4930123456@pbx.test", "id": "<call-id>", ...}``.
    Types seen: REGISTER_OK, REGISTER_FAIL, CALL_INCOMING, CALL_RINGING,
    CALL_PROGRESS, CALL_ESTABLISHED, CALL_CLOSED, CALL_TRANSFER, ...
    """

    name = "baresip"

    def __init__(
        self,
        run_dir: Path | str,
        user: str,
        password: str,
        kamailio: Kamailio,
        auto_answer: bool = False,
        display_name: str | None = None,
        regint: int = 600,
    ) -> None:
        super().__init__()
        self.binary = require_binary("baresip")
        self.user = user
        self.password = password
        self.kamailio = kamailio
        self.auto_answer = auto_answer
        self.display_name = display_name or f"Phone {user}"
        self.regint = regint
        self.run_dir = Path(run_dir) / f"baresip-{user}-{uuid.uuid4().hex[:4]}"
        self.log_path = self.run_dir / "baresip.log"
        self.sip_port = 0
        self.ctrl_port = 0
        self.events: list[dict] = []
        self._events_cv = threading.Condition()
        self._responses: queue.Queue = queue.Queue()
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._token = 0
        self._cmd_lock = threading.Lock()

    @property
    def aor(self) -> str:
        return self.kamailio.aor(self.user)

    def _write_config(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        modpath = _baresip_module_path()
        config = f"""\
poll_method\t\tepoll
sip_listen\t\t{LOOPBACK}:{self.sip_port}
sip_trans_def\t\tudp
call_local_timeout\t120
call_max_calls\t\t4
audio_player\t\taubridge,nil
audio_source\t\taubridge,nil
audio_alert\t\taubridge,nil
audio_level\t\tno
rtp_tos\t\t\t0
rtp_timeout\t\t0
net_interface\t\t127.0.0.1
dns_server\t\t{LOOPBACK}:53
module_path\t\t{modpath}
module\t\t\tg711.so
module\t\t\tausine.so
module\t\t\taubridge.so
module_app\t\taccount.so
module_app\t\tmenu.so
module_app\t\tctrl_tcp.so
ctrl_tcp_listen\t\t{LOOPBACK}:{self.ctrl_port}
"""
        (self.run_dir / "config").write_text(config, encoding="utf-8")
        answermode = "auto" if self.auto_answer else "manual"
        account = (
            f'"{self.display_name}" <sip:{self.user}@{self.kamailio.domain}>'
            f";auth_user={self.user};auth_pass={self.password}"
            f';outbound="sip:{LOOPBACK}:{self.kamailio.sip_port};transport=udp"'
            f";regint={self.regint};answermode={answermode};audio_codecs=PCMU,PCMA"
            ";ptime=20\n"
        )
        (self.run_dir / "accounts").write_text(account, encoding="utf-8")
        (self.run_dir / "contacts").write_text("", encoding="utf-8")

    def start(self, timeout: float = 10.0, attempts: int = 3) -> Baresip:
        """Start baresip; ports are picked again when another process took one meanwhile."""
        for attempt in range(attempts):
            try:
                return self._start_once(timeout)
            except LabError as exc:
                if "Address already in use" not in str(exc) or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> Baresip:
        if self.running():
            return self
        # baresip listens for SIP on UDP and TCP, and ctrl_tcp on another TCP port.
        self.sip_port = free_port_both()
        self.ctrl_port = free_port("tcp")
        while self.ctrl_port == self.sip_port:
            self.ctrl_port = free_port("tcp")
        self._write_config()
        self._spawn([self.binary, "-f", str(self.run_dir)], self.log_path, cwd=self.run_dir)
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                raise LabError(f"baresip exited:\n{self._log_tail()}")
            try:
                self._sock = socket.create_connection((LOOPBACK, self.ctrl_port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self._kill()
                    raise LabError(f"baresip ctrl_tcp not up:\n{self._log_tail()}") from None
                time.sleep(0.05)
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        self._kill()

    def restart(self) -> Baresip:
        """Restart and register again, as a phone does after the PBX lost its location table
        (Kamailio keeps registrations in memory: a restart forgets every phone)."""
        self.stop()
        with self._events_cv:
            self.events.clear()
        self.start()
        self.wait_registered()
        return self

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- ctrl_tcp ---------------------------------------------------------
    def _read_loop(self) -> None:
        buf = b""
        sock = self._sock
        while sock is not None:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while True:
                colon = buf.find(b":")
                if colon < 0:
                    break
                length = int(buf[:colon])
                end = colon + 1 + length
                if len(buf) < end + 1:
                    break
                payload = buf[colon + 1 : end]
                buf = buf[end + 1 :]
                try:
                    msg = json.loads(payload)
                except ValueError:
                    continue
                self._dispatch(msg)

    def _dispatch(self, msg: dict) -> None:
        if msg.get("event"):
            msg["_t"] = time.monotonic()
            with self._events_cv:
                self.events.append(msg)
                self._events_cv.notify_all()
        elif msg.get("response"):
            self._responses.put(msg)

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict:
        """Send a ctrl_tcp command; returns the response dict (``ok``, ``data``)."""
        if self._sock is None:
            raise LabError("baresip not started")
        with self._cmd_lock:
            self._token += 1
            token = str(self._token)
            body = {"command": command, "params": params, "token": token}
            self._sock.sendall(_netstring(json.dumps(body).encode()))
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no response to baresip command {command!r}")
                try:
                    resp = self._responses.get(timeout=left)
                except queue.Empty:
                    continue
                if resp.get("token") == token:
                    return resp

    def wait_event(
        self,
        etype: str,
        timeout: float = 10.0,
        since: int = 0,
        predicate=None,
    ) -> dict:
        """Wait for an event of type ``etype`` (index >= ``since`` in ``events``)."""
        deadline = time.monotonic() + timeout
        with self._events_cv:
            while True:
                for ev in self.events[since:]:
                    if ev.get("type") == etype and (predicate is None or predicate(ev)):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [e.get("type") for e in self.events]
                    raise TimeoutError(f"baresip {self.user}: no {etype} event (seen {seen})")
                self._events_cv.wait(left)

    def event_types(self) -> list[str]:
        with self._events_cv:
            return [e.get("type") for e in self.events]

    def wait_registered(self, timeout: float = 10.0) -> str:
        """Wait until the account is registered (polls ``reginfo``: the
        REGISTER_OK event usually fires before ctrl_tcp is connected)."""

        def check():
            fail = self._find("REGISTER_FAIL")
            if fail is not None:
                raise LabError(f"baresip {self.user} registration failed: {fail}")
            info = _ANSI.sub("", str(self.command("reginfo").get("data", "")))
            return info if re.search(r"\bOK\b.*Expires", info) else None

        return wait_until(check, timeout, interval=0.1, what=f"baresip {self.user} to register")

    def _find(self, etype: str) -> dict | None:
        with self._events_cv:
            for ev in self.events:
                if ev.get("type") == etype:
                    return ev
        return None

    # -- call control (baresip 1.0 menu commands) --------------------------
    def answer(self) -> dict:
        return self.command("accept")

    def hangup(self) -> dict:
        return self.command("hangup")

    def dial(self, uri: str) -> dict:
        """Dial a user/number/URI, e.g. ``dial("1002")`` or ``dial("sip:+49301@pbx.test")``."""
        if not uri.startswith("sip:"):
            uri = f"sip:{uri}@{self.kamailio.domain}"
        return self.command("dial", uri)

    def hold(self) -> dict:
        return self.command("hold")

    def resume(self) -> dict:
        return self.command("resume")

    def transfer(self, uri: str) -> dict:
        """Blind transfer (REFER) of the current call."""
        if not uri.startswith("sip:"):
            uri = f"sip:{uri}@{self.kamailio.domain}"
        return self.command("transfer", uri)

    def send_dtmf(self, digits: str) -> None:
        for digit in digits:
            self.command("sndcode", digit)

    def list_calls(self) -> str:
        return str(self.command("listcalls").get("data", ""))


# --------------------------------------------------------------------------
# SIPp
# --------------------------------------------------------------------------


class SippRun(_Managed):
    """One SIPp process running one scenario with ``-m 1``."""

    name = "sipp"

    def __init__(self, run_dir: Path, label: str, argv: list[str], port: int) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.label = label
        self.argv = argv
        self.port = port
        self.log_path = run_dir / f"{label}.out"
        self.message_log = run_dir / f"{label}.messages.log"
        self.error_log = run_dir / f"{label}.errors.log"
        self.screen_log = run_dir / f"{label}.screen.log"
        self.returncode: int | None = None

    def start(self) -> SippRun:
        (self.run_dir / f"{self.label}.cmdline.txt").write_text(" ".join(self.argv) + "\n")
        self._spawn(self.argv, self.log_path, cwd=self.run_dir)
        try:
            wait_until(
                lambda: _udp_port_bound(self.port) or not self.running(),
                5,
                what=f"sipp {self.label} to bind",
            )
        except TimeoutError:
            time.sleep(0.3)
        if not self.running() and self.proc.returncode not in (0, None):
            raise LabError(f"sipp {self.label} exited at once:\n{self.output()}")
        return self

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for SIPp to finish; returns its exit code (0 = call succeeded)."""
        if self.proc is None:
            return self.returncode if self.returncode is not None else -1
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            raise TimeoutError(f"sipp {self.label} still running after {timeout}s") from None
        self._kill()
        return self.returncode

    def stop(self) -> None:
        if self.proc is not None and self.returncode is None:
            self.returncode = self.proc.poll()
        self._kill()

    def output(self) -> str:
        parts = []
        for path in (self.log_path, self.error_log):
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def messages(self) -> str:
        """SIPp's message trace (every message sent and received)."""
        return self.message_log.read_text(errors="replace") if self.message_log.exists() else ""


class SippFactory:
    """Builds SIPp runs.  Reserves the "PSTN gateway" port at construction so
    it can be given to Kamailio before any UAS is started."""

    def __init__(self, run_dir: Path | str, gateway_port: int | None = None) -> None:
        self.binary = require_binary("sipp")
        self.run_dir = Path(run_dir) / "sipp"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.gateway_port = gateway_port or free_port("udp")
        self.runs: list[SippRun] = []
        self._count = 0

    @property
    def gateway(self) -> tuple[str, int]:
        return (LOOPBACK, self.gateway_port)

    def _argv(
        self, scenario: str, port: int, keys: dict, sets: dict, extra: list[str], calls: int = 1
    ):
        label = f"{self._count:02d}-{Path(scenario).stem}"
        self._count += 1
        argv = [
            self.binary,
            "-sf",
            str(SIPP_DIR / scenario),
            "-i",
            LOOPBACK,
            "-p",
            str(port),
            "-m",
            str(calls),
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(self.run_dir / f"{label}.messages.log"),
            "-trace_err",
            "-error_file",
            str(self.run_dir / f"{label}.errors.log"),
            "-trace_screen",
            "-screen_file",
            str(self.run_dir / f"{label}.screen.log"),
            "-mp",
            str(free_port("udp")),
        ]
        for key, value in keys.items():
            argv += ["-key", key, str(value)]
        for key, value in sets.items():
            argv += ["-set", key, str(value)]
        return label, argv + extra

    def _run(self, label: str, argv: list[str], port: int) -> SippRun:
        run = SippRun(self.run_dir, label, argv, port)
        self.runs.append(run)
        return run.start()

    def uac(
        self,
        kamailio: Kamailio,
        target: str,
        caller: str = "+4930123456",
        caller_name: str = "",
        talk_s: float = 3.0,
        cancel_after_s: float | None = None,
        timeout_s: float = 60.0,
        until_bye: bool = False,
    ) -> SippRun:
        """PSTN caller: INVITE ``target`` (user part) via Kamailio's UDP port.

        ``cancel_after_s``: CANCEL that long after 180 (missed call) instead of
        waiting for 200 OK; otherwise talk ``talk_s`` seconds, then BYE.
        ``until_bye``: talk until the other side sends BYE (it fails without one).
        """
        port = free_port("udp")
        keys = {"caller": caller, "caller_name": caller_name, "domain": kamailio.domain}
        sets = {
            "talk_ms": int(talk_s * 1000),
            "cancel_ms": int((cancel_after_s or 0) * 1000),
        }
        extra = [
            "-s",
            target,
            "-timeout",
            f"{int(timeout_s)}s",
            "-timeout_error",
            f"{LOOPBACK}:{kamailio.sip_port}",
        ]
        scenario = "uac_call.xml"
        if until_bye:
            scenario, sets = "uac_wait_bye.xml", {}
        label, argv = self._argv(scenario, port, keys, sets, extra)
        return self._run(label, argv, port)

    def register(
        self,
        kamailio: Kamailio,
        user: str,
        password: str,
        contact_port: int,
        expires: int = 600,
        timeout_s: float = 10.0,
    ) -> int:
        """REGISTER ``user`` with its contact on ``contact_port`` (another SIPp's port);
        returns SIPp's exit code once done (0 = registered)."""
        port = free_port("udp")
        keys = {
            "user": user,
            "domain": kamailio.domain,
            "contact_port": contact_port,
            "expires": expires,
        }
        extra = [
            "-au",
            user,
            "-ap",
            password,
            "-timeout",
            f"{int(timeout_s)}s",
            "-timeout_error",
            f"{LOOPBACK}:{kamailio.sip_port}",
        ]
        label, argv = self._argv("register.xml", port, keys, {}, extra)
        return self._run(label, argv, port).wait(timeout=timeout_s + 5)

    def deskphone(
        self, kamailio: Kamailio, user: str, password: str, ring_s: float = 1.0, timeout_s=60.0
    ) -> SippRun:
        """A desk phone for ``user`` that answers one inbound call and accepts an INVITE
        with Replaces for it (``uas_deskphone_replaces.xml``), registered before it returns."""
        port = free_port("udp")
        sets = {"ring_ms": int(ring_s * 1000)}
        extra = ["-timeout", f"{int(timeout_s)}s", "-timeout_error"]
        label, argv = self._argv("uas_deskphone_replaces.xml", port, {}, sets, extra, calls=2)
        phone = self._run(label, argv, port)
        code = self.register(kamailio, user, password, contact_port=port)
        if code != 0:
            phone.stop()
            raise LabError(f"SIPp desk phone {user} could not register (sipp exit {code})")
        return phone

    def uas(
        self,
        behaviour: str = "answer",
        ring_s: float = 1.0,
        hangup_after_s: float | None = None,
        timeout_s: float = 60.0,
        port: int | None = None,
    ) -> SippRun:
        """PSTN far end on the gateway port.

        ``behaviour``: "answer" (180, 200 after ``ring_s``; BYE after
        ``hangup_after_s`` or wait for the caller's BYE), "busy" (486) or
        "noanswer" (180, then 200/487 on CANCEL) or "reinvite" (answers, then accepts
        re-INVITEs until the caller's BYE) or "glare" (answers, meets the first re-INVITE
        with one of its own and 491, accepts the retry; see uas_glare.xml).
        """
        scenario = {
            "answer": "uas_answer.xml",
            "busy": "uas_busy.xml",
            "noanswer": "uas_noanswer.xml",
            "reinvite": "uas_reinvite.xml",
            "glare": "uas_glare.xml",
        }[behaviour]
        port = port or self.gateway_port
        sets = {}
        if behaviour == "answer":
            sets = {
                "ring_ms": int(ring_s * 1000),
                "hangup_ms": int((hangup_after_s or 0) * 1000),
            }
        elif behaviour in ("reinvite", "glare"):
            sets = {"ring_ms": int(ring_s * 1000)}
        extra = ["-timeout", f"{int(timeout_s)}s", "-timeout_error"]
        label, argv = self._argv(scenario, port, {}, sets, extra)
        return self._run(label, argv, port)

    def stop(self) -> None:
        for run in self.runs:
            run.stop()
