"""Watching the user's line: the agent's subscription to the dialog event package
(RFC 4235) of the user's address, which tells it about every call of the user's phones.

A mixin of :class:`~.agent.UserAgent`, in the reactor thread like the rest of the agent.
The subscription's first 2xx makes the agent READY; each NOTIFY goes to the tracker
(``tracker``), which turns dialogs into calls; a logout ends the subscription before the
connection closes, so that the PBX's last NOTIFY has somewhere to go.
"""

import logging

from . import dialoginfo, notices, sip
from .events import activity
from .notices import notice

_logger = logging.getLogger(__name__)

DIALOG_INFO = "application/dialog-info+xml"
# Seconds a logout waits for the PBX to confirm the end of the subscription.
UNSUBSCRIBE_WAIT = 2.0
# Answers to our SUBSCRIBE that a setting of the PBX causes, and which setting it is.
SUBSCRIBE_REFUSALS = {
    403: notices.CREDENTIALS_REFUSED,
    404: notices.NO_CALL_STATE,  # Asterisk: the extension has no hint
    489: notices.EVENTS_NOT_SUPPORTED,
    603: notices.WATCHING_FORBIDDEN,  # Asterisk: allow_subscribe=no on the endpoint
}


class LineWatch:
    """The subscription of a :class:`~.agent.UserAgent` (see the module docstring)."""

    def _subscribe(self):
        leg = self.leg_to_self()
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
            # Ask again what the phone takes: the user may have changed phones meanwhile.
            self.phone_control.probe()
            if self.state != "ready":
                self.state = "ready"
                self.backoff.reset()
                self._outage_reported = False
                if not self._logged_in:
                    self._logged_in = True
                    self.emit(activity("LOGGED_IN", notices.LOGGED_IN, user=self.config.username))
                self.emit(activity("READY", notices.CONNECTED))
                self.driver.attach(self)
            return
        if response.code in (401, 407):
            self._fail(
                notice(notices.CREDENTIALS_REFUSED, user=self.config.username, status=response.code)
            )
        elif response.code in SUBSCRIBE_REFUSALS:
            self._fail(
                notice(
                    SUBSCRIBE_REFUSALS[response.code],
                    user=self.config.username,
                    status=response.code,
                )
            )
        elif response.code == 481 and leg.confirmed:
            self._subscribe()
        elif response.code in (408, 503) and not self.transport.connected:
            return  # the connection is gone; _on_close handles it
        else:
            self.emit(
                activity(
                    "ERROR",
                    notices.WATCHING_REFUSED,
                    status=f"{response.code} {response.phrase}",
                )
            )
            self._schedule_retry(self._subscribe, 60.0)

    def _refresh(self):
        leg = self._subscription
        if leg is None or self.state != "ready":
            return
        self._send_subscribe(leg)

    def _unsubscribe(self, leg):
        """End the subscription, and close the connection once the PBX has answered (or
        after a moment): closing first leaves the PBX's final NOTIFY nowhere to go."""
        closing = self.reactor.call_later(UNSUBSCRIBE_WAIT, self._disconnect)

        def answered(response):
            if response.code >= 200 and self.state == "logged_out":
                closing.cancel()
                self._disconnect()

        self.transactions.start(
            leg,
            lambda auth_headers: leg.request(
                "SUBSCRIBE",
                self.via,
                self.contact,
                headers=[("Event", "dialog"), ("Expires", "0"), *auth_headers],
            ),
            answered,
        )

    def _on_notify(self, request):
        leg = self._subscription
        call_id = request.headers.get("Call-ID")
        ending = self._ending_subscription
        if ending is not None and call_id == ending.call_id:
            self._reply(request, 200, "OK")  # the final NOTIFY of a logout's un-SUBSCRIBE
            return
        if leg is None or call_id != leg.call_id:
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
