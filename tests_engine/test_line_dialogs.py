"""Line dialogs: dialog-info built from an extension's device state, as Asterisk sends it.

The documents below are shaped like those Asterisk 22 sends (res_pjsip_dialog_info_body_
generator): one ``<dialog>`` whose id is the extension, no call-id, the caller only while
``early``, every document full. The same scenarios run against a real Asterisk in
``test_asterisk.py``.
"""

from cti_engine import dialoginfo
from cti_engine.events import Call, Direction
from cti_engine.tracker import CallTracker

HELD = (
    '<local><target uri="sip:1001@pbx.test">'
    '<param pname="+sip.rendering" pvalue="no"/></target></local>'
)


class Line:
    """A tracker fed with documents of one extension, versions counted like Asterisk's."""

    def __init__(self, owns_line=False):
        self.events = []
        self.owns = owns_line
        self.tracker = CallTracker(
            "sip:1001@pbx.test", "1001", "Alice", self.events.append, lambda: self.owns
        )
        self.version = 0

    def send(self, state, caller=None, name="", extra="", version=None):
        dialog = ""
        if state is not None:
            parts = ""
            attrs = ""
            if caller is not None:
                attrs = ' direction="recipient"'
                parts = (
                    f'<remote><identity display="{name}">sip:{caller}@pbx.test</identity>'
                    f'<target uri="sip:{caller}@pbx.test"/></remote>'
                    '<local><identity display="Alice">sip:1001@pbx.test</identity>'
                    '<target uri="sip:1001@pbx.test"/></local>'
                )
            dialog = f'<dialog id="1001"{attrs}>{parts}<state>{state}</state>{extra}</dialog>'
        self.version = self.version + 1 if version is None else version
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" '
            f'version="{self.version}" state="full" entity="sip:1001@pbx.test">{dialog}'
            "</dialog-info>"
        )
        return self.tracker.apply(dialoginfo.parse(body.encode()))

    def calls(self):
        """[(event name, call id, source, destination, direction, cause)] so far."""
        return [
            (
                e["name"],
                e["call"]["id"],
                e["call"]["source"],
                e["call"]["destination"],
                e["call"]["direction"],
                e["call"]["cause"],
            )
            for e in self.events
        ]

    def names(self):
        return [e["name"] for e in self.events]


def test_idle_first_then_three_inbound_calls_each_its_own():
    """Asterisk's first document says ``terminated``: that is idle, not a finished call."""
    line = Line()
    line.send("terminated")
    for number in ("+4930111", "+4930222", "+4930333"):
        line.send("early", number, "Caller")
        line.send("confirmed")
        line.send("terminated")
    assert line.names() == ["RINGING", "CONNECTED", "HANGUP"] * 3
    ids = [e["call"]["id"] for e in line.events]
    assert len(set(ids)) == 3
    for index, number in enumerate(("+4930111", "+4930222", "+4930333")):
        events = line.events[index * 3 : index * 3 + 3]
        assert {e["call"]["id"] for e in events} == {events[0]["call"]["id"]}
        # The caller announced while early stays on every later event.
        assert {e["call"]["source"] for e in events} == {number}
        assert {e["call"]["sourceName"] for e in events} == {"Caller"}
        assert {e["call"]["direction"] for e in events} == {"INBOUND"}
    assert line.events[2]["call"]["cause"] == "hangup"


def test_missed_call_then_a_colleague_calling():
    line = Line()
    line.send("terminated")
    line.send("early", "+4930111", "Ada")
    line.send("early", "+4930111", "Ada")  # the same announcement again
    line.send("terminated")
    line.send("early", "1002", "Bob")
    line.send("confirmed")
    line.send("terminated")
    assert line.names() == ["RINGING", "CANCEL", "RINGING", "CONNECTED", "HANGUP"]
    assert line.events[1]["call"]["cause"] == "missed"
    assert line.events[2]["call"]["source"] == "1002"
    assert line.events[2]["call"]["sourceName"] == "Bob"
    assert line.events[0]["call"]["id"] != line.events[2]["call"]["id"]


def test_call_dialled_on_the_phone_is_outbound_without_a_number():
    line = Line()
    line.send("terminated")
    line.send("confirmed")
    line.send("confirmed")  # repeated: still one call
    line.send("terminated")
    assert line.names() == ["RINGING", "CONNECTED", "HANGUP"]
    call = line.events[-1]["call"]
    assert call["direction"] == "OUTBOUND"
    assert call["source"] == "1001"
    assert call["destination"] == ""


def test_second_call_ringing_during_a_first_is_a_call_of_its_own():
    line = Line()
    line.send("terminated")
    line.send("early", "+4930111", "Ada")
    line.send("confirmed")
    line.send("early", "+4930222", "Grace")  # notify_early_inuse_ringing=yes
    line.send("confirmed")  # the second caller gave up
    line.send("terminated")
    first, second = line.events[0]["call"]["id"], line.events[2]["call"]["id"]
    assert first != second
    assert line.calls() == [
        ("RINGING", first, "+4930111", "1001", "INBOUND", ""),
        ("CONNECTED", first, "+4930111", "1001", "INBOUND", ""),
        ("RINGING", second, "+4930222", "1001", "INBOUND", ""),
        ("CANCEL", second, "+4930222", "1001", "INBOUND", "missed"),
        ("HANGUP", first, "+4930111", "1001", "INBOUND", "hangup"),
    ]


