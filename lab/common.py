"""What every lab program shares: errors, install hints, free ports, the managed process,
readiness probes; and ``ConnectionCounter``, a port behind which a PBX is down.

The lab itself is described in ``lab/__init__.py``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF_DIR = HERE / "conf"
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
# Probes: is a lab program up yet?
# --------------------------------------------------------------------------


def _sip_probe(port: int) -> bytes:
    """Send an OPTIONS to 127.0.0.1:``port`` (UDP); the reply's bytes, or b"" if none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(0.3)
        local = sock.getsockname()[1]
        branch = "z9hG4bK" + uuid.uuid4().hex[:12]
        msg = (
            f"OPTIONS sip:{LOOPBACK}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:{local};branch={branch};rport\r\n"
            f"From: <sip:probe@{LOOPBACK}>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{LOOPBACK}:{port}>\r\n"
            f"Call-ID: {uuid.uuid4().hex}\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        try:
            sock.sendto(msg.encode(), (LOOPBACK, port))
            return sock.recv(4096)
        except OSError:
            return b""


def _tcp_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect((LOOPBACK, port))
        except OSError:
            return False
    return True


def _tcp_bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


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
