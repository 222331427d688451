"""The agent's session: login and logout, and the connection to the PBX going up and down.

A mixin of :class:`~.agent.UserAgent`, in the reactor thread like the rest of the agent.
A login opens the WebSocket connection; once it is open the agent subscribes to the user's
line (``watch``), whose first 2xx makes it READY. A connection that drops or cannot be made
is retried with backoff, without limit, and reported once per outage (why, in the codes of
``notices.REASONS``). A setting that cannot work fails the session instead, until the next
login: an account setting that cannot go into SIP, credentials the PBX refuses, or a PBX
that will not report the user's calls (``watch``).
"""

from . import notices
from .events import LOGGED_OUT, PBX_CONNECTION_LOST, activity
from .notices import notice
from .transport import safe_url


class Session:
    """Login, logout and reconnection of a :class:`~.agent.UserAgent`."""

    def _login(self):
        if self.state in ("connecting", "ready", "reconnecting"):
            self.emit(activity("INFO", notices.ALREADY_LOGGED_IN))
            return
        problem = self.unusable_setting()
        if problem:
            self.state = "failed"
            self.emit(activity("ERROR", notices.ACCOUNT_UNUSABLE, setting=problem))
            return
        if self.transport.connected:  # still closing after a logout
            self._disconnect_now()
        self.state = "connecting"
        self._outage_reported = False
        self.backoff.reset()
        self.phone_control.reset()
        self.transport.connect()

    def _logout(self):
        if self.state == "logged_out":
            self.emit(activity("INFO", notices.NOT_LOGGED_IN))
            return
        was_ready = self.state == "ready"
        self.state = "logged_out"
        self.driver.detach(self)
        for c2c in [*self._click_to_calls.values(), *self._bridges]:
            c2c.terminate(LOGGED_OUT)
        for takeover in list(self._remote_takeovers.values()):
            takeover.terminate()
        self._stop_timers()
        self._to_tear_down.clear()
        leg, self._subscription = self._subscription, None
        self._logged_in = False
        self.emit(activity("LOGGED_OUT", notices.LOGGED_OUT))
        if was_ready and leg is not None and leg.confirmed:
            self._ending_subscription = leg
            self._unsubscribe(leg)
        else:
            self._disconnect()

    def _disconnect(self):
        if self.state == "logged_out":  # else logged in again meanwhile, on a new connection
            self._disconnect_now()

    def _disconnect_now(self):
        self._ending_subscription = None
        self.transactions.clear()
        self.transport.close()

    def _on_open(self):
        self._subscribe()
        orphans, self._to_tear_down = self._to_tear_down, []
        for c2c in orphans:
            c2c.tear_down()

    def _abandon_click_to_calls(self, cause):
        for takeover in list(self._remote_takeovers.values()):
            takeover.terminate()  # the call goes on as it was, on the phone
        for c2c in [*self._click_to_calls.values(), *self._bridges]:
            if c2c.connection_lost(cause):
                self._to_tear_down.append(c2c)

    def _fail(self, why):
        self.driver.detach(self)
        for c2c in list(self._click_to_calls.values()):
            c2c.terminate(PBX_CONNECTION_LOST)  # while the connection is still there
        self._to_tear_down.clear()
        self.state = "failed"
        self._stop_timers()
        self.transactions.clear()
        self.transport.close()
        self._subscription = None
        self.emit(activity("ERROR", why))

    def _on_close(self, why):
        self.transactions.clear()
        self._subscription = None
        if self._refresh_timer:
            self._refresh_timer.cancel()
        if self.state in ("logged_out", "failed"):
            return
        self._abandon_click_to_calls(PBX_CONNECTION_LOST)
        was_ready = self.state == "ready"
        # The state first: whoever receives the ERROR reads it as "reconnecting".
        self.state = "reconnecting"
        if not self._outage_reported:
            self._outage_reported = True
            if was_ready:
                problem = notice(notices.CONNECTION_LOST, **why)
            else:
                problem = notice(notices.PBX_UNREACHABLE, url=safe_url(self.config.ws_url), **why)
            self.emit(activity("ERROR", problem))
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
