"""The user agent: one per CTI user, watching and placing that user's calls.

It never registers a contact, so it is never one of the user's phones: it SUBSCRIBEs to the
dialog event package (RFC 4235) of the user's address to learn about every call of the
user's phones (see ``watch``), and places click-to-call by third-party call control (see
``clicktocall``).
"""

import dataclasses
import logging
import secrets
import time

from sipmessage import Request, Response

from . import drivers, sip
from .control import CallControl
from .digest import DigestClient
from .events import FINAL_EVENTS, Direction
from .leg import Leg
from .phone_control import PhoneControl
from .session import Session
from .tracker import FINISHED_MEMORY, CallTracker
from .transactions import TransactionLayer
from .transport import Backoff, WebSocketTransport
from .watch import LineWatch

_logger = logging.getLogger(__name__)

# Seconds a finished call is remembered, so that a control arriving late for it is told so.
ENDED_MEMORY = 600.0
# Finished calls remembered so, at most.
MAX_ENDED = 200


@dataclasses.dataclass
class AgentConfig:
    ws_url: str
    domain: str
    username: str
    password: str = dataclasses.field(repr=False)
    auth_username: str = ""
    display_name: str = ""
    default_country: str = ""
    verify_tls: bool = True
    ca_bundle: str = ""
    subscribe_expires: int = 600
    keepalive: float = 25.0
    ring_timeout: float = 25.0
    device_timeout: float = 30.0
    auto_answer_header: str = ""
    max_extension_length: int = 6
    backoff_base: float = 0.5
    # Full jitter draws each wait from [0, cap]: a cap of 8 s keeps every user within ~8 s
    # of a PBX that comes back (the promise is 10 s), while a dead PBX still sees at most
    # one attempt per user every 4 s on average.
    backoff_cap: float = 8.0


