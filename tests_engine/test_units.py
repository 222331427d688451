"""Engine parts that need no network peer: numbers, digest, SIP and dialog-info parsing."""

import pytest

from cti_engine import dialoginfo, sdp, sip
from cti_engine.digest import Challenge, DigestClient
from cti_engine.phone import InvalidDestination, caller_number, normalize_destination
from cti_engine.tracker import CallTracker


@pytest.mark.parametrize(
    ("typed", "country", "expected"),
    [
        ("+49 30 1234567", "DE", "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("0049 30 1234567", "DE", "+49301234567"),
        ("0049301234567", "", "+49301234567"),
        ("(415) 555-0123", "US", "+14155550123"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("1002", "DE", "1002"),
        (" 1002 ", "", "1002"),
    ],
)
def test_destination_normalised(typed, country, expected):
    assert normalize_destination(typed, country) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "abc",
        "1002\r\nVia: evil",
        "1002\n",
        "10\x0002",
        "sip:1002@pbx.test",
        "1002@pbx.test",
        "4" * 40,
        "+49 30 " + "1" * 193,  # 200 characters
        "+" + "1" * 20,
        "١٠٠٢",  # Arabic-Indic digits
        "+49 30 12;x=1",
        None,
    ],
)
def test_destination_refused(typed):
    with pytest.raises(InvalidDestination):
        normalize_destination(typed, "DE")


def test_caller_number_handles_anonymous():
    assert caller_number("sip:anonymous@anonymous.invalid") == ""
    assert caller_number("sip:+4930123@pbx.test;user=phone") == "+4930123"
    assert caller_number("tel:+4930123") == "+4930123"
    assert caller_number("") == ""


def test_digest_rfc7616_vectors():
    header = (
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={alg}, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
    )
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    expected = {
        "MD5": "8ca523f5e9506fed4657c9700eebdbec",
        "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
    }
    for algorithm, response in expected.items():
        client = DigestClient("Mufasa", "Circle of Life", new_cnonce=lambda: cnonce)
        challenge = Challenge.parse(header.format(alg=algorithm))
        credentials = Challenge.parse(client.answer(challenge, "GET", "/dir/index.html"))
        assert credentials.parameters["response"] == response
        assert credentials.parameters["nc"] == "00000001"
        assert credentials.parameters["qop"] == "auth"
        again = Challenge.parse(client.answer(challenge, "GET", "/dir/index.html"))
        assert again.parameters["nc"] == "00000002"


def test_digest_refuses_malformed_challenge():
    for value in ("Digest", 'Digest realm="unterminated', "Digest realm=a,,nonce"):
        with pytest.raises(ValueError):
            Challenge.parse(value)


def test_digest_password_not_in_repr():
    client = DigestClient("1001", "s3cret-pass")
    assert "s3cret-pass" not in repr(client)


NOTIFY = (
    b"NOTIFY sip:x@abc.invalid;transport=ws SIP/2.0\r\n"
    b"Via: SIP/2.0/WS 127.0.0.1:5060;branch=z9hG4bK1\r\n"
    b"From: <sip:1001@pbx.test>;tag=a\r\n"
    b"To: <sip:1001@pbx.test>;tag=b\r\n"
    b"Call-ID: c1\r\n"
    b"CSeq: 2 NOTIFY\r\n"
    b"Subject: folded\r\n  continuation\r\n"
    b"Content-Length: 4\r\n\r\nbodyEXTRA"
)


def test_sip_parse_honours_length_and_folding():
    message = sip.parse(NOTIFY)
    assert message.method == "NOTIFY"
    assert message.body == b"body"
    assert message.headers["Subject"] == "folded continuation"


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\r\n\r\n",
        b"garbage",
        b"NOTIFY sip:x@y SIP/2.0\r\nVia: SIP/2.0/WS h;branch=z9hG4bK1\r\n\r\n",
        NOTIFY.replace(b"Content-Length: 4", b"Content-Length: 400"),
        NOTIFY.replace(b"CSeq: 2 NOTIFY", b"CSeq: two NOTIFY"),
        NOTIFY.replace(b"Subject: folded", b"X-Big: " + b"a" * 9000),
        b"\xff\xfe\x00\x01" * 10 + b"\r\n\r\n",
        b"A" * 70000,
    ],
    ids=lambda frame: f"{len(frame)}-bytes",
)
def test_sip_parse_refuses_garbage(frame):
    with pytest.raises(sip.MalformedMessage):
        sip.parse(frame)


def document(version, state="full", dialogs=""):
    return (
        f'<?xml version="1.0"?><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" '
        f'version="{version}" state="{state}" entity="sip:1001@pbx.test">{dialogs}</dialog-info>'
    ).encode()


def dialog(state, direction="recipient", call_id="call-1", extra="", event=""):
    ev = f' event="{event}"' if event else ""
    return (
        f'<dialog id="d-{call_id}" call-id="{call_id}" direction="{direction}">'
        f"<state{ev}>{state}</state>"
        f'<remote><identity display="Ada">sip:+4930123456@pbx.test</identity>'
        f'<target uri="sip:+4930123456@127.0.0.1">{extra}</target></remote></dialog>'
    )


def test_dialoginfo_refuses_entities():
    for body in (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info">&x;</dialog-info>',
        b'<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><dialog-info>&b;</dialog-info>',
        b"<dialog-info",
        document("x"),
    ):
        with pytest.raises(dialoginfo.MalformedDocument):
            dialoginfo.parse(body)


def make_tracker():
    events = []
    tracker = CallTracker("sip:1001@pbx.test", "1001", "Alice", events.append)
    return tracker, events


