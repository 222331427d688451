"""A small client of the Asterisk Manager Interface (AMI), on the engine's reactor.

AMI is a TCP stream of messages, each a block of ``Key: Value`` lines ended by an empty
line; the first line of the stream is a banner (``Asterisk Call Manager/<version>``). The
client sends actions with an ``ActionID`` and hands each response to the callback of its
action; every other message with an ``Event`` key goes to ``on_event``.

Written here rather than taken from PyPI: the maintained client (``panoramisk``) is built on
asyncio, while the engine runs one reactor thread and a reader thread per connection (see
``reactor``). Like the SIP transport, one reader thread per connection only splits the
stream into messages and hands them to the reactor, so everything else needs no lock.

What comes from the PBX is bounded: a line longer than ``MAX_LINE``, a message longer than
``MAX_MESSAGE`` or with more than ``MAX_FIELDS`` lines is dropped whole (one warning),
lines without a colon are ignored, and bytes that are not UTF-8 are replaced. Nothing from
outside ends the connection except the connection itself ending.

What goes to the PBX is checked: a key or value with a line break would start another
action (AMI has no escaping), so :meth:`AmiClient.send_action` refuses it.
"""

import itertools
import logging
import re
import secrets
import socket
import threading

from .notices import (
    REASON_CANNOT_CONNECT,
    REASON_CLOSED_BY_PBX,
    REASON_CONNECTION_BROKEN,
    connection_reason,
)
from .transport import Backoff

_logger = logging.getLogger(__name__)

MAX_LINE = 8192
MAX_MESSAGE = 65536
MAX_FIELDS = 256
ACTION_TIMEOUT = 10.0
KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
UNSAFE_VALUE = re.compile(r"[\x00-\x1f\x7f]")
# The Manager Interface's own words for a refused login.
LOGIN_REFUSED = "authentication failed"


class UnsafeAction(ValueError):
    """An action whose key or value cannot be sent as one AMI action."""


def parse_message(lines):
    """One AMI message from its lines: a dict, keys as sent (the first of a repeated key
    wins, except ``ChanVariable``-style keys, which are rarely needed and so dropped)."""
    message = {}
    for line in lines:
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not KEY.match(key):
            continue
        message.setdefault(key, value.strip())
    return message


class MessageSplitter:
    """Turns the bytes of an AMI stream into messages (lists of lines), within the limits."""

    def __init__(self):
        self._buffer = b""
        self._lines = []
        self._size = 0
        self._skipping = False  # inside a message that broke a limit, until its end
        self.banner = None
        self.dropped = 0

    def feed(self, data):
        """Returns the messages (lists of ``str`` lines) completed by ``data``."""
        self._buffer += data
        messages = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    self._drop_current()
                    self._buffer = b""
                return messages
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if self.banner is None:
                self.banner = line[:200]
                continue
            if not line:
                if self._lines and not self._skipping:
                    messages.append(self._lines)
                self._lines, self._size, self._skipping = [], 0, False
                continue
            if self._skipping:
                continue
            self._size += len(raw) + 1
            if len(raw) > MAX_LINE or self._size > MAX_MESSAGE or len(self._lines) >= MAX_FIELDS:
                self._drop_current()
                continue
            self._lines.append(line)

    def _drop_current(self):
        if not self._skipping:
            self.dropped += 1
            _logger.warning("CTI AMI: dropped a message from the PBX beyond the size limits")
        self._lines, self._size, self._skipping = [], 0, True


def format_action(action, fields, action_id):
    """The bytes of one action; raises :class:`UnsafeAction` for a line break anywhere."""
    lines = [("Action", action), ("ActionID", action_id), *fields.items()]
    out = []
    for key, value in lines:
        text = str(value)
        if not KEY.match(key) or UNSAFE_VALUE.search(text):
            raise UnsafeAction(f"{key!r} cannot be sent to the Manager Interface")
        out.append(f"{key}: {text}\r\n")
    return ("".join(out) + "\r\n").encode()