class UserAgent(Session, LineWatch, CallControl):
    """SIP user agent of one CTI user; events go to ``on_event(payload)``.

    Public methods may be called from any thread; all work runs in the reactor thread and
    every outcome, success or failure, arrives as an event.

    :param driver: the ``drivers.PbxDriver`` of the user's PBX, shared with the other users
        of that PBX (None: SIP only)
    """

    def __init__(self, config: AgentConfig, reactor, on_event, driver=None):
        self.config = config
        self.reactor = reactor
        self.on_event = on_event
        self.driver = driver or drivers.SipOnlyDriver()
        self.aor = f"sip:{config.username}@{config.domain}"
        self.contact_host = f"{secrets.token_hex(6)}.invalid"
        scheme = "WSS" if config.ws_url.lower().startswith("wss:") else "WS"
        self.via = f"SIP/2.0/{scheme} {self.contact_host}"
        self.contact = f"<sip:{secrets.token_hex(4)}@{self.contact_host};transport=ws>"
        self.state = "logged_out"  # connecting, ready, reconnecting, failed
        self.transport = WebSocketTransport(
            reactor,
            config.ws_url,
            self._on_open,
            self._on_frame,
            self._on_close,
            verify_tls=config.verify_tls,
            ca_bundle=config.ca_bundle or None,
            keepalive=config.keepalive,
        )
        self.transactions = TransactionLayer(
            reactor,
            self.transport.send,
            DigestClient(config.auth_username or config.username, config.password),
        )
        self.tracker = CallTracker(
            self.aor,
            config.username,
            config.display_name,
            self.emit,
            self._owns_line,
            self._own_destinations,
        )
        self.backoff = Backoff(config.backoff_base, config.backoff_cap)
        self._subscription = None
        self._refresh_timer = None
        self._retry_timer = None
        self._logged_in = False
        self._outage_reported = False
        self._click_to_calls = {}  # call id -> ClickToCall
        self._legs = {}  # SIP Call-ID -> (ClickToCall, Leg)
        self._to_tear_down = []  # ClickToCall whose legs to hang up once reconnected
        self._bridges = set()  # transferred ClickToCall still joining far end and target
        self._ending_subscription = None  # the subscription a logout is ending
        self._ended = {}  # call id -> monotonic time it ended, see ENDED_MEMORY
        # The phone answered INVITE/Replaces with 420: it cannot hand calls over.
        self._phone_refuses_replaces = False
        # Hosts (the other party's phone or trunk) that would not hand a call over to the
        # agent (see ``remote``): Hang up and Transfer by that way are not offered again.
        self._remote_refusals = set()
        self._remote_takeovers = {}  # observed call id -> RemoteTakeover under way
        self.phone_control = PhoneControl(self)  # the phone's answer/hold keys, where it takes them

    # -- public API (any thread) ----------------------------------------------------------

    def login(self):
        self.reactor.call_soon(self._login)

    def logout(self):
        self.reactor.call_soon(self._logout)

    def is_connected(self):
        return self.state == "ready"

    def call(self, destination):
        self.reactor.call_soon(self._call, destination)

    def answer(self, call_id):
        self.reactor.call_soon(self._answer, call_id)

    def terminate(self, call_id):
        self.reactor.call_soon(self._terminate, call_id)

    def transfer(self, call_id, destination):
        self.reactor.call_soon(self._transfer, call_id, destination)

    def consult(self, call_id, destination):
        """Ask-first transfer: call ``destination`` on a second line, the call on hold;
        then :meth:`complete` that line, or :meth:`terminate` it to go back to the call."""
        self.reactor.call_soon(self._transfer, call_id, destination, drivers.CONSULT)

    def complete(self, call_id):
        """Hand the held call over to the party of the ask-first line ``call_id``."""
        self.reactor.call_soon(self._driver_control, call_id, drivers.COMPLETE)

    def hold(self, call_id):
        self.reactor.call_soon(self._control, call_id, "hold")

    def resume(self, call_id):
        self.reactor.call_soon(self._control, call_id, "resume")

    def adopt_calls(self, calls):
        """Calls of this user that were reported before this agent started and never ended
        (``Call`` objects): a call still in progress on a PBX that gives calls no identity
        of their own continues with its id instead of starting again. Call before login."""
        self.reactor.call_soon(self.tracker.adopt, list(calls))

    def active_call_ids(self):
        """Ids of the calls this agent currently knows to be in progress.

        A host that restarted uses it to finish the calls it had logged before and that
        ended while nobody watched.
        """
        return self.reactor.run_sync(
            lambda: {call.id for call in self.tracker.active_calls} | set(self._click_to_calls)
        )

    # -- helpers used by ClickToCall ------------------------------------------------------

    def emit(self, payload):
        call = payload.get("call")
        if isinstance(call, dict):
            if call.get("direction") == Direction.OUTBOUND.value and not call.get("destination"):
                _key, tracked = self.tracker.find(call["id"])
                if tracked is not None and self.driver.fill_in(self, tracked):
                    call["destination"] = tracked.destination
            call["controls"] = self._controls(call)
            if call["status"] in FINAL_EVENTS:
                self._remember_ended(call["id"])
        try:
            self.on_event(payload)
        except Exception:
            _logger.exception(
                "CTI %s: event handler failed for %s", self.config.username, payload.get("name")
            )

    def uri_for(self, destination):
        return f"sip:{destination}@{self.config.domain}"

    def auto_answer_headers(self):
        header = self.config.auto_answer_header
        if header and ":" in header and not sip.CONTROL_CHARACTERS.search(header):
            name, value = header.split(":", 1)
            if sip.TOKEN.match(name.strip()):
                yield name.strip(), value.strip()

    def unusable_setting(self):
        """The account setting (of ``notices.SETTINGS``) that cannot go into SIP messages,
        or None.

        Checked at login, so that a user whose extension or domain would break a SIP
        header gets an ERROR instead of a session that sends nothing
        (``sip.serialize`` refuses such a message anyway).
        """
        config = self.config
        checks = (
            ("username", sip.check_user, config.username, "extension"),
            ("auth_username", sip.check_user, config.auth_username, "authentication user name"),
            ("domain", sip.check_host, config.domain, "SIP domain"),
            ("ws_url", sip.check_value, config.ws_url, "WebSocket URL"),
        )
        for setting, check, value, what in checks:
            if setting == "auth_username" and not value:
                continue
            try:
                check(value, what)
            except sip.UnsafeValue:
                return setting
        return None

    def send_invite(self, leg, body, headers, on_response):
        content_type = "application/sdp" if body else None

        def build(auth_headers):
            request = leg.request(
                "INVITE",
                self.via,
                self.contact,
                body=body,
                content_type=content_type,
                headers=[*headers, *auth_headers],
            )
            leg.invite_cseq = request.cseq.sequence
            return request

        return self.transactions.start(leg, build, on_response)

    def send_ack(self, leg, body=b"", content_type=None):
        ack = leg.request(
            "ACK",
            self.via,
            body=body,
            cseq=leg.invite_cseq,
            content_type=content_type if body else None,
        )
        frame = sip.serialize(ack)
        leg.last_ack = (leg.invite_cseq, frame)
        self.transport.send(frame)

    def send_bye(self, leg):
        self.transactions.start(
            leg,
            lambda headers: leg.request("BYE", self.via, headers=headers),
            lambda _response: None,
        )
        leg.confirmed = False

    def add_leg(self, c2c, leg):
        """A leg the agent places for ``c2c``: routed to it, never shown as a call."""
        self._legs[leg.call_id] = (c2c, leg)
        self.tracker.own_call_ids.add(leg.call_id)

    def click_to_call_transferred(self, c2c):
        """The user's call ended by transfer; the agent still bridges the two other sides."""
        self._click_to_calls.pop(c2c.call.id, None)
        self._bridges.add(c2c)

    def click_to_call_ended(self, c2c):
        self._click_to_calls.pop(c2c.call.id, None)
        self._bridges.discard(c2c)
        # Keep suppressing its legs while the PBX still lists them as terminated dialogs.
        self.reactor.call_later(FINISHED_MEMORY, self._forget_legs, c2c)

    def remote_bridged(self, takeover, bridge):
        """A transfer by ``remote`` completed: ``bridge`` joins the other party and the
        target from now on (their requests go to it)."""
        for leg in (bridge.far, bridge.target):
            self._legs[leg.call_id] = (bridge, leg)
        self._bridges.add(bridge)

    def _remember_ended(self, call_id):
        now = time.monotonic()
        self._ended[call_id] = now
        if len(self._ended) > MAX_ENDED:
            horizon = now - ENDED_MEMORY
            self._ended = {k: t for k, t in self._ended.items() if t >= horizon}
            while len(self._ended) > MAX_ENDED:
                self._ended.pop(next(iter(self._ended)))

    def _owns_line(self):
        """Whether a click-to-call of the agent has the user's phone ringing or talking."""
        return any(c2c.holds_device() for c2c in self._click_to_calls.values())

    def _own_destinations(self):
        """The numbers the agent's click-to-calls are calling now (far ends, transfer
        targets)."""
        numbers = set()
        for c2c in (*self._click_to_calls.values(), *self._bridges):
            numbers.add(c2c.call.destination)
            numbers.add(getattr(c2c, "transfer_destination", "") or c2c.call.transferredTo)
        numbers.discard("")
        return numbers

    def _forget_legs(self, c2c):
        for call_id in c2c.call_ids:
            self._legs.pop(call_id, None)
            self.tracker.own_call_ids.discard(call_id)

    def leg_to_self(self):
        """A new dialog usage (new Call-ID) from the user's address to itself, as the
        subscription and the requests to the user's phones (``phone_control``) are."""
        return Leg(
            sip.new_call_id(self.contact_host),
            self.aor,
            self.aor,
            self.aor,
            local_name=self.config.display_name,
        )

    # -- incoming traffic ----------------------------------------------------------------

    def _on_frame(self, frame):
        try:
            message = sip.parse(frame)
        except sip.MalformedMessage as exc:
            _logger.warning(
                "CTI %s: ignored a malformed message from the PBX: %s", self.config.username, exc
            )
            return
        try:
            if isinstance(message, Response):
                self._on_response(message)
            else:
                self._on_request(message)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            # sipmessage parses some headers (Contact, Record-Route, Expires) only when read:
            # a PBX message broken there fails here, and is one bad message like any other.
            _logger.warning(
                "CTI %s: could not act on a message from the PBX: %s: %s",
                self.config.username,
                type(exc).__name__,
                exc,
            )
            _logger.debug("CTI %s: the message was %r", self.config.username, frame[:2000])

    def _on_response(self, response):
        if self.transactions.handle_response(response):
            return
        # A retransmitted 2xx to an INVITE whose transaction ended: the same ACK again. A
        # click-to-call still waiting for the far end's answer has sent none yet: the ACK
        # that carries that answer will stop the retransmissions (the ring timeout keeps it
        # within the 32 s a phone retransmits for).
        entry = self._legs.get(response.headers.get("Call-ID"))
        if entry and response.cseq.method == "INVITE" and 200 <= response.code < 300:
            _, leg = entry
            if leg.last_ack is not None and leg.last_ack[0] == response.cseq.sequence:
                self.transport.send(leg.last_ack[1])

    def _on_request(self, request: Request):
        method = request.method
        if method == "ACK":
            return
        call_id = request.headers.get("Call-ID")
        if method == "NOTIFY":
            self._on_notify(request)
        elif method == "BYE" and call_id in self._legs:
            self._reply(request, 200, "OK")
            c2c, leg = self._legs[call_id]
            leg.confirmed = False
            c2c.on_bye(leg)
        elif method == "OPTIONS":
            response = sip.response_to(request, 200, "OK")
            response.headers.add("Allow", sip.ALLOWED_METHODS)
            self.transport.send(sip.serialize(response))
        elif method == "INVITE" and call_id in self._legs:
            # A re-INVITE from one side of a click-to-call (e.g. the phone holding).
            c2c, leg = self._legs[call_id]
            c2c.on_reinvite(leg, request)
        elif method in ("BYE", "CANCEL", "INVITE", "UPDATE"):
            self._reply(request, 481, "Call/Transaction Does Not Exist")
        else:
            response = sip.response_to(request, 405, "Method Not Allowed")
            response.headers.add("Allow", sip.ALLOWED_METHODS)
            self.transport.send(sip.serialize(response))

    def respond(self, request, code, phrase, body=b""):
        """Answer a request in one of the agent's dialogs; a 2xx to INVITE carries our
        Contact (the peer's new remote target) and ``body`` as an SDP answer."""
        response = sip.response_to(
            request, code, phrase, body=body, content_type="application/sdp" if body else None
        )
        if request.method == "INVITE" and 200 <= code < 300:
            response.headers.add("Contact", self.contact)
            response.headers.add("Allow", sip.ALLOWED_METHODS)
        self.transport.send(sip.serialize(response))

    def _reply(self, request, code, phrase):
        to_tag = None
        if sip.header_param(request.headers.get("To", ""), "tag") is None:
            to_tag = sip.new_tag()
        self.transport.send(sip.serialize(sip.response_to(request, code, phrase, to_tag=to_tag)))
