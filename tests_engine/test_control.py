"""Hold, resume and transfer of a connected click-to-call, by third-party call control."""

import re
import time

from conftest import ready_agent

from lab import wait_until

FAR_END = "+4989555000"


def _invites(trace):
    """The INVITE messages in a SIPp message trace, as text."""
    return [m for m in re.split(r"\n(?=UDP message)", trace) if "\nINVITE sip:" in m]


def _origin(text):
    match = re.search(r"^o=.*$", text, re.M)
    return match.group(0).strip() if match else ""


def test_hold_and_resume(agent_factory, baresip_factory, sipp, kamailio):
    phone = baresip_factory("1001", auto_answer=True)
    far = sipp.uas("reinvite", ring_s=0.5)
    agent, events = ready_agent(agent_factory)
    agent.call(FAR_END)
    call_id = events.wait_for("CONNECTED")["call"]["id"]
    phone.wait_event("CALL_ESTABLISHED")

    agent.hold(call_id)
    held = events.wait_for("ON_HOLD")
    assert held["call"]["id"] == call_id
    invites = _invites(far.messages())
    assert len(invites) == 2 and "a=sendonly" in invites[1]
    agent.hold(call_id)
    assert events.wait_for("INFO")["code"] == "already_on_hold"

    agent.resume(call_id)
    events.wait_for("CONNECTED", count=2)
    invites = _invites(far.messages())
    assert len(invites) == 3 and "a=sendrecv" in invites[2]
    versions = [int(_origin(i).split()[2]) for i in invites]
    assert versions[0] < versions[1] < versions[2]  # RFC 3264: a changed offer, a new version
    # the phone was re-offered too (in-dialog INVITEs to its contact), and still has its call
    assert kamailio.log_text().count("REQ INVITE sip:1001-") == 2
    assert "CALL_CLOSED" not in phone.event_types()

    agent.terminate(call_id)
    hangup = events.wait_for("HANGUP")
    assert hangup["call"]["cause"] == "terminated"
    assert far.wait() == 0
    assert events.names(call_only=True) == [
        "INITIAL",
        "ACCEPTED",
        "RINGING",
        "CONNECTED",
        "ON_HOLD",
        "CONNECTED",
        "HANGUP",
    ]


def test_transfer_moves_the_far_end_to_the_new_destination(agent_factory, baresip_factory, sipp):
    phone = baresip_factory("1001", auto_answer=True)
    colleague = baresip_factory("1002", auto_answer=True)
    far = sipp.uas("reinvite", ring_s=0.5)
    agent, events = ready_agent(agent_factory)
    agent.call(FAR_END)
    call_id = events.wait_for("CONNECTED")["call"]["id"]
    phone.wait_event("CALL_ESTABLISHED")
    first_offer = _origin(_invites(far.messages())[0])

    agent.transfer(call_id, "1002")
    hangup = events.wait_for("HANGUP")
    assert hangup["call"]["id"] == call_id
    assert hangup["call"]["cause"] == "transferred"
    assert hangup["call"]["transferredTo"] == "1002"
    phone.wait_event("CALL_CLOSED")
    colleague.wait_event("CALL_ESTABLISHED")
    invites = _invites(far.messages())
    assert len(invites) == 2
    # the far end now has the colleague's session description, not the user's phone's
    assert _origin(invites[1]) and _origin(invites[1]) != first_offer

    time.sleep(1)
    assert "CALL_CLOSED" not in colleague.event_types()
    colleague.hangup()  # the agent passes the colleague's BYE on to the far end
    assert far.wait() == 0
    assert events.names(call_only=True) == [
        "INITIAL",
        "ACCEPTED",
        "RINGING",
        "CONNECTED",
        "HANGUP",
    ]


def test_transfer_to_invalid_destination_sends_nothing(
    agent_factory, baresip_factory, sipp, kamailio
):
    baresip_factory("1001", auto_answer=True)
    far = sipp.uas("reinvite", ring_s=0.5)
    agent, events = ready_agent(agent_factory)
    agent.call(FAR_END)
    call_id = events.wait_for("CONNECTED")["call"]["id"]
    time.sleep(0.5)
    invites = kamailio.log_text().count("REQ INVITE")
    agent.transfer(call_id, "sip:evil@example.com")
    assert events.wait_for("ERROR")["code"] == "number_not_a_number"
    time.sleep(0.5)
    assert kamailio.log_text().count("REQ INVITE") == invites
    assert events.names(call_only=True)[-1] == "CONNECTED"
    agent.terminate(call_id)
    events.wait_for("HANGUP")
    assert far.wait() == 0


CALLER = "+4930123456"


