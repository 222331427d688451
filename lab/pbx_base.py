"""What every lab PBX (Kamailio, Asterisk) has in common: ``LabPbx``."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

from .common import LOOPBACK, LabError, _Managed, _tcp_bindable, free_port, wait_until
from .pki import TestPki

# the lab's extensions and their SIP passwords, unless a test asks for others
DEFAULT_USERS = {"1001": "secret1001", "1002": "secret1002"}


class LabPbx(_Managed):
    """What the lab PBXs (Kamailio, Asterisk) share: users on ``domain``, a UDP port for
    phones and SIPp (``sip_port``, ``sip_uri``), SIP over WebSocket (``ws_url``, with
    ``tls=True`` also ``wss_url`` and ``ca_cert``), a log read from the latest start on, and
    ``restart()`` on the same ports.  Subclasses set ``run_dir``, ``log_path``, the ports and
    implement ``start()``."""

    domain: str
    sip_port: int
    ws_port: int
    wss_port: int | None
    log_path: Path
    pki: TestPki | None
    _log_offset = 0

    def _init_common(
        self,
        run_dir: Path | str,
        users: dict[str, str] | None,
        domain: str,
        gateway: tuple[str, int] | None,
        sip_port: int | None,
        ws_port: int | None,
        tls: bool,
        wss_port: int | None,
    ) -> None:
        """Take what every lab PBX is given: a folder of its own under ``run_dir`` (named
        after the PBX), the users and their passwords, the domain, the PSTN ``gateway``,
        the ports (free ones where none is given) and, with ``tls``, a private CA."""
        self.run_dir = Path(run_dir) / self.name
        self.users = dict(users or DEFAULT_USERS)
        self.domain = domain
        self.gateway = gateway
        self.sip_port = sip_port or free_port("udp")
        self.ws_port = ws_port or free_port("tcp")
        self.tls = tls
        self.wss_port = (wss_port or free_port("tcp")) if tls else None
        self.pki = TestPki(self.run_dir / "tls") if tls else None

    @property
    def sip_uri(self) -> str:
        """UDP address of the PBX as a SIP URI (outbound proxy for UDP UAs)."""
        return f"sip:{LOOPBACK}:{self.sip_port}"

    @property
    def ca_cert(self) -> Path:
        """The private CA that signed the server certificate (the agent's ``ca_bundle``)."""
        if self.pki is None:
            raise LabError(f"this {self.name} was started without tls=True")
        return self.pki.ca_cert

    def aor(self, user: str) -> str:
        return f"sip:{user}@{self.domain}"

    def _tcp_ports(self) -> list[int]:
        return [port for port in (self.ws_port, self.wss_port) if port is not None]

    def stop(self) -> None:
        self._kill()

    def restart(self, down_s: float = 0.0):
        """Stop, optionally stay down ``down_s`` seconds, start on the SAME ports."""
        self.stop()
        if down_s:
            time.sleep(down_s)
        # the TCP port may linger briefly in the kernel after the kill
        wait_until(lambda: self._tcp_bindable(), 10, what="WS port to be free again")
        return self.start()

    def _tcp_bindable(self) -> bool:
        return all(_tcp_bindable(port) for port in self._tcp_ports())

    def _launch(self, ctl_path: Path, out_path: Path, interval: float, what: str, timeout: float):
        """Start the program (its stale control socket ``ctl_path`` removed, its output to
        ``out_path``) and wait until ``_ready()``; kill it and raise LabError if it is not
        ready within ``timeout``."""
        with contextlib.suppress(FileNotFoundError):
            ctl_path.unlink()
        (self.run_dir / "cmdline.txt").write_text(" ".join(self.argv()) + "\n")
        self._mark_log_start()
        self._spawn(self.argv(), out_path, cwd=self.run_dir)
        try:
            wait_until(self._ready, timeout, interval=interval, what=what)
        except TimeoutError as exc:
            self._kill()
            msg = f"{self.name} did not start: see {self.log_path}\n{self.log_tail()}"
            raise LabError(msg) from exc
        return self

    def _mark_log_start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as fh:
            fh.write(f"\n===== start {time.strftime('%H:%M:%S')} =====\n".encode())
        self._log_offset = self.log_path.stat().st_size

    # -- logs ---------------------------------------------------------------
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