def names(events):
    return [event["name"] for event in events]


def test_tracker_inbound_answered_out_of_order_and_capitalised():
    tracker, events = make_tracker()
    tracker.apply(dialoginfo.parse(document(1)))
    tracker.apply(dialoginfo.parse(document(2, dialogs=dialog("Trying"))))
    tracker.apply(dialoginfo.parse(document(3, dialogs=dialog("early"))))
    tracker.apply(dialoginfo.parse(document(4, dialogs=dialog("early"))))
    tracker.apply(dialoginfo.parse(document(6, dialogs=dialog("confirmed"))))
    assert not tracker.apply(dialoginfo.parse(document(5, dialogs=dialog("early"))))
    tracker.apply(dialoginfo.parse(document(7, dialogs=dialog("terminated", event="remote-bye"))))
    tracker.apply(dialoginfo.parse(document(8, dialogs=dialog("terminated"))))
    assert names(events) == ["RINGING", "CONNECTED", "HANGUP"]
    call = events[0]["call"]
    assert call["direction"] == "INBOUND"
    assert call["source"] == "+4930123456"
    assert call["sourceName"] == "Ada"
    assert call["destination"] == "1001"
    assert {e["call"]["id"] for e in events} == {call["id"]}
    assert events[-1]["call"]["cause"] == "remote hangup"


def test_tracker_missed_call_and_lingering_dialogs():
    tracker, events = make_tracker()
    tracker.apply(dialoginfo.parse(document(1, dialogs=dialog("terminated", call_id="old"))))
    tracker.apply(dialoginfo.parse(document(2, dialogs=dialog("early"))))
    tracker.apply(dialoginfo.parse(document(3, dialogs=dialog("terminated", event="cancelled"))))
    assert names(events) == ["RINGING", "CANCEL"]
    assert events[-1]["call"]["cause"] == "missed"


def test_tracker_never_reports_a_call_first_seen_terminated():
    tracker, events = make_tracker()
    tracker.apply(dialoginfo.parse(document(2)))
    lingering = dialog("terminated", call_id="before-restart")
    tracker.apply(dialoginfo.parse(document(3, dialogs=lingering)))
    tracker.apply(dialoginfo.parse(document(4, dialogs=lingering + dialog("early"))))
    assert names(events) == ["RINGING"]
    assert events[0]["call"]["cid"] == "call-1"


def test_tracker_hold_and_resume():
    tracker, events = make_tracker()
    held = '<param pname="+sip.rendering" pval="no"/>'
    tracker.apply(dialoginfo.parse(document(1, dialogs=dialog("confirmed"))))
    tracker.apply(dialoginfo.parse(document(2, dialogs=dialog("confirmed", extra=held))))
    tracker.apply(dialoginfo.parse(document(3, dialogs=dialog("confirmed"))))
    assert names(events) == ["RINGING", "CONNECTED", "ON_HOLD", "CONNECTED"]


def test_tracker_ignores_own_legs():
    tracker, events = make_tracker()
    tracker.own_call_ids.add("call-1")
    tracker.apply(dialoginfo.parse(document(1, dialogs=dialog("early"))))
    assert events == []


def test_tracker_takes_the_display_name_from_target_when_identity_has_none():
    """Some PBXs put the caller's name only on ``<target>`` (the tracker's docstring)."""
    tracker, events = make_tracker()
    named_target = (
        '<dialog id="d-1" call-id="call-1" direction="recipient"><state>early</state>'
        "<remote><identity>sip:+4930123456@pbx.test</identity>"
        '<target uri="sip:+4930123456@127.0.0.1" display="Grace"/></remote></dialog>'
    )
    tracker.apply(dialoginfo.parse(document(1, dialogs=named_target)))
    assert names(events) == ["RINGING"]
    assert events[0]["call"]["sourceName"] == "Grace"
    assert events[0]["call"]["source"] == "+4930123456"


OFFER = (
    b"v=0\r\no=phone 100 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


@pytest.mark.parametrize(
    ("extra", "session", "held"),
    [
        ("", "", False),
        ("a=sendrecv\r\n", "", False),
        ("a=recvonly\r\n", "", False),
        ("a=sendonly\r\n", "", True),
        ("a=inactive\r\n", "", True),
        ("", "a=sendonly\r\n", True),  # session level, no media-level override
        ("a=sendrecv\r\n", "a=sendonly\r\n", False),  # media level wins
    ],
)
def test_sdp_hold_follows_the_direction_attributes(extra, session, held):
    body = OFFER.replace(b"t=0 0\r\n", f"t=0 0\r\n{session}".encode()) + extra.encode()
    assert sdp.is_hold(body) is held


def test_sdp_hold_the_rfc2543_way_and_refused_streams():
    assert sdp.is_hold(OFFER.replace(b"c=IN IP4 127.0.0.1", b"c=IN IP4 0.0.0.0"))
    # a refused stream (port 0) says nothing; no active stream at all is not hold
    assert not sdp.is_hold(OFFER.replace(b"m=audio 4000", b"m=audio 0") + b"a=sendonly\r\n")
    assert not sdp.is_hold(b"")


def test_sdp_version_is_read_and_set_without_touching_the_rest():
    assert sdp.origin_version(OFFER) == 7
    raised = sdp.with_version(OFFER, 12)
    assert sdp.origin_version(raised) == 12
    assert raised.replace(b" 12 IN", b" 7 IN") == OFFER
    assert sdp.origin_version(b"v=0\r\no=broken\r\n") is None