def test_terminate_observed_call_asks_the_phone_to_hand_it_over(
    agent_factory, baresip_factory, sipp, kamailio
):
    """INVITE with Replaces (RFC 3891) to the phone; baresip 1.0 does not support it and,
    because the agent sends ``Require: replaces``, refuses with 420 instead of ringing."""
    phone = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac(kamailio, "1001", caller=CALLER, talk_s=4)
    phone.wait_event("CALL_INCOMING")
    events.wait_for("RINGING")
    phone.answer()
    call_id = events.wait_for("CONNECTED")["call"]["id"]
    agent.terminate(call_id)
    info = events.wait_for("INFO")
    assert info["code"] in ("cannot_end_refused", "cannot_end_both_refused")
    assert "420" in info["params"]["status"]
    log = kamailio.log_text()
    assert "REQ INVITE sip:1001@pbx.test from ws:" in log
    time.sleep(0.5)
    assert phone.event_types().count("CALL_INCOMING") == 1  # it did not ring a second call
    events.wait_for("HANGUP", timeout=20)  # the caller hangs up: the call was left alone
    assert caller.wait() == 0
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]


def test_hold_and_resume_on_the_phone_are_relayed_to_the_far_end(
    agent_factory, baresip_factory, sipp, kamailio
):
    """The phone's own hold key re-INVITEs the agent (its dialog peer); the agent passes the
    offer on to the far end and the far end's answer back, instead of refusing it."""
    phone = baresip_factory("1001", auto_answer=True)
    far = sipp.uas("reinvite", ring_s=0.5)
    agent, events = ready_agent(agent_factory)
    agent.call(FAR_END)
    call_id = events.wait_for("CONNECTED")["call"]["id"]
    phone.wait_event("CALL_ESTABLISHED")
    time.sleep(0.3)  # the ACK with the far end's answer reaches the phone first

    phone.hold()
    held = events.wait_for("ON_HOLD")
    assert held["call"]["id"] == call_id
    invites = _invites(far.messages())
    assert len(invites) == 2 and "a=sendonly" in invites[1]

    phone.resume()
    events.wait_for("CONNECTED", count=2)
    invites = _invites(far.messages())
    assert len(invites) == 3 and "a=sendonly" not in invites[2]
    versions = [int(_origin(i).split()[2]) for i in invites]
    assert versions[0] < versions[1] < versions[2]
    # both re-INVITEs were answered by the agent (over its WebSocket) with 200, none refused
    wait_until(
        lambda: kamailio.log_text().count("REPLY 200 OK for INVITE from ws:") == 2,
        5,
        what="the agent's two 200 OK to the phone's re-INVITEs in the PBX log",
    )
    log = kamailio.log_text()
    assert "REPLY 488" not in log and "REPLY 491" not in log
    assert "CALL_CLOSED" not in phone.event_types()

    agent.terminate(call_id)
    assert events.wait_for("HANGUP")["call"]["cause"] == "terminated"
    assert far.wait() == 0
    assert events.names(call_only=True) == [
        "INITIAL",
        "ACCEPTED",
        "RINGING",
        "CONNECTED",
        "ON_HOLD",
        "CONNECTED",
        "HANGUP",
    ]


def test_glare_on_a_relayed_reinvite_gets_491_and_a_retry(
    agent_factory, baresip_factory, sipp, kamailio
):
    """The phone holds while the far end re-INVITEs too (SIPp ``uas_glare.xml``): the agent
    refuses the far end's re-INVITE with 491 (its relay is pending), the far end refuses the
    relayed one with 491, and the agent, owner of the Call-ID, retries after 2.1-4 s."""
    phone = baresip_factory("1001", auto_answer=True)
    far = sipp.uas("glare", ring_s=0.5)
    agent, events = ready_agent(agent_factory)
    agent.call(FAR_END)
    call_id = events.wait_for("CONNECTED")["call"]["id"]
    phone.wait_event("CALL_ESTABLISHED")
    time.sleep(0.3)

    started = time.monotonic()
    phone.hold()
    events.wait_for("ON_HOLD", timeout=15)
    assert time.monotonic() - started >= 2.1  # the retry waited as RFC 3261 §14.1 says
    trace = far.messages()
    assert "SIP/2.0 491" in trace  # the agent's answer to the far end's re-INVITE
    relayed = [m for m in _invites(trace) if m.startswith("UDP message received")]
    assert len(relayed) == 3  # the call, the relayed hold, its retry after the 491
    assert "a=sendonly" in relayed[1] and "a=sendonly" in relayed[2]
    assert "CALL_CLOSED" not in phone.event_types()

    agent.terminate(call_id)
    events.wait_for("HANGUP")
    assert far.wait() == 0, far.output()
    assert events.names(call_only=True) == [
        "INITIAL",
        "ACCEPTED",
        "RINGING",
        "CONNECTED",
        "ON_HOLD",
        "HANGUP",
    ]


