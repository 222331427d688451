"""A scripted, hostile "PBX": a tiny SIP-over-WebSocket server for robustness tests.

Standard library only: RFC 6455 handshake and framing on a plain socket, subprotocol
``sip`` (RFC 7118), loopback on a free port. It plays just enough of a PBX to let an agent
log in (it challenges the first SUBSCRIBE with 407 and accepts the one carrying credentials,
checking the digest), then lets a test send anything at all: garbage, truncated messages,
hostile XML, binary frames, raw frames with any opcode. Everything the agent sends back is
recorded.

Example::

    with HostilePbx(users={"1001": "secret1001"}) as pbx:
        agent = ...  # ws_url=pbx.ws_url, domain=pbx.domain
        pbx.wait_subscribed()
        pbx.send_text("garbage")
        pbx.send_notify(body, content_type="application/dialog-info+xml")
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
import struct
import threading
import time

LOOPBACK = "127.0.0.1"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest


class SipText:
    """A received SIP message, split the dumb way (enough to answer it)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")
        self.start = lines[0]
        self.headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.append((name.strip(), value.strip()))

    @property
    def method(self) -> str | None:
        return None if self.start.startswith("SIP/2.0") else self.start.split(" ", 1)[0]

    @property
    def code(self) -> int | None:
        return int(self.start.split(" ")[1]) if self.start.startswith("SIP/2.0") else None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class HostilePbx:
    """One-connection-at-a-time WebSocket SIP server driven by the test."""

    def __init__(self, users: dict[str, str] | None = None, domain: str = "pbx.test") -> None:
        self.users = dict(users or {"1001": "secret1001"})
        self.domain = domain
        self.realm = domain
        self.nonce = secrets.token_hex(12)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(4)
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self.received: list[SipText] = []
        self.subscribe: SipText | None = None  # the accepted SUBSCRIBE
        self.to_tag = secrets.token_hex(6)
        self.ok_headers: list[str] | None = None  # replaces Expires/Contact of the 200 if set
        self.notify_cseq = 0
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._cv = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def ws_url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}"

    def start(self) -> HostilePbx:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        conn, self._conn = self._conn, None
        for sock in (conn, self._listener):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def __enter__(self) -> HostilePbx:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what the test does --------------------------------------------------------------

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"hostile PBX: no {what} within {timeout}s")
                self._cv.wait(left)

    def wait_subscribed(self, timeout: float = 10.0) -> SipText:
        return self.wait_for(lambda: self.subscribe, timeout, "accepted SUBSCRIBE")

    def responses_to(self, method: str, cseq: int | None = None) -> list[SipText]:
        out = []
        for message in list(self.received):
            if message.code is None:
                continue
            number, _, meth = (message.header("CSeq") or "").partition(" ")
            if meth.strip() == method and (cseq is None or number.strip() == str(cseq)):
                out.append(message)
        return out

    def send_frame(self, opcode: int, payload: bytes, fin: bool = True) -> None:
        """One raw server frame (unmasked, RFC 6455 §5.2)."""
        head = bytes([(0x80 if fin else 0) | opcode])
        size = len(payload)
        if size < 126:
            head += bytes([size])
        elif size < 1 << 16:
            head += bytes([126]) + struct.pack("!H", size)
        else:
            head += bytes([127]) + struct.pack("!Q", size)
        with self._send_lock:
            conn = self._conn
            if conn is None:
                raise ConnectionError("hostile PBX: no client connected")
            conn.sendall(head + payload)

    def send_frame_header(self, opcode: int, claimed: int) -> None:
        """Only the header of a frame that claims ``claimed`` bytes of payload."""
        with self._send_lock:
            conn = self._conn
            if conn is None:
                raise ConnectionError("hostile PBX: no client connected")
            conn.sendall(bytes([0x80 | opcode, 127]) + struct.pack("!Q", claimed) + b"SIP")

    def send_text(self, text: str | bytes) -> None:
        self.send_frame(OP_TEXT, text.encode("utf-8") if isinstance(text, str) else text)

    def send_binary(self, data: bytes) -> None:
        self.send_frame(OP_BINARY, data)

    def notify_text(
        self,
        body: bytes | str = b"",
        content_type: str | None = "application/dialog-info+xml",
        state: str = "active;expires=600",
        extra_headers: tuple[str, ...] = (),
    ) -> tuple[int, bytes]:
        """A NOTIFY in the accepted subscription's dialog; returns (CSeq, message bytes)."""
        sub = self.subscribe
        if sub is None:
            raise RuntimeError("hostile PBX: nobody subscribed yet")
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.notify_cseq += 1
        contact = re.search(r"<([^>]+)>", sub.header("Contact") or "")
        uri = contact.group(1) if contact else f"sip:agent@{self.domain}"
        lines = [
            f"NOTIFY {uri} SIP/2.0",
            f"Via: SIP/2.0/WS {LOOPBACK}:{self.port};branch=z9hG4bK{secrets.token_hex(8)}",
            f"From: {_without_tag(sub.header('To'))};tag={self.to_tag}",
            f"To: {sub.header('From')}",
            f"Call-ID: {sub.header('Call-ID')}",
            f"CSeq: {self.notify_cseq} NOTIFY",
            "Max-Forwards: 70",
            "Event: dialog",
            f"Contact: <sip:{LOOPBACK}:{self.port};transport=ws>",
            f"Subscription-State: {state}",
            *extra_headers,
        ]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        return self.notify_cseq, ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def send_notify(self, body: bytes | str = b"", **options) -> int:
        cseq, data = self.notify_text(body, **options)
        self.send_text(data)
        return cseq

    # -- the server ----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                conn, _addr = self._listener.accept()
            except OSError:
                return
            if not self._handshake(conn):
                conn.close()
                continue
            with self._cv:
                self.connections += 1
                self._conn = conn
                self._cv.notify_all()
            self._read_loop(conn)

    def _handshake(self, conn: socket.socket) -> bool:
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 16384:
                chunk = conn.recv(4096)
                if not chunk:
                    return False
                data += chunk
        except OSError:
            return False
        text = data.decode("latin-1")
        key = re.search(r"(?im)^sec-websocket-key:\s*(\S+)", text)
        protocols = re.search(r"(?im)^sec-websocket-protocol:\s*(.+?)\s*$", text)
        if (
            not key
            or not protocols
            or "sip" not in [p.strip() for p in protocols.group(1).split(",")]
        ):
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return False
        accept = base64.b64encode(hashlib.sha1((key.group(1) + WS_GUID).encode()).digest())  # noqa: S324 - RFC 6455
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
        )
        conn.settimeout(None)
        return True

    def _read_loop(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        message = b""
        try:
            while True:
                head = reader.read(2)
                if len(head) < 2:
                    break
                opcode, fin = head[0] & 0x0F, head[0] & 0x80
                masked, size = head[1] & 0x80, head[1] & 0x7F
                if size == 126:
                    size = struct.unpack("!H", reader.read(2))[0]
                elif size == 127:
                    size = struct.unpack("!Q", reader.read(8))[0]
                mask = reader.read(4) if masked else b"\0\0\0\0"
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(reader.read(size)))
                if opcode == OP_CLOSE:
                    self.send_frame(OP_CLOSE, payload[:2])
                    break
                if opcode == OP_PING:
                    self.send_frame(OP_PONG, payload)
                    continue
                if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                    message += payload
                    if fin:
                        if message.strip():
                            self._on_message(SipText(message))
                        message = b""
        except (OSError, struct.error, ConnectionError):
            pass
        finally:
            with self._cv:
                if self._conn is conn:
                    self._conn = None
                self._cv.notify_all()
            conn.close()

    def _on_message(self, message: SipText) -> None:
        with self._cv:
            self.received.append(message)
            self._cv.notify_all()
        if message.method == "SUBSCRIBE":
            self._answer_subscribe(message)

    def _answer_subscribe(self, request: SipText) -> None:
        credentials = request.header("Proxy-Authorization")
        if credentials is None:
            self.send_text(
                self._response(
                    request,
                    407,
                    "Proxy Authentication Required",
                    [
                        f'Proxy-Authenticate: Digest realm="{self.realm}", '
                        f'nonce="{self.nonce}", qop="auth", algorithm=MD5'
                    ],
                )
            )
            return
        if not self._digest_ok(request, credentials):
            self.send_text(self._response(request, 403, "Forbidden"))
            return
        expires = request.header("Expires") or "600"
        # Known before the 200 goes out: a test that saw READY may send a NOTIFY at once.
        with self._cv:
            first = self.subscribe is None or self.subscribe.header("Call-ID") != request.header(
                "Call-ID"
            )
            self.subscribe = request
        self.send_text(
            self._response(
                request,
                200,
                "OK",
                self.ok_headers
                if self.ok_headers is not None
                else [f"Expires: {expires}", f"Contact: <sip:{LOOPBACK}:{self.port};transport=ws>"],
            )
        )
        with self._cv:
            self._cv.notify_all()
        if first:
            # Like Kamailio: the first NOTIFY of a subscription has no body.
            self.send_notify(b"", content_type=None)

    def _digest_ok(self, request: SipText, header: str) -> bool:
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', header))
        password = self.users.get(params.get("username", ""))
        if password is None or params.get("nonce") != self.nonce:
            return False
        ha1 = _md5(f"{params['username']}:{params.get('realm', '')}:{password}")
        ha2 = _md5(f"{request.method}:{params.get('uri', '')}")
        if params.get("qop") == "auth":
            expected = _md5(
                f"{ha1}:{self.nonce}:{params.get('nc', '')}:{params.get('cnonce', '')}:auth:{ha2}"
            )
        else:
            expected = _md5(f"{ha1}:{self.nonce}:{ha2}")
        return secrets.compare_digest(expected, params.get("response", ""))

    def _response(self, request: SipText, code: int, phrase: str, extra=()) -> bytes:
        lines = [f"SIP/2.0 {code} {phrase}"]
        lines += [f"Via: {via}" for via in request.all("Via")]
        lines.append(f"From: {request.header('From')}")
        to = request.header("To") or ""
        lines.append(f"To: {to}" if ";tag=" in to else f"To: {to};tag={self.to_tag}")
        lines += [f"Call-ID: {request.header('Call-ID')}", f"CSeq: {request.header('CSeq')}"]
        lines += list(extra)
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _without_tag(value: str | None) -> str:
    return re.sub(r";\s*tag=[^;>]*", "", value or "")
