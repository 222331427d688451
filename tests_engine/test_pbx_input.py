"""What a PBX (or whoever answers in its place) sends is bounded and never believed blindly
(issue 14, item 7): dialog-info is UTF-8 without a DTD whatever its encoding tricks, calls
tracked and frames waiting are bounded, a redirect is never followed, and a URL's
credentials are never logged."""

import logging
import socket
import threading
import time

import pytest
from recorder import EventRecorder

from cti_engine import AgentConfig, UserAgent, dialoginfo, notices, tracker, transport
from lab.hostile import HostilePbx

NS = 'xmlns="urn:ietf:params:xml:ns:dialog-info"'
UTF16_ENTITIES = (
    '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE x [<!ENTITY e "expanded">]>\n'
    f'<dialog-info {NS} version="3" state="full" entity="&e;"/>'
).encode("utf-16")


def dialog(n, state="confirmed"):
    return (
        f'<dialog id="d{n}" call-id="flood-{n}@pbx" local-tag="l{n}" remote-tag="r{n}" '
        f'direction="recipient"><state>{state}</state>'
        f"<remote><identity>sip:+4930{n:06d}@pbx.test</identity></remote></dialog>"
    )


def document(version, dialogs, state="partial"):
    return (
        f'<?xml version="1.0"?>\n<dialog-info {NS} version="{version}" state="{state}" '
        f'entity="sip:1001@pbx.test">{dialogs}</dialog-info>'
    )


@pytest.mark.parametrize(
    "body",
    [
        UTF16_ENTITIES,
        UTF16_ENTITIES[2:],  # without its BOM
        b'<?xml version="1.0" encoding="UTF-16"?><dialog-info/>',
        b"\xef\xbb\xbf" + UTF16_ENTITIES[2:],
        "<?xml version='1.0' encoding='latin-1'?><dialog-info/>".encode("latin-1"),
    ],
)
def test_dialog_info_must_be_utf8(body):
    with pytest.raises(dialoginfo.MalformedDocument, match="UTF-8"):
        dialoginfo.parse(body)


def test_dialog_info_in_utf8_with_a_bom_or_declaration_is_read():
    body = document(1, dialog(1), state="full")
    for variant in (body.encode(), b"\xef\xbb\xbf" + body.encode()):
        assert len(dialoginfo.parse(variant).dialogs) == 1
    declared = body.replace('version="1.0"?>', 'version="1.0" encoding="utf-8"?>', 1)
    assert len(dialoginfo.parse(declared.encode()).dialogs) == 1


@pytest.fixture
def hostile(reactor):
    pbx = HostilePbx(users={"1001": "secret1001"}).start()
    events = EventRecorder()
    config = AgentConfig(
        ws_url=pbx.ws_url, domain=pbx.domain, username="1001", password="secret1001"
    )
    agent = UserAgent(config, reactor, events)
    agent.login()
    events.wait_for("READY")
    pbx.wait_for(lambda: pbx.notify_cseq >= 1, what="initial NOTIFY")
    yield pbx, agent, events
    agent.logout()
    pbx.stop()
    time.sleep(0.2)


def test_utf16_dialog_info_over_the_wire_is_refused(hostile, caplog):
    pbx, _agent, events = hostile
    caplog.set_level(logging.WARNING, logger="cti_engine")
    cseq = pbx.send_notify(UTF16_ENTITIES)
    answers = pbx.wait_for(lambda: pbx.responses_to("NOTIFY", cseq), what="200")
    assert [a.code for a in answers] == [200]
    time.sleep(0.3)
    assert events.call_events() == []
    assert any("UTF-8" in r.getMessage() for r in caplog.records)


def test_calls_tracked_per_user_are_bounded(hostile):
    pbx, agent, events = hostile
    version = 10
    for first in range(0, 192, 64):
        version += 1
        pbx.send_notify(document(version, "".join(dialog(n) for n in range(first, first + 64))))
    events.wait_for("CONNECTED", count=tracker.MAX_CALLS, timeout=15)
    time.sleep(0.5)
    assert len(agent.active_call_ids()) == tracker.MAX_CALLS
    assert len([e for e in events.call_events() if e["name"] == "RINGING"]) == tracker.MAX_CALLS
    # Calls it tracks still end as they should.
    pbx.send_notify(document(version + 1, dialog(0, "terminated")))
    events.wait_for("HANGUP")


def test_a_peer_faster_than_the_agent_is_cut_off(hostile, reactor):
    pbx, _agent, events = hostile
    # Keep the reactor busy while the PBX sends more than may wait for it.
    reactor.call_soon(time.sleep, 3)
    options = (
        "OPTIONS sip:1001@pbx.test SIP/2.0\r\nVia: SIP/2.0/WS 127.0.0.1;branch=z9hG4bK{n}\r\n"
        "From: <sip:pbx@pbx.test>;tag=f\r\nTo: <sip:1001@pbx.test>\r\nCall-ID: flood-{n}\r\n"
        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    try:
        for n in range(transport.MAX_FRAMES_IN_FLIGHT + 100):
            pbx.send_text(options.format(n=n))
    except OSError:
        pass  # the agent hung up on us: what this test wants
    events.wait_for("ERROR", timeout=10)
    pbx.wait_for(lambda: pbx.connections >= 2, timeout=15, what="the agent reconnecting")
    events.wait_for("READY", count=2, timeout=15)


class Redirector:
    """An HTTP server answering every WebSocket handshake with a redirect."""

    def __init__(self, location):
        self.location = location
        self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                self.requests += 1
                conn.sendall(
                    f"HTTP/1.1 302 Found\r\nLocation: {self.location}\r\n"
                    "Content-Length: 0\r\n\r\n".encode()
                )

    def close(self):
        self.listener.close()


def test_a_redirect_is_never_followed(reactor, caplog):
    pbx = HostilePbx(users={"1001": "secret1001"}).start()
    redirector = Redirector(pbx.ws_url)  # to a plain ws:// that would serve us
    events = EventRecorder()
    config = AgentConfig(
        ws_url=f"ws://127.0.0.1:{redirector.port}/ws",
        domain=pbx.domain,
        username="1001",
        password="secret1001",
    )
    agent = UserAgent(config, reactor, events)
    try:
        agent.login()
        error = events.wait_for("ERROR")
        assert error["params"]["reason"] == notices.REASON_REDIRECT
        time.sleep(1)
        assert redirector.requests >= 1
        assert pbx.connections == 0
        assert "READY" not in events.names()
    finally:
        agent.logout()
        redirector.close()
        pbx.stop()


def test_credentials_in_a_url_are_never_logged(reactor, caplog):
    caplog.set_level(logging.DEBUG)
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    events = EventRecorder()
    config = AgentConfig(
        ws_url=f"ws://someone:hunter2-url-secret@127.0.0.1:{port}/ws",
        domain="pbx.test",
        username="1001",
        password="secret1001",
    )
    agent = UserAgent(config, reactor, events)
    try:
        agent.login()
        error = events.wait_for("ERROR")
        time.sleep(0.5)
    finally:
        agent.logout()
    assert f"127.0.0.1:{port}/ws" in error["params"]["url"]
    assert "hunter2" not in str(error)
    assert "hunter2" not in caplog.text
    assert transport.safe_url("wss://u:p@pbx.example.com:8089/ws") == (
        "wss://pbx.example.com:8089/ws"
    )
