"""A deliberately dumb SIP-over-WebSocket client for probing the lab PBX.

Hand-written SIP text over websocket-client (subprotocol ``sip``), responses
parsed with sipmessage.  Not the engine: this is the reference the engine's
behaviour is compared against in ``tests_engine/test_lab.py``.

Needs the test venv (websocket-client, sipmessage); the rest of ``lab/`` does not.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import sipmessage
import websocket

DIALOG_NS = "urn:ietf:params:xml:ns:dialog-info"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SIP digest


def _rand(n: int = 10) -> str:
    return uuid.uuid4().hex[:n]


def digest_authorization(
    challenge: str, method: str, uri: str, user: str, password: str, nc: int = 1
) -> str:
    """Build an Authorization/Proxy-Authorization value for a Digest challenge."""
    params = dict(sipmessage.AuthChallenge.parse(challenge).parameters)
    realm = params["realm"]
    nonce = params["nonce"]
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    out = [
        f'username="{user}"',
        f'realm="{realm}"',
        f'nonce="{nonce}"',
        f'uri="{uri}"',
        "algorithm=MD5",
    ]
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce = _rand(16)
        ncs = f"{nc:08x}"
        resp = _md5(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
        out += ["qop=auth", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        resp = _md5(f"{ha1}:{nonce}:{ha2}")
    out.append(f'response="{resp}"')
    if "opaque" in params:
        out.append(f'opaque="{params["opaque"]}"')
    return "Digest " + ", ".join(out)


@dataclass
class DialogInfo:
    """A parsed application/dialog-info+xml body."""

    version: int
    state: str  # "full" / "partial"
    entity: str
    dialogs: list[dict] = field(default_factory=list)
    raw: str = ""

    @classmethod
    def parse(cls, body: bytes | str) -> DialogInfo:
        text = body.decode() if isinstance(body, bytes) else body
        root = ET.fromstring(text)  # noqa: S314 - trusted local PBX
        ns = {"d": DIALOG_NS}
        dialogs = []
        for d in root.findall("d:dialog", ns):
            entry = dict(d.attrib)
            state = d.find("d:state", ns)
            entry["state"] = state.text if state is not None else None
            if state is not None:
                entry["state_attrs"] = dict(state.attrib)
            for side in ("local", "remote"):
                node = d.find(f"d:{side}", ns)
                if node is None:
                    continue
                ident = node.find("d:identity", ns)
                target = node.find("d:target", ns)
                entry[side] = {
                    "identity": ident.text if ident is not None else None,
                    "display": ident.get("display") if ident is not None else None,
                    "target": target.get("uri") if target is not None else None,
                }
            dialogs.append(entry)
        return cls(
            version=int(root.get("version", "-1")),
            state=root.get("state", ""),
            entity=root.get("entity", ""),
            dialogs=dialogs,
            raw=text,
        )


class RawWsSip:
    """One WebSocket connection speaking hand-written SIP."""

    def __init__(self, ws_url: str, user: str, domain: str, password: str | None = None):
        self.ws_url = ws_url
        self.user = user
        self.domain = domain
        self.password = password
        self.host = f"{_rand(8)}.invalid"
        self.ws: websocket.WebSocket | None = None
        self.inbox: queue.Queue = queue.Queue()  # responses
        self.requests: list[tuple[float, sipmessage.Request, str]] = []  # in-bound
        self.sent: list[str] = []
        self._cv = threading.Condition()
        self._reader: threading.Thread | None = None
        self._cseq = 0
        self.call_id = f"{_rand(16)}"
        self.from_tag = _rand(8)

    # -- connection -------------------------------------------------------
    def connect(self, timeout: float = 5.0) -> RawWsSip:
        self.ws = websocket.create_connection(self.ws_url, subprotocols=["sip"], timeout=timeout)
        self.ws.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        return self

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: S110, BLE001 - best effort
                pass
            self.ws = None

    def __enter__(self) -> RawWsSip:
        return self.connect()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def subprotocol(self) -> str | None:
        return self.ws.getsubprotocol() if self.ws else None

    def _read_loop(self) -> None:
        ws = self.ws
        while ws is not None:
            try:
                data = ws.recv()
            except Exception:  # noqa: BLE001 - connection closed
                break
            if not data:
                continue
            raw = data if isinstance(data, str) else data.decode("utf-8", "replace")
            if not raw.strip():
                continue  # keepalive
            msg = sipmessage.Message.parse(raw.encode())
            if isinstance(msg, sipmessage.Response):
                self.inbox.put((msg, raw))
            else:
                self._on_request(msg, raw)

    def _on_request(self, req: sipmessage.Request, raw: str) -> None:
        with self._cv:
            self.requests.append((time.monotonic(), req, raw))
            self._cv.notify_all()
        if req.method in ("NOTIFY", "OPTIONS", "BYE", "INFO", "UPDATE"):
            self.send_raw(self.response_text(req, 200, "OK"))

    @staticmethod
    def response_text(req: sipmessage.Request, code: int, reason: str) -> str:
        lines = [f"SIP/2.0 {code} {reason}"]
        for via in req.headers.getlist("Via"):
            lines.append(f"Via: {via}")
        for name in ("From", "To", "Call-ID", "CSeq"):
            lines.append(f"{name}: {req.headers.get(name)}")
        lines.append("Content-Length: 0")
        return "\r\n".join(lines) + "\r\n\r\n"

    def send_raw(self, text: str) -> None:
        self.sent.append(text)
        self.ws.send(text)

    # -- requests ---------------------------------------------------------
    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    @property
    def contact(self) -> str:
        return f"<sip:{self.user}@{self.host};transport=ws>"

    def build(
        self,
        method: str,
        ruri: str,
        extra: list[str] | None = None,
        body: str = "",
        to: str | None = None,
        to_tag: str | None = None,
        call_id: str | None = None,
    ) -> str:
        self._cseq += 1
        to_hdr = f"<{to or ruri}>" + (f";tag={to_tag}" if to_tag else "")
        lines = [
            f"{method} {ruri} SIP/2.0",
            f"Via: SIP/2.0/WS {self.host};branch=z9hG4bK{_rand(12)}",
            "Max-Forwards: 70",
            f"From: <{self.aor}>;tag={self.from_tag}",
            f"To: {to_hdr}",
            f"Call-ID: {call_id or self.call_id}",
            f"CSeq: {self._cseq} {method}",
            f"Contact: {self.contact}",
            "User-Agent: cti-lab-rawws",
            *(extra or []),
            f"Content-Length: {len(body.encode())}",
        ]
        return "\r\n".join(lines) + "\r\n\r\n" + body

    def wait_response(self, timeout: float = 5.0, final: bool = True):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no SIP response")
            try:
                resp, raw = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if final and resp.code < 200:
                continue
            return resp, raw

    def request(
        self,
        method: str,
        ruri: str,
        extra: list[str] | None = None,
        body: str = "",
        password: str | None = None,
        timeout: float = 5.0,
        **kw,
    ) -> list[tuple[sipmessage.Response, str]]:
        """Send, answer one digest challenge if a password is known; returns
        every final response received (the challenge first, if any)."""
        password = password if password is not None else self.password
        text = self.build(method, ruri, extra, body, **kw)
        self.send_raw(text)
        out = [self.wait_response(timeout)]
        resp = out[-1][0]
        if resp.code in (401, 407) and password is not None:
            hdr = "WWW-Authenticate" if resp.code == 401 else "Proxy-Authenticate"
            cred = "Authorization" if resp.code == 401 else "Proxy-Authorization"
            auth = digest_authorization(resp.headers.get(hdr), method, ruri, self.user, password)
            text = self.build(method, ruri, [*(extra or []), f"{cred}: {auth}"], body, **kw)
            self.send_raw(text)
            out.append(self.wait_response(timeout))
        return out

    def register(self, expires: int = 300, password: str | None = None):
        return self.request(
            "REGISTER",
            f"sip:{self.domain}",
            [f"Expires: {expires}"],
            password=password,
            to=self.aor,
        )

    def subscribe_dialog(self, target_user: str | None = None, expires: int = 300):
        """SUBSCRIBE Event: dialog to sip:<target>@domain (default: own user).
        Returns the list of final responses (401 challenge, then 200)."""
        target = f"sip:{target_user or self.user}@{self.domain}"
        self.call_id = _rand(16)
        self.from_tag = _rand(8)
        return self.request(
            "SUBSCRIBE",
            target,
            ["Event: dialog", "Accept: application/dialog-info+xml", f"Expires: {expires}"],
        )

    # -- inbound ----------------------------------------------------------
    def notifies(self, event: str = "dialog") -> list[tuple[float, sipmessage.Request, str]]:
        with self._cv:
            return [
                r
                for r in self.requests
                if r[1].method == "NOTIFY"
                and (r[1].headers.get("Event") or "").split(";")[0].strip() == event
            ]

    def dialog_infos(self) -> list[DialogInfo]:
        return [DialogInfo.parse(r[1].body) for r in self.notifies() if r[1].body]

    def wait_for(self, predicate, timeout: float = 10.0):
        """Wait until ``predicate(self)`` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                value = predicate(self)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        "condition not met; NOTIFY states so far: "
                        f"{dialog_states(self.dialog_infos())}"
                    )
                self._cv.wait(min(left, 0.2))


def dialog_states(infos: list[DialogInfo], call_id: str | None = None) -> list[str]:
    """Flatten the dialog states seen in a NOTIFY sequence (optionally for one call)."""
    states = []
    for info in infos:
        for d in info.dialogs:
            if call_id is None or d.get("call-id") == call_id:
                states.append(d["state"])
    return states


def strip_ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
