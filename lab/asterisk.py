"""Asterisk (PJSIP) as the lab PBX: finding an install, its configuration, the process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from .common import (
    CONF_DIR,
    LOOPBACK,
    LabError,
    _sip_probe,
    _tcp_listening,
    free_port,
)
from .pbx_base import LabPbx

ASTERISK_DIR = CONF_DIR / "asterisk"


ASTERISK_HINT = (
    "set ASTERISK_PATH to the prefix of an Asterisk 22 install (holding sbin/asterisk) "
    "or put 'asterisk' on PATH"
)


def find_asterisk() -> str | None:
    """The Asterisk binary: ``$ASTERISK_PATH/sbin/asterisk`` when ASTERISK_PATH is set
    (a prefix, or the binary itself), else ``asterisk`` on PATH; None if there is none."""
    prefix = os.environ.get("ASTERISK_PATH")
    if prefix:
        for candidate in (Path(prefix) / "sbin" / "asterisk", Path(prefix)):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        return None
    return shutil.which("asterisk")


def _asterisk_dirs(binary: str) -> tuple[Path, Path]:
    """(modules dir, data dir) of the install the binary belongs to."""
    prefix = Path(binary).resolve().parent.parent
    mod_dirs = [prefix / "lib" / "asterisk" / "modules", prefix / "lib64" / "asterisk" / "modules"]
    if prefix == Path("/usr"):
        mod_dirs.append(Path("/usr/lib/x86_64-linux-gnu/asterisk/modules"))
    for mod_dir in mod_dirs:
        if (mod_dir / "chan_pjsip.so").exists():
            break
    else:
        raise LabError(f"no Asterisk modules with chan_pjsip.so next to {binary} ({mod_dirs})")
    data_dir = prefix / "var" / "lib" / "asterisk"
    if not data_dir.is_dir():
        data_dir = Path("/usr/share/asterisk")
    return mod_dir, data_dir


# Configs the Asterisk core and the loaded modules read at start; without them it logs an
# ERROR each (and writes CDRs nobody reads).
ASTERISK_STUB_CONFS = {
    "cdr.conf": "[general]\nenable = no\n",
    "cel.conf": "[general]\nenable = no\n",
    # the attended transfer code AMI's Atxfer sends (FreePBX's default), and its abort; no
    # announcement before the target's digits (the lab has no sound files)
    "features.conf": "[general]\natxferabort = *1\ntransferannouncesound =\n\n"
    "[featuremap]\natxfer = *2\n",
    "acl.conf": "",
    "udptl.conf": "[general]\n",
    "ccss.conf": "[general]\n",
    "indications.conf": "[general]\ncountry = de\n\n[de]\ndescription = Germany\n"
    "ringcadence = 1000,4000\ndial = 425\nbusy = 425/480,0/480\nring = 425/1000,0/4000\n"
    "congestion = 425/240,0/240\ncallwaiting = 425/200,0/200,425/200,0/5000\n",
    "statsd.conf": "[general]\nenabled = no\n",
    "geolocation.conf": "",
    "pjproject.conf": "",
}


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    leftover = re.search(r"@[A-Z_]+@", template)
    if leftover:
        raise LabError(f"Asterisk config template: {leftover.group(0)} not filled")
    return template


class Asterisk(LabPbx):
    """Asterisk (PJSIP) test PBX on loopback, interchangeable with ``Kamailio``.

    The config templates are ``lab/conf/asterisk/*.conf``; everything Asterisk writes (astdb,
    logs, control socket) stays in ``<run_dir>/asterisk``.  Phones and SIPp use the UDP
    transport (``sip_port``); the CTI agent uses SIP over WebSocket served by Asterisk's HTTP
    server at ``ws_url`` (``ws://127.0.0.1:<ws_port>/ws``).  ``gateway`` is ``(host, port)``
    of the "PSTN gateway" (a SIPp UAS): every number that is not a user goes there.
    ``tls=True`` adds ``wss_url`` (Asterisk's HTTPS server) with a certificate of a private
    CA made for the run (``ca_cert``).

    Unlike Kamailio, Asterisk keeps registrations (and subscriptions) in its astdb, so they
    survive ``restart()``; the agent's subscription dies with its WebSocket connection anyway.
    The log (``log_text()``) is Asterisk's ``full`` log, with every SIP message in it.
    """

    name = "asterisk"

    def __init__(
        self,
        run_dir: Path | str,
        users: dict[str, str] | None = None,
        domain: str = "pbx.test",
        gateway: tuple[str, int] | None = None,
        sip_port: int | None = None,
        ws_port: int | None = None,
        tls: bool = False,
        wss_port: int | None = None,
        config_dir: Path | str = ASTERISK_DIR,
        binary: str | None = None,
        rtp_ports: tuple[int, int] | None = None,
        ami_port: int | None = None,
        ami_user: str = "cti",
        ami_secret: str = "lab-ami-secret",  # noqa: S107 - a lab on loopback
    ) -> None:
        super().__init__()
        self.binary = binary or find_asterisk()
        if not self.binary:
            raise LabError(f"Asterisk not found - {ASTERISK_HINT}")
        self.mod_dir, self.data_dir = _asterisk_dirs(self.binary)
        self._init_common(run_dir, users, domain, gateway, sip_port, ws_port, tls, wss_port)
        # the Manager Interface (manager.conf): what the CTI service's Asterisk driver uses
        self.ami_port = ami_port or free_port("tcp")
        self.ami_user = ami_user
        self.ami_secret = ami_secret
        self.config_dir = Path(config_dir)
        self.etc_dir = self.run_dir / "etc"
        self.conf_path = self.etc_dir / "asterisk.conf"
        self.log_path = self.run_dir / "log" / "full"
        self.out_path = self.run_dir / "asterisk.out"
        # a Unix socket path has at most 107 bytes: a deep pytest tmp dir gets a short one
        ctl_dir = self.run_dir / "run"
        if len(str(ctl_dir / "asterisk.ctl")) > 100:
            ctl_dir = Path("/tmp") / f"cti-ast-{uuid.uuid4().hex[:8]}"
        self.ctl_dir = ctl_dir
        if rtp_ports is None:
            # an even start somewhere in 20000-59000; Asterisk skips ports in use
            start = 20000 + 2 * (int.from_bytes(os.urandom(2), "big") % 19500)
            rtp_ports = (start, start + 199)
        self.rtp_ports = rtp_ports

    # -- properties -------------------------------------------------------
    @property
    def ws_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.ws_port}/ws"

    @property
    def wss_url(self) -> str:
        if not self.tls:
            raise LabError("this Asterisk was started without tls=True")
        return f"wss://{LOOPBACK}:{self.wss_port}/ws"

    # -- config -----------------------------------------------------------
    def _template(self, name: str) -> str:
        return (self.config_dir / name).read_text(encoding="utf-8")

    def _write_config(self) -> None:
        for sub in ("etc", "lib", "log", "spool", "agi"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        self.ctl_dir.mkdir(parents=True, exist_ok=True)
        gw = f"{self.gateway[0]}:{self.gateway[1]}" if self.gateway else ""
        tls_lines = ""
        if self.tls:
            if not self.pki.server_cert.exists():
                self.pki.create()
            tls_lines = (
                "tlsenable = yes\n"
                f"tlsbindaddr = {LOOPBACK}:{self.wss_port}\n"
                f"tlscertfile = {self.pki.server_cert}\n"
                f"tlsprivatekey = {self.pki.server_key}\n"
            )
        values = {
            "RUN": str(self.run_dir),
            "CTLDIR": str(self.ctl_dir),
            "MODDIR": str(self.mod_dir),
            "DATADIR": str(self.data_dir),
            "SBINDIR": str(Path(self.binary).resolve().parent),
            "DOMAIN": self.domain,
            "SIP_PORT": str(self.sip_port),
            "HTTP_PORT": str(self.ws_port),
            "TLS": tls_lines,
            "RTP_START": str(self.rtp_ports[0]),
            "RTP_END": str(self.rtp_ports[1]),
            "GATEWAY": gw,
            "GATEWAY_CONTACT": f"contact = sip:{gw}" if gw else "; no gateway in this lab",
            "AMI_PORT": str(self.ami_port),
            "AMI_USER": self.ami_user,
            "AMI_SECRET": self.ami_secret,
        }
        files = {
            name: _fill(self._template(name), values)
            for name in (
                "asterisk.conf",
                "modules.conf",
                "logger.conf",
                "http.conf",
                "rtp.conf",
                "pjsip.conf",
                "extensions.conf",
                "manager.conf",
            )
        }
        pjsip_user = self._template("pjsip_user.conf")
        ext_user = self._template("extensions_user.conf")
        files["pjsip_users.conf"] = "\n".join(
            _fill(pjsip_user, {"USER": user, "PASSWORD": pwd})
            for user, pwd in sorted(self.users.items())
        )
        files["extensions_users.conf"] = "\n".join(
            _fill(ext_user, {"USER": user}) for user in sorted(self.users)
        )
        for name, text in {**ASTERISK_STUB_CONFS, **files}.items():
            (self.etc_dir / name).write_text(text, encoding="utf-8")

    def argv(self) -> list[str]:
        return [self.binary, "-f", "-n", "-vvv", "-C", str(self.conf_path)]

    def _tcp_ports(self) -> list[int]:
        return [*super()._tcp_ports(), self.ami_port]

    # -- lifecycle --------------------------------------------------------
    def start(self, timeout: float = 30.0) -> Asterisk:
        if self.running():
            return self
        self._write_config()
        return self._launch(
            self.ctl_dir / "asterisk.ctl", self.out_path, 0.2, "asterisk to be ready", timeout
        )

    def _ready(self) -> bool:
        if not self.running():
            out = self.out_path.read_text(errors="replace")[-3000:]
            raise LabError(f"asterisk exited ({self.proc.returncode}):\n{out}\n{self.log_tail()}")
        if "Asterisk Ready" not in self.log_text():
            return False
        # any answer will do: an OPTIONS from an unknown user may be challenged
        if not _sip_probe(self.sip_port).startswith(b"SIP/2.0 "):
            return False
        return all(_tcp_listening(port) for port in self._tcp_ports())

    def stop(self) -> None:
        self._kill(grace=5.0)
        if self.ctl_dir.parent == Path("/tmp"):
            shutil.rmtree(self.ctl_dir, ignore_errors=True)

    # -- introspection ------------------------------------------------------
    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run an Asterisk CLI command (``asterisk -rx``), e.g. ``cli("pjsip show contacts")``."""
        out = subprocess.run(
            [self.binary, "-C", str(self.conf_path), "-rx", command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return out.stdout + out.stderr

    _SIP_LOG = re.compile(
        r"^\[(?P<time>[^\]]+)\] VERBOSE\[\d+\] res_pjsip_logger\.c: <--- "
        r"(?P<dir>Transmitting|Received) SIP (?P<kind>request|response) \(\d+ bytes\) "
        r"(?:to|from) (?P<peer>\S+) --->\n(?P<text>.*?)(?=^\[\d{4}-|\Z)",
        re.MULTILINE | re.DOTALL,
    )

    def sip_messages(self, since_start: bool = True) -> list[dict]:
        """Every SIP message Asterisk logged (pjsip.conf ``debug=yes``), oldest first:
        ``{"time", "direction": "in"|"out", "kind": "request"|"response",
        "peer": "WS:127.0.0.1:40312", "text": <the message>}``."""
        return [
            {
                "time": m["time"],
                "direction": "out" if m["dir"] == "Transmitting" else "in",
                "kind": m["kind"],
                "peer": m["peer"],
                # the logger's line breaks end the message: CRLFs inside it stay as sent
                "text": m["text"].rstrip("\r\n") + "\r\n",
            }
            for m in self._SIP_LOG.finditer(self.log_text(since_start))
        ]

    def requests_received(self, method: str) -> int:
        """How many ``method`` requests Asterisk has received since it started."""
        return sum(
            1
            for message in self.sip_messages()
            if message["direction"] == "in"
            and message["kind"] == "request"
            and message["text"].startswith(f"{method} ")
        )

    def contacts(self, user: str) -> list[str]:
        """The contact URIs registered for ``user`` (its AOR)."""
        text = self.cli(f"pjsip show aor {user}")
        return re.findall(rf"Contact:\s+{re.escape(user)}/(\S+)", text)
