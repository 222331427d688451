"""SIP over WebSocket (RFC 7118) on websocket-client, with keepalive and reconnection.

Each connection owns one reader thread that blocks on the socket and hands complete frames
to the reactor. Connection attempts also run off the reactor thread, so a slow or dead PBX
never stalls other users' agents.
"""

import logging
import random
import ssl
import threading
import time
from urllib.parse import urlsplit

import websocket

from .notices import (
    REASON_CANNOT_CONNECT,
    REASON_CLOSED_BY_PBX,
    REASON_CONNECTION_BROKEN,
    REASON_NO_KEEPALIVE_ANSWER,
    REASON_NOT_SIP,
    REASON_REDIRECT,
    REASON_TLS_UNVERIFIED,
    REASON_TOO_MUCH,
    connection_reason,
)

_logger = logging.getLogger(__name__)

# Reader threads spend their life blocked in recv(); they need little stack.
READER_STACK_SIZE = 256 * 1024
# The largest message a peer may send, one frame or fragments together, before the
# connection is dropped. Messages up to it are read, and refused one by one by the SIP parser
# when larger than sip.MAX_MESSAGE_BYTES, the connection kept; beyond it, a peer is no PBX.
MAX_FRAME_BYTES = 1024 * 1024
# Frames read but not yet handled by the reactor, per connection: a peer that sends faster
# than the agent can act is cut off (the agent reconnects and resynchronises) rather than
# filling memory.
MAX_FRAMES_IN_FLIGHT = 500


