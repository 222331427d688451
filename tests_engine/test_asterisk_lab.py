"""The Asterisk lab works with real processes: the engine's agent logs in over WebSocket, SIPp
callers reach baresip phones, phones reach the SIPp PSTN gateway, and Asterisk reports the
user's calls in dialog-info NOTIFYs (RFC 4235) to the agent's subscription.

These tests check the lab, not the engine's call tracking (which is being taught Asterisk's
dialog-info dialect separately): they assert what Asterisk and the SIP programs do.
``test_dialog_notifies_for_each_scenario`` also writes every NOTIFY body Asterisk sent to the
agent, scenario by scenario, into ``asterisk_notifies.txt`` in the test's run directory, and
into the file named by ``ASTERISK_NOTIFY_CAPTURE`` when that is set.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from conftest import ready_agent

import lab

pytestmark = pytest.mark.pbx("asterisk")

CALLER = "+4930123456"
PSTN_NUMBER = "+4989555666"


def _dialog_notifies(asterisk: lab.Asterisk) -> list[dict]:
    """The dialog-event NOTIFYs Asterisk sent over WebSocket (to agents), oldest first."""
    notifies = []
    for msg in asterisk.sip_messages():
        text = msg["text"]
        if msg["direction"] != "out" or not msg["peer"].startswith(("WS:", "WSS:")):
            continue
        if not text.startswith("NOTIFY ") or not re.search(r"^Event: *dialog", text, re.M | re.I):
            continue
        head, _, body = text.partition("\r\n\r\n")
        sub_state = re.search(r"^Subscription-State: *(.*?)\r?$", head, re.M | re.I)
        notifies.append(
            {
                "time": msg["time"],
                "subscription_state": sub_state.group(1) if sub_state else "",
                "body": body.strip(),
                "states": re.findall(r"<state[^>]*>([^<]*)</state>", body),
            }
        )
    return notifies


class NotifyLog:
    """Cuts the agent's NOTIFYs into one section per scenario."""

    def __init__(self, asterisk: lab.Asterisk) -> None:
        self.asterisk = asterisk
        self.seen = 0
        self.sections: list[tuple[str, list[dict]]] = []

    def settle(self, quiet_s: float = 1.0, timeout: float = 15.0) -> None:
        """Wait until Asterisk has sent no NOTIFY for ``quiet_s`` seconds."""
        deadline = time.monotonic() + timeout
        count, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = len(_dialog_notifies(self.asterisk))
            if now != count:
                count, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.2)

    def take(self, title: str) -> list[dict]:
        self.settle()
        notifies = _dialog_notifies(self.asterisk)
        new, self.seen = notifies[self.seen :], len(notifies)
        self.sections.append((title, new))
        return new

    def write(self, path: Path) -> None:
        lines = [
            "Dialog-info NOTIFY bodies Asterisk sent to the CTI agent (user 1001, subscribed "
            "over WebSocket)",
            f"Asterisk: {self.asterisk.cli('core show version').strip()}",
            "pjsip.conf: notify_early_inuse_ringing=yes; phone 1001 = baresip, PSTN = SIPp",
            "",
        ]
        for title, notifies in self.sections:
            lines.append("=" * 78)
            lines.append(f"{title}  ({len(notifies)} NOTIFY)")
            lines.append("=" * 78)
            for n in notifies:
                states = ",".join(n["states"])
                lines.append(
                    f"--- {n['time']}  Subscription-State: {n['subscription_state']}  "
                    f"states: {states}"
                )
                lines.append(n["body"])
            lines.append("")
        path.write_text("\n".join(lines), encoding="utf-8")


def _states(notifies: list[dict]) -> list[str]:
    return [",".join(n["states"]) for n in notifies]


# --------------------------------------------------------------------------


def test_agent_logs_in_over_websocket(agent_factory, asterisk):
    agent, events = ready_agent(agent_factory, "1001")
    assert agent.is_connected()
    assert asterisk.ws_url.endswith("/ws")
    # the subscription's first NOTIFY: an idle user
    first = wait_notifies(asterisk, 1)[0]
    assert first["subscription_state"].startswith("active")
    assert first["states"] == ["terminated"]
    assert 'entity="sip:1001@pbx.test"' in first["body"]