def test_terminate_observed_call_on_a_phone_that_supports_replaces(agent_factory, sipp, kamailio):
    """The success path of the takeover with a real peer: a SIPp desk phone for 1003
    (``uas_deskphone_replaces.xml``) answers an inbound call, accepts the agent's INVITE
    with Replaces naming that dialog, hangs the caller up and takes the agent's BYE."""
    phone = sipp.deskphone(kamailio, "1003", "secret1003", ring_s=0.5)
    agent, events = ready_agent(agent_factory, "1003")
    caller = sipp.uac(kamailio, "1003", caller=CALLER, until_bye=True)
    events.wait_for("RINGING")
    call_id = events.wait_for("CONNECTED")["call"]["id"]
    time.sleep(0.3)
    agent.terminate(call_id)
    hangup = events.wait_for("HANGUP", timeout=15)
    assert hangup["call"]["id"] == call_id
    assert hangup["call"]["cause"] == "terminated"
    assert caller.wait(timeout=15) == 0, caller.output()  # the caller got the phone's BYE
    assert phone.wait(timeout=15) == 0, phone.output()  # Replaces matched, BYE answered
    assert "REQ INVITE sip:1003@pbx.test from ws:" in kamailio.log_text()
    time.sleep(1)  # the takeover's own dialog never shows up as a call
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    assert "INFO" not in events.names() and "ERROR" not in events.names()


def test_terminate_ringing_inbound_call_is_info_and_sends_nothing(
    agent_factory, baresip_factory, sipp, kamailio
):
    """RFC 3891 §3: Replaces of an early dialog the phone did not initiate is refused, so
    the agent does not try while an inbound call rings."""
    phone = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac(kamailio, "1001", caller=CALLER, cancel_after_s=3)
    phone.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    invites = kamailio.log_text().count("REQ INVITE")
    agent.terminate(ringing["call"]["id"])
    info = events.wait_for("INFO")
    assert info["code"] == "ringing_cannot_end"
    time.sleep(0.5)
    assert kamailio.log_text().count("REQ INVITE") == invites
    assert events.wait_for("CANCEL", timeout=20)["call"]["cause"] == "missed"
    caller.wait()
    assert events.names(call_only=True) == ["RINGING", "CANCEL"]


def test_controls_over_sip_follow_what_the_phone_accepts(
    agent_factory, baresip_factory, sipp, kamailio
):
    """SIP only (Kamailio): a ringing inbound call offers nothing (baresip takes neither a
    remote answer nor a Replaces of a call it did not start); answered, Hang up and Transfer
    by Replaces are offered (towards the phone, then the caller's side) until both refused
    (baresip 420, this SIPp caller a 200 without a dialog), and then no more; a
    click-to-call offers everything the agent does itself."""
    phone = baresip_factory("1001")
    agent, events = ready_agent(agent_factory)
    caller = sipp.uac(kamailio, "1001", caller=CALLER, talk_s=3)
    phone.wait_event("CALL_INCOMING")
    assert events.wait_for("RINGING")["call"]["controls"] == []
    phone.answer()
    connected = events.wait_for("CONNECTED")
    assert connected["call"]["controls"] == ["terminate", "transfer"]
    agent.terminate(connected["call"]["id"])
    info = events.wait_for("INFO")
    assert info["code"] == "cannot_end_both_refused" and "420" in info["params"]["status"]
    assert events.wait_for("HANGUP", timeout=20)["call"]["controls"] == []
    caller.wait()
    phone.wait_event("CALL_CLOSED")
    since = len(phone.event_types())
    caller = sipp.uac(kamailio, "1001", caller=CALLER, talk_s=1)
    phone.wait_event("CALL_INCOMING", since=since)
    events.wait_for("RINGING", 2)
    phone.answer()
    # both sides refused before
    assert events.wait_for("CONNECTED", 2)["call"]["controls"] == []
    events.wait_for("HANGUP", 2, timeout=20)
    caller.wait()
    far = sipp.uas("answer", ring_s=0.5, hangup_after_s=2)
    phone_auto = baresip_factory("1001", auto_answer=True)
    phone.stop()
    agent.call(FAR_END)
    assert events.wait_for("INITIAL")["call"]["controls"] == ["terminate"]
    connected = events.wait_for("CONNECTED", 3)
    assert connected["call"]["controls"] == ["terminate", "hold", "transfer"]
    far.wait()
    phone_auto.wait_event("CALL_CLOSED", timeout=15)