def safe_url(url):
    """The URL without any user:password part, for messages and logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unreadable URL)"
    return f"{parts.scheme}://{host}{port}{parts.path}"


class Backoff:
    """Jittered exponential backoff ("full jitter"), without a retry limit."""

    def __init__(self, base=0.5, cap=30.0):
        self.base = base
        self.cap = cap
        self.attempts = 0

    def next_delay(self):
        delay = random.uniform(0, min(self.cap, self.base * (2**self.attempts)))  # noqa: S311
        self.attempts = min(self.attempts + 1, 16)
        return delay

    def reset(self):
        self.attempts = 0


class WebSocketTransport:
    """One SIP-over-WebSocket connection; callbacks run in the reactor thread.

    :param on_open: ``on_open()`` once the handshake succeeded
    :param on_frame: ``on_frame(text)`` for every SIP message received
    :param on_close: ``on_close(why)`` when an open connection or an attempt ends; ``why``
        is the ``reason`` (and ``detail``) parameters of :func:`notices.connection_reason`
    """

    def __init__(
        self,
        reactor,
        url,
        on_open,
        on_frame,
        on_close,
        verify_tls=True,
        ca_bundle=None,
        keepalive=25.0,
        connect_timeout=10.0,
    ):
        self.reactor = reactor
        self.url = url
        self.on_open = on_open
        self.on_frame = on_frame
        self.on_close = on_close
        self.keepalive = keepalive
        self.connect_timeout = connect_timeout
        self.sslopt = {"cert_reqs": ssl.CERT_REQUIRED if verify_tls else ssl.CERT_NONE}
        if ca_bundle:
            self.sslopt["ca_certs"] = ca_bundle
        if not verify_tls:
            self.sslopt["check_hostname"] = False
        self._ws = None
        self._generation = 0
        self._last_rx = 0.0
        self._keepalive_timer = None
        # Frames handed to the reactor and frames it delivered; each counted by one thread
        # only (the reader, the reactor), so the difference needs no lock.
        self._handed = 0
        self._delivered = 0

    @property
    def connected(self):
        return self._ws is not None

    def connect(self):
        """Start one connection attempt; the outcome arrives as on_open or on_close."""
        self._generation += 1
        generation = self._generation
        thread = _spawn(self._connect_and_read, generation, name="cti-ws-connect")
        return thread

    def send(self, data):
        """Send one SIP message; returns False when there is no open connection."""
        ws = self._ws
        if ws is None:
            return False
        try:
            ws.send(data.decode("utf-8", "replace") if isinstance(data, bytes) else data)
            return True
        except (OSError, websocket.WebSocketException) as exc:
            _logger.info("CTI WebSocket send to %s failed: %s", safe_url(self.url), exc)
            self._drop(self._generation, connection_reason(REASON_CONNECTION_BROKEN, exc))
            return False

    def close(self):
        """Close for good (until the next connect); no on_close callback follows."""
        self._generation += 1
        ws, self._ws = self._ws, None
        if self._keepalive_timer:
            self._keepalive_timer.cancel()
        if ws is not None:
            _close_quietly(ws)

    def _connect_and_read(self, generation):
        try:
            ws = websocket.create_connection(
                self.url,
                subprotocols=["sip"],
                timeout=self.connect_timeout,
                sslopt=self.sslopt,
                enable_multithread=True,
                # A text frame that is not UTF-8 is one bad message for the SIP parser to
                # refuse, not a reason to drop the connection and resynchronise every call.
                skip_utf8_validation=True,
                # Never follow a redirect: it could lead from wss:// to ws:// (credentials
                # and calls in clear) or to another host; the PBX URL is what was set.
                redirect_limit=0,
            )
        except Exception as exc:  # noqa: BLE001 - every failure means "not connected"
            why = _describe(exc, REASON_CANNOT_CONNECT)
            self.reactor.call_soon(self._attempt_failed, generation, why)
            return
        if ws.subprotocol != "sip":
            _close_quietly(ws)
            why = connection_reason(REASON_NOT_SIP)
            self.reactor.call_soon(self._attempt_failed, generation, why)
            return
        ws.settimeout(None)
        _limit_frames(ws, MAX_FRAME_BYTES)
        self.reactor.call_soon(self._opened, generation, ws)
        why = connection_reason(REASON_CLOSED_BY_PBX)
        try:
            while True:
                opcode, payload = ws.recv_data(control_frame=True)
                self._last_rx = time.monotonic()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY) and payload:
                    if payload.strip():
                        if self._handed - self._delivered >= MAX_FRAMES_IN_FLIGHT:
                            raise FrameTooLarge(
                                f"more than {MAX_FRAMES_IN_FLIGHT} messages waiting to be handled"
                            )
                        self._handed += 1
                        self.reactor.call_soon(self._deliver, generation, payload)
        except Exception as exc:  # noqa: BLE001 - a broken connection, whatever the cause
            why = _describe(exc, REASON_CONNECTION_BROKEN)
        self.reactor.call_soon(self._drop, generation, why)

    def _opened(self, generation, ws):
        if generation != self._generation:
            _close_quietly(ws)
            return
        self._ws = ws
        self._last_rx = time.monotonic()
        self._schedule_keepalive()
        self.on_open()

    def _attempt_failed(self, generation, why):
        if generation == self._generation:
            self.on_close(why)

    def _deliver(self, generation, payload):
        self._delivered += 1
        if generation == self._generation:
            self.on_frame(payload)

    def _drop(self, generation, why):
        if generation != self._generation or self._ws is None:
            return
        self._generation += 1
        ws, self._ws = self._ws, None
        if self._keepalive_timer:
            self._keepalive_timer.cancel()
        _close_quietly(ws)
        self.on_close(why)

    def _schedule_keepalive(self):
        self._keepalive_timer = self.reactor.call_later(self.keepalive, self._keepalive_tick)

    def _keepalive_tick(self):
        ws = self._ws
        if ws is None:
            return
        if time.monotonic() - self._last_rx > 2.5 * self.keepalive:
            self._drop(self._generation, connection_reason(REASON_NO_KEEPALIVE_ANSWER))
            return
        try:
            ws.ping()
        except (OSError, websocket.WebSocketException) as exc:
            self._drop(self._generation, connection_reason(REASON_CONNECTION_BROKEN, exc))
            return
        self._schedule_keepalive()


def _spawn(target, *args, name):
    previous = threading.stack_size()
    try:
        threading.stack_size(READER_STACK_SIZE)
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
    finally:
        threading.stack_size(previous)
    return thread


class FrameTooLarge(websocket.WebSocketProtocolException):
    pass


def _limit_frames(ws, limit):
    """Refuse frames, or fragmented messages, larger than ``limit`` bytes before reading
    them: websocket-client reads whatever length a frame header announces (up to 2**63
    bytes) into memory first. The check hooks into the connection's frame reader, right
    after the header's length is read, and where fragments are joined."""
    try:
        frames, fragments = ws.frame_buffer, ws.cont_frame
        read_length, join = frames.recv_length, fragments.add
    except AttributeError:  # another websocket-client than the one this was written for
        _logger.warning("CTI WebSocket: cannot limit the size of frames with this websocket-client")
        return

    def recv_length():
        read_length()
        if frames.length > limit:
            raise FrameTooLarge(f"frame of {frames.length} bytes exceeds {limit}")

    def add(frame):
        join(frame)
        if fragments.cont_data and len(fragments.cont_data[1]) > limit:
            raise FrameTooLarge(f"fragmented message exceeds {limit} bytes")

    frames.recv_length = recv_length
    fragments.add = add


def _close_quietly(ws):
    """Close without waiting: send the close frame, then shut the socket down.

    Never ``ws.close()``, which waits for the PBX's close frame by reading: the reader
    thread holds the read lock while it waits in ``recv``, so that read waits for the lock,
    for as long as the PBX sends nothing (Asterisk, after an un-SUBSCRIBE), and it runs in
    the reactor thread, which every agent shares. Shutting the socket down wakes the reader.
    """
    try:
        ws.send_close()
    except Exception:  # noqa: BLE001, S110 - closing a dead socket may fail in many ways
        pass
    try:
        ws.abort()
        ws.shutdown()
    except Exception:  # noqa: BLE001, S110 - as above
        pass


def _describe(exc, otherwise):
    """Why ``exc`` ended the connection (the params of :func:`notices.connection_reason`):
    ``otherwise`` with the exception's own words unless it is one the user can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        # OpenSSL's own wording ("[SSL: CERTIFICATE_VERIFY_FAILED] ... (_ssl.c:1006)") does
        # not tell an administrator what is wrong or what to do about it.
        return connection_reason(REASON_TLS_UNVERIFIED, exc.verify_message or exc.reason or exc)
    if isinstance(exc, FrameTooLarge):
        return connection_reason(REASON_TOO_MUCH, exc)
    if isinstance(exc, websocket.WebSocketException) and "Redirect" in str(exc):
        return connection_reason(REASON_REDIRECT)
    return connection_reason(otherwise, exc)