def test_wrong_password_is_refused(agent_factory, asterisk):
    agent, events = agent_factory("1001", password="not-the-password")
    agent.login()
    events.wait_for("ERROR")
    assert not agent.is_connected()


def test_sipp_caller_reaches_registered_phone(asterisk, baresip_factory, sipp):
    phone = baresip_factory("1001")
    assert len(asterisk.contacts("1001")) == 1
    caller = sipp.uac(asterisk, "1001", caller=CALLER, caller_name="Erika", talk_s=1)
    incoming = phone.wait_event("CALL_INCOMING")
    assert CALLER in incoming["peeruri"]
    phone.answer()
    phone.wait_event("CALL_ESTABLISHED")
    assert caller.wait() == 0
    phone.wait_event("CALL_CLOSED")


def test_every_phone_of_the_user_rings(asterisk, baresip_factory, sipp):
    first, second = baresip_factory("1001"), baresip_factory("1001")
    assert len(asterisk.contacts("1001")) == 2
    caller = sipp.uac(asterisk, "1001", caller=CALLER, talk_s=1)
    first.wait_event("CALL_INCOMING")
    second.wait_event("CALL_INCOMING")
    second.answer()
    assert caller.wait() == 0
    first.wait_event("CALL_CLOSED")


def test_unregistered_user_and_unknown_number(asterisk, sipp):
    assert sipp.uac(asterisk, "1002", caller=CALLER).wait() == 1
    assert sipp.uac(asterisk, "+4930777", caller=CALLER).wait() == 1
    log = asterisk.log_text()
    assert "SIP/2.0 480 Temporarily Unavailable" in log
    assert "SIP/2.0 404 Not Found" in log


def test_phone_calls_pstn_through_gateway(asterisk, baresip_factory, sipp):
    phone = baresip_factory("1001")
    gateway = sipp.uas("answer", ring_s=0.5, hangup_after_s=1)
    phone.dial(PSTN_NUMBER)
    phone.wait_event("CALL_ESTABLISHED")
    assert gateway.wait() == 0
    phone.wait_event("CALL_CLOSED")
    assert f"INVITE sip:{PSTN_NUMBER}@127.0.0.1:{sipp.gateway_port}" in gateway.messages()


def test_restart_keeps_ports_and_registrations(asterisk, baresip_factory):
    phone = baresip_factory("1001")
    ws_url, sip_port = asterisk.ws_url, asterisk.sip_port
    asterisk.restart(down_s=0.5)
    assert (asterisk.ws_url, asterisk.sip_port) == (ws_url, sip_port)
    # unlike Kamailio, Asterisk keeps contacts in its astdb across a restart
    assert len(asterisk.contacts("1001")) == 1
    assert phone.running()


def wait_notifies(asterisk: lab.Asterisk, count: int, timeout: float = 10.0) -> list[dict]:
    return lab.wait_until(
        lambda: (n := _dialog_notifies(asterisk)) and len(n) >= count and n,
        timeout,
        what=f"{count} dialog NOTIFY",
    )


def test_dialog_notifies_for_each_scenario(agent_factory, asterisk, baresip_factory, sipp, lab_dir):
    """Run each call scenario once with an agent subscribed to 1001 and record the NOTIFYs."""
    phone = baresip_factory("1001")
    agent, _events = ready_agent(agent_factory, "1001")
    log = NotifyLog(asterisk)
    try:
        _scenarios(log, phone, agent, asterisk, sipp)
    finally:
        capture = lab_dir / "asterisk_notifies.txt"
        log.write(capture)
        target = os.environ.get("ASTERISK_NOTIFY_CAPTURE")
        if target:
            Path(target).write_text(capture.read_text(encoding="utf-8"), encoding="utf-8")
        print(f"\n[lab] NOTIFY capture: {capture}")


