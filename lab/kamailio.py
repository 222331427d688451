"""Kamailio as the lab PBX: its db_text tables (users, location, presence) and the process."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from .common import (
    CONF_DIR,
    LOOPBACK,
    LabError,
    _sip_probe,
    _tcp_listening,
    require_binary,
)
from .pbx_base import LabPbx

KAMAILIO_CFG = CONF_DIR / "kamailio" / "kamailio.cfg"
TLS_MODULE_HINT = "apt-get install kamailio-tls-modules"


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


class Kamailio(LabPbx):
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
        self._init_common(run_dir, users, domain, gateway, sip_port, ws_port, tls, wss_port)
        self.debug_level = debug_level
        self.cfg = Path(cfg)
        self.db_dir = self.run_dir / "db"
        self.log_path = self.run_dir / "kamailio.log"
        self.pid_path = self.run_dir / "kamailio.pid"
        self.ctl_path = self.run_dir / "kamailio_ctl"
        self._log_offset = 0
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
        return self._launch(
            self.ctl_path, self.log_path, 0.1, "kamailio to answer OPTIONS", timeout
        )

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
        if not _sip_probe(self.sip_port).startswith(b"SIP/2.0 200"):
            return False
        return all(_tcp_listening(port) for port in self._tcp_ports())

    # -- introspection ------------------------------------------------------
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

    def requests_received(self, method: str) -> int:
        """How many ``method`` requests Kamailio has routed since it started."""
        return self.log_text().count(f"REQ {method} ")

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