def test_two_callers_ringing_at_once():
    """The PBX announces the oldest ringing call; when it changes, the first stopped."""
    line = Line()
    line.send("early", "+4930111")
    line.send("early", "+4930222")
    line.send("confirmed")
    line.send("terminated")
    assert line.names() == ["RINGING", "CANCEL", "RINGING", "CONNECTED", "HANGUP"]
    assert line.events[1]["call"]["source"] == "+4930111"
    assert line.events[3]["call"]["source"] == "+4930222"


def test_hold_as_asterisk_writes_it():
    """Asterisk writes the +sip.rendering value as ``pvalue`` (RFC 4235 says ``pval``)."""
    line = Line()
    line.send("early", "+4930111")
    line.send("confirmed")
    line.send("confirmed", extra=HELD)
    line.send("confirmed")
    line.send("terminated")
    assert line.names() == ["RINGING", "CONNECTED", "ON_HOLD", "CONNECTED", "HANGUP"]


def test_own_click_to_call_leg_is_never_a_call():
    """The agent's INVITE to the phone rings it with the user's own number as the caller."""
    line = Line()
    line.send("terminated")
    line.send("early", "1001", "Alice")
    line.send("confirmed")
    line.send("terminated")
    # Answered so fast that the PBX never said early: the agent owns the line then.
    line.owns = True
    line.send("confirmed")
    line.owns = False
    line.send("confirmed")
    line.send("terminated")
    assert line.events == []
    # ... and a real call afterwards is reported.
    line.send("early", "+4930111")
    assert line.names() == ["RINGING"]


def test_own_leg_announced_before_the_pbx_knew_the_caller_is_never_a_call():
    """Asterisk, for a phone that answers the agent's INVITE at once, may say ``early``
    with no remote party at all: while the agent rings the phone itself, that is its leg."""
    line = Line()
    line.send("terminated")
    line.owns = True
    line.send("early", extra="")
    line.send("confirmed")
    line.owns = False
    line.send("terminated")
    assert line.events == []
    # Without a click-to-call of the agent, a ringing line with no party is a call.
    line.send("early")
    assert line.names() == ["RINGING"]


def test_contradictions_neither_invent_nor_lose_a_call():
    line = Line()
    line.send("early", "+4930111")
    line.send("confirmed")
    assert not line.send("terminated", version=1)  # a version going back: ignored
    line.send(None)  # a document with no dialog at all
    line.send("confirmed")
    assert line.names() == ["RINGING", "CONNECTED"]
    line.send("terminated")
    assert line.names() == ["RINGING", "CONNECTED", "HANGUP"]


def test_resubscription_keeps_a_call_in_progress_and_a_pbx_restart_ends_it():
    line = Line()
    line.send("early", "+4930111")
    line.send("confirmed")
    # The connection dropped; the new subscription's versions start again.
    line.tracker.new_subscription()
    line.send("confirmed", version=0)
    assert line.names() == ["RINGING", "CONNECTED"]
    # The PBX restarted: the line is idle, the call is over, the next one rings.
    line.tracker.new_subscription()
    line.send("terminated", version=0)
    line.send("early", "+4930222")
    assert line.names() == ["RINGING", "CONNECTED", "HANGUP", "RINGING"]
    assert line.events[-1]["call"]["source"] == "+4930222"


def test_adopted_call_continues_with_its_id():
    """A service restart mid-call: the call logged before goes on under the same id."""
    line = Line()
    before = Call(
        id="logged-before",
        cid="",
        direction=Direction.INBOUND,
        source="+4930111",
        destination="1001",
        status="CONNECTED",
    )
    line.tracker.adopt([before])
    line.send("confirmed", version=0)
    line.send("terminated")
    assert line.calls() == [("HANGUP", "logged-before", "+4930111", "1001", "INBOUND", "hangup")]


def test_adoptable_calls_are_dropped_when_the_line_is_idle():
    line = Line()
    line.tracker.adopt([Call(id="gone", cid="", direction=Direction.OUTBOUND, status="RINGING")])
    line.send("terminated", version=0)
    line.send("confirmed")
    assert line.events[0]["call"]["id"] != "gone"
    assert line.tracker.active_calls[0].id != "gone"


def test_own_far_leg_ringing_is_never_a_call():
    """Asterisk counts the agent's INVITE to the far end as the extension's (the agent
    authenticates as it): when the far end rings, the line shows it ringing with the far
    end's number."""
    line = Line(owns_line=True)
    line.tracker.own_destinations = lambda: {"+4989555000"}
    line.send("early", "1001", "Alice")
    line.send("confirmed")
    line.send("early", "+4989555000")
    line.send("confirmed")
    line.send("terminated")
    assert line.events == []
    # Any other caller ringing meanwhile is a call.
    line.send("early", "1001", "Alice")
    line.send("confirmed")
    line.send("early", "+4930111")
    assert line.names() == ["RINGING"]