def _scenarios(log: NotifyLog, phone, agent, asterisk, sipp) -> None:
    login = log.take("1. login: the user is idle")
    assert _states(login) == ["terminated"]

    # 2. inbound call: ringing, answered, the caller hangs up
    since = len(phone.events)
    caller = sipp.uac(asterisk, "1001", caller=CALLER, caller_name="Erika", talk_s=2)
    phone.wait_event("CALL_INCOMING", since=since)
    time.sleep(1)
    phone.answer()
    assert caller.wait() == 0
    phone.wait_event("CALL_CLOSED", since=since)
    inbound = log.take(f"2. inbound call from {CALLER} (Erika): ringing, answered, caller hangs up")
    assert _states(inbound)[0] == "early"
    assert "confirmed" in _states(inbound)
    assert _states(inbound)[-1] == "terminated"

    # 3. inbound call missed: the caller gives up while it rings
    since = len(phone.events)
    caller = sipp.uac(asterisk, "1001", caller="+4930999888", cancel_after_s=2)
    phone.wait_event("CALL_INCOMING", since=since)
    assert caller.wait() == 0
    phone.wait_event("CALL_CLOSED", since=since)
    missed = log.take("3. inbound call from +4930999888 missed (caller cancels after 2 s)")
    assert _states(missed) == ["early", "terminated"]

    # 4. the user dials a PSTN number on the phone; the gateway answers and hangs up
    since = len(phone.events)
    gateway = sipp.uas("answer", ring_s=1, hangup_after_s=2)
    phone.dial(PSTN_NUMBER)
    phone.wait_event("CALL_ESTABLISHED", since=since)
    assert gateway.wait() == 0
    phone.wait_event("CALL_CLOSED", since=since)
    outbound = log.take(
        f"4. phone 1001 dials {PSTN_NUMBER}; the gateway rings 1 s, answers, hangs up after 2 s"
    )
    assert _states(outbound)[-1] == "terminated"
    assert "confirmed" in _states(outbound)

    # 5. a second inbound call while the first is connected (call waiting), missed
    since = len(phone.events)
    first = sipp.uac(asterisk, "1001", caller=CALLER, talk_s=8)
    phone.wait_event("CALL_INCOMING", since=since)
    phone.answer()
    phone.wait_event("CALL_ESTABLISHED", since=since)
    time.sleep(1)
    since2 = len(phone.events)
    second = sipp.uac(asterisk, "1001", caller="+4930222333", cancel_after_s=2)
    phone.wait_event("CALL_INCOMING", since=since2)
    assert second.wait() == 0
    assert first.wait() == 0
    waiting = log.take(
        f"5. inbound call from {CALLER} answered; while connected a second call from "
        "+4930222333 rings and is cancelled after 2 s; then the first caller hangs up"
    )
    assert _states(waiting)[-1] == "terminated"

    # 6. click-to-call: the agent rings the user's phone, then the destination (3PCC)
    since = len(phone.events)
    gateway = sipp.uas("answer", ring_s=1, hangup_after_s=3)
    agent.call(CALLER)
    phone.wait_event("CALL_INCOMING", since=since)
    time.sleep(0.5)
    phone.answer()
    # the far end: Asterisk routes the agent's second INVITE to the gateway
    gateway_rc = gateway.wait(timeout=30)
    time.sleep(1)
    if phone.running():
        phone.hangup()
    c2c = log.take(
        f"6. click-to-call agent.call({CALLER!r}): phone 1001 rings and answers, then the "
        f"gateway rings 1 s, answers and hangs up after 3 s (SIPp exit {gateway_rc})"
    )
    assert c2c, "no NOTIFY for the click-to-call"
    assert f"INVITE sip:{CALLER}@127.0.0.1:{sipp.gateway_port}" in gateway.messages()


@pytest.mark.tls
def test_agent_logs_in_over_secure_websocket(agent_factory, asterisk):
    agent, events = agent_factory("1001", ws_url=asterisk.wss_url, ca_bundle=str(asterisk.ca_cert))
    agent.login()
    events.wait_for("READY")
    assert any(m["peer"].startswith("WSS:") for m in asterisk.sip_messages())