class AmiClient:
    """One Manager Interface connection, kept up with backoff; callbacks in the reactor.

    :param on_event: ``on_event(message)`` for every event (a dict)
    :param on_state: ``on_state(state, why)`` when the state changes: ``"ready"`` once
        logged in, ``"down"`` when the connection is lost or cannot be made (retrying),
        ``"refused"`` when the PBX refuses the login (retrying too, more slowly: a secret
        may be fixed on the PBX side). ``why`` is ``{}``, or for ``"down"`` the params of
        :func:`notices.connection_reason`, or for ``"refused"`` ``{"reason": the PBX's
        message}``
    """

    def __init__(
        self,
        reactor,
        host,
        port,
        username,
        secret,
        on_event,
        on_state,
        events="call",
        connect_timeout=5.0,
        backoff_base=0.5,
        backoff_cap=30.0,
    ):
        self.reactor = reactor
        self.host = host
        self.port = int(port)
        self.username = username
        self._secret = secret
        self.on_event = on_event
        self.on_state = on_state
        self.events = events
        self.connect_timeout = connect_timeout
        self.backoff = Backoff(backoff_base, backoff_cap)
        self.state = "stopped"  # connecting, ready, down, refused
        self._sock = None
        self._send_lock = threading.Lock()
        self._generation = 0
        self._pending = {}  # ActionID -> (callback, timer)
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(4)
        self._retry_timer = None
        self._reported = "stopped"  # the last state told to on_state

    def __repr__(self):
        return f"<AmiClient {self.username}@{self.host}:{self.port} {self.state}>"

    # -- lifecycle (reactor thread) --------------------------------------------------------

    def start(self):
        if self.state == "stopped":
            self._connect()

    def stop(self):
        self._set_state("stopped", {})
        self._close()
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None

    @property
    def ready(self):
        return self.state == "ready"

    def send_action(self, action, fields=None, callback=None):
        """Send ``action``; ``callback(response)`` gets the response dict, or None when
        there is no connection, it broke or nothing came within ``ACTION_TIMEOUT``.
        Raises :class:`UnsafeAction` for a value that would break the stream."""
        action_id = f"{self._prefix}-{next(self._ids)}"
        data = format_action(action, fields or {}, action_id)
        callback = callback or (lambda _response: None)
        sock = self._sock
        if sock is None or (self.state != "ready" and action != "Login"):
            callback(None)
            return
        timer = self.reactor.call_later(ACTION_TIMEOUT, self._timed_out, action_id)
        self._pending[action_id] = (callback, timer)
        try:
            with self._send_lock:
                sock.sendall(data)
        except OSError as exc:
            _logger.info("CTI AMI %s:%s: send failed: %s", self.host, self.port, exc)
            self._lost(self._generation, connection_reason(REASON_CONNECTION_BROKEN, exc))

    # -- connection ------------------------------------------------------------------------

    def _connect(self):
        self._retry_timer = None
        self._generation += 1
        self._set_state("connecting", {})
        thread = threading.Thread(
            target=self._connect_and_read,
            args=(self._generation,),
            name="cti-ami-reader",
            daemon=True,
        )
        thread.start()

    def _connect_and_read(self, generation):
        try:
            sock = socket.create_connection((self.host, self.port), self.connect_timeout)
        except OSError as exc:
            why = connection_reason(REASON_CANNOT_CONNECT, exc)
            self.reactor.call_soon(self._lost, generation, why)
            return
        sock.settimeout(None)
        self.reactor.call_soon(self._opened, generation, sock)
        splitter = MessageSplitter()
        why = connection_reason(REASON_CLOSED_BY_PBX)
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                for lines in splitter.feed(data):
                    self.reactor.call_soon(self._on_message, generation, parse_message(lines))
        except OSError as exc:
            why = connection_reason(REASON_CONNECTION_BROKEN, exc)
        self.reactor.call_soon(self._lost, generation, why)

    def _opened(self, generation, sock):
        if generation != self._generation or self.state == "stopped":
            _close_quietly(sock)
            return
        self._sock = sock
        self.send_action(
            "Login",
            {"Username": self.username, "Secret": self._secret, "Events": self.events},
            self._logged_in,
        )

    def _logged_in(self, response):
        if response is None:
            return  # the connection went; _lost retries
        if response.get("Response", "").lower() == "success":
            self.backoff.reset()
            self._set_state("ready", {})
            return
        message = response.get("Message") or "login refused"
        self._close()
        self._set_state("refused", {"reason": message})
        self._schedule_retry(max(5.0, self.backoff.next_delay()))

    def _on_message(self, generation, message):
        if generation != self._generation:
            return
        action_id = message.get("ActionID", "")
        if "Response" in message and action_id in self._pending:
            callback, timer = self._pending.pop(action_id)
            timer.cancel()
            callback(message)
            return
        if "Event" in message:
            self.on_event(message)

    def _timed_out(self, action_id):
        entry = self._pending.pop(action_id, None)
        if entry is not None:
            entry[0](None)

    def _lost(self, generation, why):
        if generation != self._generation or self.state in ("stopped", "refused"):
            return
        self._close()
        self._set_state("down", why)
        self._schedule_retry(self.backoff.next_delay())

    def _schedule_retry(self, delay):
        if self._retry_timer is not None:
            self._retry_timer.cancel()
        self._retry_timer = self.reactor.call_later(delay, self._connect)

    def _close(self):
        self._generation += 1
        sock, self._sock = self._sock, None
        if sock is not None:
            _close_quietly(sock)
        pending, self._pending = self._pending, {}
        for callback, timer in pending.values():
            timer.cancel()
            callback(None)

    def _set_state(self, state, why):
        """Tell ``on_state`` about changes only: a login refused at every retry, or a PBX
        down for an hour, is one report, not one per attempt."""
        self.state = state
        if state not in ("connecting", self._reported):
            self._reported = state
            self.on_state(state, why)


def _close_quietly(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
