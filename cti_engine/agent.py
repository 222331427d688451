"""The user agent: one per CTI user, watching and placing that user's calls.

It never registers a contact, so it is never one of the user's phones: it SUBSCRIBEs to the
dialog event package (RFC 4235) of the user's address to learn about every call of the
user's phones, and places click-to-call by third-party call control (see ``clicktocall``).
"""

import dataclasses
import logging
import secrets
from urllib.parse import urlsplit

from sipmessage import Request, Response

from . import dialoginfo, sip
from .clicktocall import ClickToCall
from .digest import DigestClient
from .events import CallEvent, Direction, activity
from .leg import Leg
from .phone import InvalidDestination, normalize_destination
from .takeover import Takeover
from .tracker import FINISHED_MEMORY, CallTracker
from .transactions import TransactionLayer
from .transport import Backoff, WebSocketTransport

_logger = logging.getLogger(__name__)

DIALOG_INFO = "application/dialog-info+xml"
CONNECTION_LOST = "connection to the PBX lost"


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


class UserAgent:
    """SIP user agent of one CTI user; events go to ``on_event(payload)``.

    Public methods may be called from any thread; all work runs in the reactor thread and
    every outcome, success or failure, arrives as an event.
    """

    def __init__(self, config: AgentConfig, reactor, on_event):
        self.config = config
        self.reactor = reactor
        self.on_event = on_event
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
        self.tracker = CallTracker(self.aor, config.username, config.display_name, self.emit)
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

    def hold(self, call_id):
        self.reactor.call_soon(self._control, call_id, "hold")

    def resume(self, call_id):
        self.reactor.call_soon(self._control, call_id, "resume")

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
        if header and ":" in header and not any(ch in header for ch in "\r\n\0"):
            name, value = header.split(":", 1)
            yield name.strip(), value.strip()

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
        self.transport.send(sip.serialize(ack))

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

    def _forget_legs(self, c2c):
        for call_id in c2c.call_ids:
            self._legs.pop(call_id, None)
            self.tracker.own_call_ids.discard(call_id)

    # -- login, subscription, reconnection -------------------------------------------------

    def _login(self):
        if self.state in ("connecting", "ready", "reconnecting"):
            self.emit(activity("INFO", "Already logged in."))
            return
        self.state = "connecting"
        self._outage_reported = False
        self.backoff.reset()
        self.transport.connect()

    def _logout(self):
        if self.state == "logged_out":
            self.emit(activity("INFO", "Not logged in."))
            return
        was_ready = self.state == "ready"
        self.state = "logged_out"
        for c2c in [*self._click_to_calls.values(), *self._bridges]:
            c2c.terminate("logged out")
        if was_ready and self._subscription is not None:
            leg = self._subscription
            request = leg.request(
                "SUBSCRIBE", self.via, self.contact, headers=[("Event", "dialog"), ("Expires", "0")]
            )
            self.transport.send(sip.serialize(request))
        self._stop_timers()
        self._to_tear_down.clear()
        self.transactions.clear()
        self.transport.close()
        self._subscription = None
        self._logged_in = False
        self.emit(activity("LOGGED_OUT", "Logged out."))

    def _on_open(self):
        self._subscribe()
        orphans, self._to_tear_down = self._to_tear_down, []
        for c2c in orphans:
            c2c.tear_down()

    def _abandon_click_to_calls(self, cause):
        for c2c in [*self._click_to_calls.values(), *self._bridges]:
            if c2c.connection_lost(cause):
                self._to_tear_down.append(c2c)

    def _subscribe(self):
        leg = Leg(
            sip.new_call_id(self.contact_host),
            self.aor,
            self.aor,
            self.aor,
            local_name=self.config.display_name,
        )
        self._subscription = leg
        self.tracker.new_subscription()
        self._send_subscribe(leg)

    def _send_subscribe(self, leg):
        def build(auth_headers):
            return leg.request(
                "SUBSCRIBE",
                self.via,
                self.contact,
                headers=[
                    ("Event", "dialog"),
                    ("Accept", DIALOG_INFO),
                    ("Expires", str(self.config.subscribe_expires)),
                    ("Allow", sip.ALLOWED_METHODS),
                    *auth_headers,
                ],
            )

        self.transactions.start(leg, build, lambda response: self._subscribed(leg, response))

    def _subscribed(self, leg, response):
        if leg is not self._subscription or response.code < 200:
            return
        if response.code < 300:
            leg.establish(response)
            leg.confirmed = True
            try:
                expires = response.expires or self.config.subscribe_expires
            except ValueError:  # an unreadable Expires: keep asking for what we asked
                expires = self.config.subscribe_expires
            self._refresh_timer = self.reactor.call_later(max(5, expires * 0.8), self._refresh)
            if self.state != "ready":
                self.state = "ready"
                self.backoff.reset()
                self._outage_reported = False
                if not self._logged_in:
                    self._logged_in = True
                    self.emit(activity("LOGGED_IN", f"Logged in as {self.config.username}."))
                self.emit(activity("READY", "Connected to the PBX."))
            return
        if response.code in (401, 403, 407):
            self._fail(
                f"The PBX refused the credentials of {self.config.username} "
                f"({response.code}): check the SIP username and password."
            )
        elif response.code == 481 and leg.confirmed:
            self._subscribe()
        elif response.code in (408, 503) and not self.transport.connected:
            return  # the connection is gone; _on_close handles it
        else:
            self.emit(
                activity(
                    "ERROR",
                    f"The PBX refused to report calls ({response.code} "
                    f"{response.phrase}); retrying.",
                )
            )
            self._schedule_retry(self._subscribe, 60.0)

    def _refresh(self):
        leg = self._subscription
        if leg is None or self.state != "ready":
            return
        self._send_subscribe(leg)

    def _fail(self, message):
        for c2c in list(self._click_to_calls.values()):
            c2c.terminate(CONNECTION_LOST)  # while the connection is still there
        self._to_tear_down.clear()
        self.state = "failed"
        self._stop_timers()
        self.transactions.clear()
        self.transport.close()
        self._subscription = None
        self.emit(activity("ERROR", message))

    def _on_close(self, reason):
        self.transactions.clear()
        self._subscription = None
        if self._refresh_timer:
            self._refresh_timer.cancel()
        if self.state in ("logged_out", "failed"):
            return
        self._abandon_click_to_calls(CONNECTION_LOST)
        was_ready = self.state == "ready"
        # The state first: whoever receives the ERROR reads it as "reconnecting".
        self.state = "reconnecting"
        if not self._outage_reported:
            self._outage_reported = True
            if was_ready:
                message = f"Lost the connection to the PBX ({reason}); reconnecting."
            else:
                message = (
                    f"Cannot reach the PBX at {_safe_url(self.config.ws_url)} ({reason}); retrying."
                )
            self.emit(activity("ERROR", message))
        self._schedule_retry(self.transport.connect, self.backoff.next_delay())

    def _schedule_retry(self, action, delay):
        if self._retry_timer:
            self._retry_timer.cancel()
        self._retry_timer = self.reactor.call_later(delay, action)

    def _stop_timers(self):
        for timer in (self._refresh_timer, self._retry_timer):
            if timer:
                timer.cancel()
        self._refresh_timer = self._retry_timer = None

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
        # A retransmitted 2xx to an INVITE whose transaction ended: our ACK was lost.
        entry = self._legs.get(response.headers.get("Call-ID"))
        if entry and response.cseq.method == "INVITE" and 200 <= response.code < 300:
            _, leg = entry
            if leg.confirmed and leg.invite_cseq == response.cseq.sequence:
                self.send_ack(leg)

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

    def _on_notify(self, request):
        leg = self._subscription
        if leg is None or request.headers.get("Call-ID") != leg.call_id:
            self._reply(request, 481, "Subscription Does Not Exist")
            return
        self._reply(request, 200, "OK")
        leg.establish_from_request(request)
        state = (request.headers.get("Subscription-State") or "").split(";", 1)[0].strip().lower()
        body = request.body
        content_type = (request.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if not body and state in ("active", "pending"):
            self.tracker.apply_empty()
        elif body and content_type == DIALOG_INFO:
            try:
                info = dialoginfo.parse(body)
            except dialoginfo.MalformedDocument as exc:
                _logger.warning(
                    "CTI %s: ignored a malformed dialog-info document: %s",
                    self.config.username,
                    exc,
                )
            else:
                self.tracker.apply(info)
        if state == "terminated" and self.state == "ready":
            self._subscribe()

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

    # -- call control ----------------------------------------------------------------------

    def _normalized(self, destination):
        """The destination as E.164 or an extension; None (and an ERROR event) if invalid."""
        try:
            return normalize_destination(
                destination, self.config.default_country, self.config.max_extension_length
            )
        except InvalidDestination as exc:
            self.emit(activity("ERROR", str(exc)))
            return None

    def _call(self, destination):
        number = self._normalized(destination)
        if number is None:
            return
        if self.state != "ready":
            self.emit(activity("ERROR", "Not connected to the PBX: the call was not placed."))
            return
        c2c = ClickToCall(self, number)
        self._click_to_calls[c2c.call.id] = c2c
        for leg in (c2c.device, c2c.far):
            self.add_leg(c2c, leg)
        c2c.start()

    def _answer(self, call_id):
        _key, call = self.tracker.find(call_id)
        if call is None:
            self.emit(activity("ERROR", f"No call {call_id} to answer."))
            return
        self.emit(activity("INFO", "Your phone cannot be answered from Odoo: pick it up."))

    def _terminate(self, call_id):
        c2c = self._click_to_calls.get(call_id)
        if c2c is not None:
            c2c.terminate()
            return
        key, call = self.tracker.find(call_id)
        if call is None:
            self.emit(activity("ERROR", f"No call {call_id} to hang up."))
            return
        if call.direction is Direction.INBOUND and call.status == CallEvent.RINGING.value:
            # RFC 3891 §3: a phone answers 481 to a Replaces naming an early dialog it did not
            # initiate, and an inbound call ringing on it is exactly that; trying would only
            # ring a second call on some phones. Declining is up to the phone.
            self.emit(
                activity(
                    "INFO",
                    "A call still ringing cannot be ended from Odoo: decline it on your phone.",
                )
            )
            return
        tags = self.tracker.dialog_tags(key)
        if tags is None:
            self.emit(
                activity("INFO", "This call cannot be ended from Odoo: hang up on your phone.")
            )
            return
        takeover = Takeover(self, call, tags, self._takeover_done)
        self.tracker.own_call_ids.add(takeover.leg.call_id)
        # Before the INVITE: a phone may hang the old call up before it answers ours.
        self.tracker.ended_by_agent(call.id, "terminated")
        takeover.start()

    def _takeover_done(self, takeover):
        if not takeover.replaced:
            self.tracker.ended_by_agent(takeover.call.id, None)
        # The PBX may still list the takeover dialog for a while: keep it hidden as long.
        self.reactor.call_later(
            FINISHED_MEMORY, self.tracker.own_call_ids.discard, takeover.leg.call_id
        )

    def _control(self, call_id, action):
        c2c = self._click_to_calls.get(call_id)
        if c2c is not None:
            refusal = c2c.hold() if action == "hold" else c2c.resume()
            if refusal:
                self.emit(activity("INFO", refusal))
            return
        self._unsupported_control(call_id, action)

    def _transfer(self, call_id, destination):
        number = self._normalized(destination)
        if number is None:
            return
        c2c = self._click_to_calls.get(call_id)
        if c2c is not None:
            refusal = c2c.transfer(number)
            if refusal:
                self.emit(activity("INFO", refusal))
            return
        self._unsupported_control(call_id, "transfer")

    def _unsupported_control(self, call_id, action):
        if self.tracker.find(call_id)[1] is None:
            self.emit(activity("ERROR", f"No call {call_id} to {action}."))
            return
        # A call the agent only observes: its signalling does not pass through the agent.
        self.emit(activity("INFO", f"{action.capitalize()} is not available for this call yet."))


def _safe_url(url):
    """The URL without any user:password part, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
