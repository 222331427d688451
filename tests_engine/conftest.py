"""Fixtures for tests against the real-PBX lab (Kamailio, baresip, SIPp).

Nothing is skipped: a missing program fails the test with an install hint.
Every fixture stops its processes at teardown, whatever the outcome.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pbx import lab  # noqa: E402

LAB_USERS = {
    "1001": "secret1001",
    "1002": "secret1002",
    "1003": "secret1003",
}
LAB_DOMAIN = "pbx.test"


def _require(*names: str) -> None:
    for name in names:
        try:
            lab.require_binary(name)
        except lab.LabError as exc:
            pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    """Per-test run directory holding every config and log of the lab."""
    return tmp_path


@pytest.fixture
def sipp(lab_dir: Path):
    """SIPp factory; ``sipp.gateway`` is the PSTN gateway address Kamailio uses."""
    _require("sipp")
    factory = lab.SippFactory(lab_dir)
    yield factory
    factory.stop()


@pytest.fixture
def kamailio(request, lab_dir: Path, sipp):
    """A running Kamailio with users 1001..1003 (password ``secret<user>``).

    A test marked ``@pytest.mark.tls`` gets one that also serves ``wss://`` (``wss_url``)
    with a certificate from a private CA made for the test (``ca_cert``).
    """
    _require("kamailio")
    tls = request.node.get_closest_marker("tls") is not None
    if tls:
        _require("openssl")
    pbx = lab.Kamailio(lab_dir, users=LAB_USERS, domain=LAB_DOMAIN, gateway=sipp.gateway, tls=tls)
    try:
        pbx.start()
    except lab.LabError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield pbx
    pbx.stop()
    print(f"\n[lab] kamailio log: {pbx.log_path}")


@pytest.fixture
def baresip_factory(lab_dir: Path, kamailio):
    """``baresip_factory("1001", auto_answer=False)`` -> a registered Baresip."""
    _require("baresip")
    phones: list[lab.Baresip] = []

    def make(user: str, auto_answer: bool = False, password: str | None = None) -> lab.Baresip:
        phone = lab.Baresip(
            lab_dir,
            user,
            password if password is not None else LAB_USERS[user],
            kamailio,
            auto_answer=auto_answer,
        )
        phones.append(phone)
        phone.start()
        phone.wait_registered()
        return phone

    yield make
    for phone in phones:
        phone.stop()


@pytest.fixture
def ws_client_factory(kamailio):
    """``ws_client_factory("1001")`` -> a connected raw SIP-over-WebSocket client."""
    from pbx.wsraw import RawWsSip

    clients: list[RawWsSip] = []

    def make(user: str, password: str | None = None) -> RawWsSip:
        client = RawWsSip(
            kamailio.ws_url,
            user,
            kamailio.domain,
            password if password is not None else LAB_USERS.get(user),
        )
        clients.append(client)
        return client.connect()

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def reactor():
    """A running engine reactor, stopped at teardown."""
    from cti_engine import Reactor

    loop = Reactor().start()
    yield loop
    loop.stop()


@pytest.fixture
def agent_factory(kamailio, reactor):
    """``agent_factory("1001", **options)`` -> (UserAgent, EventRecorder) on the lab PBX."""
    from recorder import EventRecorder

    from cti_engine import AgentConfig, UserAgent

    agents = []

    def make(user="1001", password=None, ws_url=None, **options):
        recorder = EventRecorder()
        config = AgentConfig(
            ws_url=ws_url or kamailio.ws_url,
            domain=kamailio.domain,
            username=user,
            password=LAB_USERS[user] if password is None else password,
            display_name=f"User {user}",
            default_country="DE",
            **options,
        )
        agent = UserAgent(config, reactor, recorder)
        agents.append(agent)
        return agent, recorder

    yield make
    for agent in agents:
        agent.logout()
    time.sleep(0.2)


def ready_agent(agent_factory, user="1001", **options):
    """An agent logged in and READY."""
    agent, events = agent_factory(user, **options)
    agent.login()
    events.wait_for("READY")
    return agent, events


def assert_inbound_call_reported(events, phone, sipp, kamailio, caller, user="1001"):
    """SIPp calls ``user``, the phone answers, the caller hangs up after a second: the agent
    reports exactly RINGING, CONNECTED, HANGUP with the caller's number."""
    call = sipp.uac(kamailio, user, caller=caller, talk_s=1)
    phone.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    phone.answer()
    events.wait_for("CONNECTED")
    events.wait_for("HANGUP", timeout=30)
    assert call.wait() == 0
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    assert ringing["call"]["source"] == caller
