"""Proves the real-PBX lab with the real programs and a raw WebSocket client.

Run: ``pytest -c tests_engine/pytest.ini tests_engine/test_lab.py -s`` (``-s``
prints real NOTIFY examples; they are also written to the run directory).
"""

from __future__ import annotations

import time

import pytest

from lab.wsraw import DialogInfo, RawWsSip, dialog_states

LAB_PASSWORD_1001 = "secret1001"  # noqa: S105 - lab user, see conftest.LAB_USERS


def _dedupe(states: list[str]) -> list[str]:
    out: list[str] = []
    for state in states:
        if not out or out[-1] != state:
            out.append(state)
    return out


def _dump(title: str, text: str, lab_dir) -> None:
    print(f"\n===== {title} =====\n{text.rstrip()}\n")
    with open(lab_dir / "samples.txt", "a", encoding="utf-8") as fh:
        fh.write(f"===== {title} =====\n{text.rstrip()}\n\n")


def _call_notifies(ws: RawWsSip, call_id: str):
    """The (elapsed-time, raw NOTIFY, DialogInfo) for NOTIFYs mentioning call_id."""
    out = []
    for ts, req, raw in ws.notifies():
        if not req.body:
            continue
        info = DialogInfo.parse(req.body)
        if any(d.get("call-id") == call_id for d in info.dialogs):
            out.append((ts, raw, info))
    return out


def _subscribe(ws: RawWsSip, lab_dir, target: str | None = None) -> None:
    responses = ws.subscribe_dialog(target)
    codes = [r.code for r, _ in responses]
    assert codes == [407, 200], codes
    _dump("SUBSCRIBE challenge", responses[0][1], lab_dir)
    _dump("200 OK to SUBSCRIBE", responses[1][1], lab_dir)
    # the initial NOTIFY (no dialogs yet: empty body) arrives at once
    ws.wait_for(lambda c: c.notifies(), timeout=5)
    _dump("initial NOTIFY", ws.notifies()[0][2], lab_dir)


def test_ws_register_digest(ws_client_factory, kamailio, lab_dir):
    ws = ws_client_factory("1001")
    assert ws.subprotocol == "sip"

    good = ws.register(expires=120)
    assert [r.code for r, _ in good] == [401, 200]
    challenge = good[0][0].headers.get("WWW-Authenticate")
    assert challenge.startswith("Digest ")
    assert f'realm="{kamailio.domain}"' in challenge
    assert "sip:1001@" in (good[1][0].headers.get("Contact") or "")
    _dump("REGISTER 401", good[0][1], lab_dir)
    _dump("REGISTER 200", good[1][1], lab_dir)

    wrong = "not-" + LAB_PASSWORD_1001
    bad = ws_client_factory("1001").register(password=wrong)
    codes = [r.code for r, _ in bad]
    assert codes[0] == 401
    assert codes[-1] in (401, 403), codes
    _dump("REGISTER wrong password", bad[-1][1], lab_dir)

    # the WS contact is in usrloc with its received (connection) address
    dump = kamailio.kamcmd("ul.dump")
    assert f"sip:1001@{ws.host};transport=ws" in dump
    assert "transport=ws" in dump


def test_ws_invite_is_proxy_challenged(ws_client_factory, kamailio, lab_dir):
    ws = ws_client_factory("1002")
    ws.send_raw(ws.build("INVITE", f"sip:1001@{kamailio.domain}", body=""))
    resp, raw = ws.wait_response()
    assert resp.code == 407
    assert "Proxy-Authenticate" in raw


def test_dialog_notify_answered_call(kamailio, baresip_factory, sipp, ws_client_factory, lab_dir):
    phone = baresip_factory("1001")
    ws = ws_client_factory("1001")
    _subscribe(ws, lab_dir)

    t0 = time.monotonic()
    caller = sipp.uac(kamailio, "1001", caller="+4930123456", caller_name="Erika", talk_s=3)
    incoming = phone.wait_event("CALL_INCOMING", timeout=10)
    t_ring = time.monotonic() - t0
    call_id = incoming["id"]
    assert incoming["peeruri"].startswith("sip:+4930123456@")

    time.sleep(2)
    phone.answer()
    phone.wait_event("CALL_ESTABLISHED", timeout=5)
    t_answer = time.monotonic() - t0
    phone.wait_event("CALL_CLOSED", timeout=10)
    t_bye = time.monotonic() - t0
    assert caller.wait(timeout=20) == 0, caller.output()

    ws.wait_for(lambda c: "terminated" in dialog_states(c.dialog_infos(), call_id), timeout=10)
    notes = _call_notifies(ws, call_id)
    states = _dedupe(dialog_states([n[2] for n in notes], call_id))
    assert states == ["early", "confirmed", "terminated"], states

    versions = [n[2].version for n in notes]
    assert versions == sorted(versions) and len(set(versions)) == len(versions), versions

    timeline = [f"ring(baresip CALL_INCOMING) +{t_ring:.2f}s"]
    timeline += [f"answer +{t_answer:.2f}s", f"BYE seen by baresip +{t_bye:.2f}s"]
    for ts, _raw, info in notes:
        dialog = next(d for d in info.dialogs if d.get("call-id") == call_id)
        timeline.append(f"NOTIFY v{info.version} {dialog['state']} +{ts - t0:.2f}s")
    _dump("timeline (answered call)", "\n".join(timeline), lab_dir)
    for _ts, raw, info in notes:
        dialog = next(d for d in info.dialogs if d.get("call-id") == call_id)
        _dump(f"NOTIFY {dialog['state']} (answered call)", raw, lab_dir)


