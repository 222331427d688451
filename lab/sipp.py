"""SIPp in the lab: the PSTN callers and far ends, scripted desk phones (one scenario a run)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from .common import (
    CONF_DIR,
    LOOPBACK,
    LabError,
    _Managed,
    _udp_port_bound,
    free_port,
    require_binary,
    wait_until,
)
from .pbx_base import LabPbx

SIPP_DIR = CONF_DIR / "sipp"


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

    def start(self, attempts: int = 5) -> SippRun:
        for attempt in range(attempts):
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
            if self.running() or self.proc.returncode in (0, None):
                return self
            # SIPp also binds the ports after its media port (-mp): a PBX's RTP or another
            # SIPp may hold one of them. Another media port, then.
            if "Unable to bind" in self.output() and "-mp" in self.argv and attempt < attempts - 1:
                self.argv[self.argv.index("-mp") + 1] = str(free_port("udp"))
                continue
            break
        raise LabError(f"sipp {self.label} exited at once:\n{self.output()}")

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
    it can be given to the PBX before any UAS is started."""

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
        pbx: LabPbx,
        target: str,
        caller: str = "+4930123456",
        caller_name: str = "",
        talk_s: float = 3.0,
        cancel_after_s: float | None = None,
        timeout_s: float = 60.0,
        until_bye: bool = False,
        accepts_replaces: bool = False,
    ) -> SippRun:
        """PSTN caller: INVITE ``target`` (user part) via the PBX's UDP port.

        ``cancel_after_s``: CANCEL that long after 180 (missed call) instead of
        waiting for 200 OK; otherwise talk ``talk_s`` seconds, then BYE.
        ``until_bye``: talk until the other side sends BYE (it fails without one).
        ``accepts_replaces``: talk until an INVITE with Replaces takes the call over, hang
        the callee up, then talk in the new dialog until its BYE (it fails without one;
        ``uac_accepts_replaces.xml``).
        """
        port = free_port("udp")
        keys = {"caller": caller, "caller_name": caller_name, "domain": pbx.domain}
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
            f"{LOOPBACK}:{pbx.sip_port}",
        ]
        scenario = "uac_call.xml"
        if until_bye:
            scenario, sets = "uac_wait_bye.xml", {}
        if accepts_replaces:
            scenario, sets = "uac_accepts_replaces.xml", {}
            extra += ["-oocsf", str(SIPP_DIR / "uac_accepts_replaces_ooc.xml")]
        label, argv = self._argv(scenario, port, keys, sets, extra)
        return self._run(label, argv, port)

    def register(
        self,
        pbx: LabPbx,
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
            "domain": pbx.domain,
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
            f"{LOOPBACK}:{pbx.sip_port}",
        ]
        label, argv = self._argv("register.xml", port, keys, {}, extra)
        return self._run(label, argv, port).wait(timeout=timeout_s + 5)

    def deskphone(
        self, pbx: LabPbx, user: str, password: str, ring_s: float = 1.0, timeout_s=60.0
    ) -> SippRun:
        """A desk phone for ``user`` that answers one inbound call and accepts an INVITE
        with Replaces for it (``uas_deskphone_replaces.xml``), registered before it returns."""
        sets = {"ring_ms": int(ring_s * 1000)}
        # Three "calls": the agent's OPTIONS at login, the inbound call, the takeover.
        return self._registered_phone(
            pbx, user, password, "uas_deskphone_replaces.xml", sets, 3, timeout_s
        )

    def remote_control_phone(
        self,
        pbx: LabPbx,
        user: str,
        password: str,
        refuse_keys: bool = False,
        calls: int = 20,
        timeout_s=60.0,
    ) -> SippRun:
        """A desk phone for ``user`` that lists ``talk`` and ``hold`` in Allow-Events and
        takes them as keys (``uas_remote_control.xml``): its inbound call rings until a
        NOTIFY with ``Event: talk`` answers it. ``refuse_keys``: it lists them but answers
        every NOTIFY 403. Registered before it returns."""
        sets = {"g_talk": 0, "g_hold": 0, "refuse_keys": int(refuse_keys)}
        return self._registered_phone(
            pbx, user, password, "uas_remote_control.xml", sets, calls, timeout_s
        )

    def _registered_phone(self, pbx, user, password, scenario, sets, calls, timeout_s):
        port = free_port("udp")
        extra = ["-timeout", f"{int(timeout_s)}s", "-timeout_error"]
        label, argv = self._argv(scenario, port, {}, sets, extra, calls=calls)
        phone = self._run(label, argv, port)
        code = self.register(pbx, user, password, contact_port=port)
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
