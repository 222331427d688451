"""baresip as the lab's desk phone: registered over UDP, driven through ctrl_tcp."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import socket
import threading
import time
import uuid
from pathlib import Path

from .common import (
    INSTALL_HINT,
    LOOPBACK,
    LabError,
    _Managed,
    free_port,
    free_port_both,
    require_binary,
    wait_until,
)
from .pbx_base import LabPbx

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
    """A baresip desk phone registered over UDP to ``pbx`` (Kamailio or Asterisk),
    controlled through ctrl_tcp.

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
        pbx: LabPbx,
        auto_answer: bool = False,
        display_name: str | None = None,
        regint: int = 600,
    ) -> None:
        super().__init__()
        self.binary = require_binary("baresip")
        self.user = user
        self.password = password
        self.pbx = pbx
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
    def kamailio(self) -> LabPbx:
        """The PBX (any lab PBX; the name is older than the Asterisk lab)."""
        return self.pbx

    @property
    def aor(self) -> str:
        return self.pbx.aor(self.user)

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
            f'"{self.display_name}" <sip:{self.user}@{self.pbx.domain}>'
            f";auth_user={self.user};auth_pass={self.password}"
            f';outbound="sip:{LOOPBACK}:{self.pbx.sip_port};transport=udp"'
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
            uri = f"sip:{uri}@{self.pbx.domain}"
        return self.command("dial", uri)

    def hold(self) -> dict:
        return self.command("hold")

    def resume(self) -> dict:
        return self.command("resume")

    def transfer(self, uri: str) -> dict:
        """Blind transfer (REFER) of the current call."""
        if not uri.startswith("sip:"):
            uri = f"sip:{uri}@{self.pbx.domain}"
        return self.command("transfer", uri)

    def send_dtmf(self, digits: str) -> None:
        for digit in digits:
            self.command("sndcode", digit)

    def list_calls(self) -> str:
        return str(self.command("listcalls").get("data", ""))