def test_dialog_notify_missed_call(kamailio, baresip_factory, sipp, ws_client_factory, lab_dir):
    phone = baresip_factory("1001")
    ws = ws_client_factory("1001")
    _subscribe(ws, lab_dir)

    t0 = time.monotonic()
    caller = sipp.uac(kamailio, "1001", caller="+4930999888", cancel_after_s=2)
    incoming = phone.wait_event("CALL_INCOMING", timeout=10)
    call_id = incoming["id"]
    phone.wait_event("CALL_CLOSED", timeout=10)
    assert caller.wait(timeout=20) == 0, caller.output()
    assert "CALL_ESTABLISHED" not in phone.event_types()

    ws.wait_for(lambda c: "terminated" in dialog_states(c.dialog_infos(), call_id), timeout=10)
    notes = _call_notifies(ws, call_id)
    states = _dedupe(dialog_states([n[2] for n in notes], call_id))
    assert states == ["early", "terminated"], states
    assert "confirmed" not in states

    timeline = []
    for ts, raw, info in notes:
        dialog = next(d for d in info.dialogs if d.get("call-id") == call_id)
        timeline.append(f"NOTIFY v{info.version} {dialog['state']} +{ts - t0:.2f}s")
        _dump(f"NOTIFY {dialog['state']} (missed call)", raw, lab_dir)
    _dump("timeline (missed call)", "\n".join(timeline), lab_dir)


def test_internal_call_publishes_both_parties(
    kamailio, baresip_factory, ws_client_factory, lab_dir
):
    callee = baresip_factory("1001")
    caller = baresip_factory("1002")
    ws_callee = ws_client_factory("1001")
    ws_caller = ws_client_factory("1002")
    _subscribe(ws_callee, lab_dir)
    _subscribe(ws_caller, lab_dir)

    caller.dial("1001")
    incoming = callee.wait_event("CALL_INCOMING", timeout=10)
    call_id = incoming["id"]
    callee.answer()
    caller.wait_event("CALL_ESTABLISHED", timeout=10)
    time.sleep(0.5)
    caller.hangup()
    callee.wait_event("CALL_CLOSED", timeout=10)

    for ws, direction in ((ws_callee, "recipient"), (ws_caller, "initiator")):
        ws.wait_for(lambda c: "terminated" in dialog_states(c.dialog_infos(), call_id), timeout=10)
        notes = _call_notifies(ws, call_id)
        dialogs = [d for n in notes for d in n[2].dialogs if d.get("call-id") == call_id]
        assert {d.get("direction") for d in dialogs} == {direction}
        assert "confirmed" in [d["state"] for d in dialogs]
        _dump(f"NOTIFY {dialogs[-1]['state']} ({direction}, internal call)", notes[-1][1], lab_dir)


def test_outbound_call_to_pstn_gateway(kamailio, baresip_factory, sipp, lab_dir):
    phone = baresip_factory("1001")
    far_end = sipp.uas("answer", ring_s=1, hangup_after_s=2)
    phone.dial("+4989123456")
    phone.wait_event("CALL_ESTABLISHED", timeout=10)
    phone.wait_event("CALL_CLOSED", timeout=10)
    assert far_end.wait(timeout=20) == 0, far_end.output()
    assert "INVITE sip:+4989123456@127.0.0.1" in far_end.messages()


@pytest.mark.parametrize("behaviour", ["busy", "noanswer"])
def test_pstn_gateway_failures(kamailio, baresip_factory, sipp, behaviour):
    phone = baresip_factory("1001")
    far_end = sipp.uas(behaviour)
    phone.dial("+4989123456")
    if behaviour == "noanswer":
        phone.wait_event("CALL_RINGING", timeout=10)
        time.sleep(1)
        phone.hangup()
    phone.wait_event("CALL_CLOSED", timeout=10)
    assert far_end.wait(timeout=20) == 0, far_end.output()


def test_restart_keeps_ports(kamailio, ws_client_factory):
    ws_url, sip_port = kamailio.ws_url, kamailio.sip_port
    ws = ws_client_factory("1001")
    assert [r.code for r, _ in ws.register()] == [401, 200]
    kamailio.restart()
    assert (kamailio.ws_url, kamailio.sip_port) == (ws_url, sip_port)
    ws2 = ws_client_factory("1001")
    assert [r.code for r, _ in ws2.register()] == [401, 200]
