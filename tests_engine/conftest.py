"""Fixtures for tests against the real-PBX lab (Kamailio or Asterisk, baresip, SIPp).

Nothing is skipped, except Asterisk tests where no Asterisk is installed (``ASTERISK_PATH``
or ``asterisk`` on PATH): a missing program fails the test with an install hint.
Every fixture stops its processes at teardown, whatever the outcome.

Which PBX: ``kamailio`` and ``asterisk`` are the PBXs themselves; ``pbx`` is "the lab PBX" and
what ``baresip_factory``, ``agent_factory`` and ``ws_client_factory`` use.  It is Kamailio
unless the test is marked ``@pytest.mark.pbx("asterisk")`` (or ``pbx("kamailio",
"asterisk")``: once on each) or pytest runs with ``--pbx asterisk`` (repeatable), which puts
every test that uses ``pbx`` but not ``kamailio`` itself on the PBXs named.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import lab

LAB_USERS = {
    "1001": "secret1001",
    "1002": "secret1002",
    "1003": "secret1003",
}
LAB_DOMAIN = "pbx.test"
PBX_NAMES = ("kamailio", "asterisk")


def pytest_addoption(parser):
    parser.addoption(
        "--pbx",
        action="append",
        choices=PBX_NAMES,
        help="run the tests that use the lab PBX through the `pbx` fixture on this PBX "
        "(repeatable; default kamailio)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "pbx(*names): run the test once on each lab PBX named (kamailio, asterisk)"
    )


def pytest_generate_tests(metafunc):
    if "pbx" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("pbx")
    names = list(marker.args) if marker else metafunc.config.getoption("pbx")
    if names:
        unknown = set(names) - set(PBX_NAMES)
        if unknown:
            raise pytest.UsageError(f"unknown lab PBX {sorted(unknown)}; use {PBX_NAMES}")
        metafunc.parametrize("pbx", names, indirect=True)


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
    """SIPp factory; ``sipp.gateway`` is the PSTN gateway address the lab PBX uses."""
    _require("sipp")
    factory = lab.SippFactory(lab_dir)
    yield factory
    factory.stop()


def _tls_requested(request) -> bool:
    tls = request.node.get_closest_marker("tls") is not None
    if tls:
        _require("openssl")
    return tls


@pytest.fixture
def kamailio(request, lab_dir: Path, sipp):
    """A running Kamailio with users 1001..1003 (password ``secret<user>``).

    A test marked ``@pytest.mark.tls`` gets one that also serves ``wss://`` (``wss_url``)
    with a certificate from a private CA made for the test (``ca_cert``).
    """
    _require("kamailio")
    tls = _tls_requested(request)
    pbx = lab.Kamailio(lab_dir, users=LAB_USERS, domain=LAB_DOMAIN, gateway=sipp.gateway, tls=tls)
    try:
        pbx.start()
    except lab.LabError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield pbx
    pbx.stop()
    print(f"\n[lab] kamailio log: {pbx.log_path}")


def _asterisk_missing() -> str | None:
    """Why the lab cannot run Asterisk, or None."""
    if lab.find_asterisk():
        return None
    prefix = os.environ.get("ASTERISK_PATH")
    if prefix:
        return f"no executable sbin/asterisk under ASTERISK_PATH={prefix}"
    return "'asterisk' is not on PATH and ASTERISK_PATH is not set"


@pytest.fixture
def asterisk(request, lab_dir: Path, sipp):
    """A running Asterisk 22 (PJSIP) with users 1001..1003 (password ``secret<user>``) and
    the SIPp gateway as its PSTN trunk; skipped when no Asterisk is installed.

    A test marked ``@pytest.mark.tls`` gets one that also serves ``wss://`` (``wss_url``).
    """
    why = _asterisk_missing()
    if why:
        pytest.skip(f"ASTERISK TESTS SKIPPED: {why}")
    tls = _tls_requested(request)
    try:
        pbx = lab.Asterisk(
            lab_dir, users=LAB_USERS, domain=LAB_DOMAIN, gateway=sipp.gateway, tls=tls
        )
        pbx.start()
    except lab.LabError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield pbx
    pbx.stop()
    print(f"\n[lab] asterisk log: {pbx.log_path}")


@pytest.fixture
def pbx(request):
    """The lab PBX: Kamailio, or the PBX the test is parametrized with (see the module doc)."""
    name = getattr(request, "param", "kamailio")
    if name != "kamailio" and "kamailio" in request.fixturenames:
        pytest.skip(f"Kamailio-specific test (it uses the kamailio fixture): not run on {name}")
    return request.getfixturevalue(name)


@pytest.fixture
def baresip_factory(lab_dir: Path, pbx):
    """``baresip_factory("1001", auto_answer=False)`` -> a registered Baresip."""
    _require("baresip")
    phones: list[lab.Baresip] = []

    def make(user: str, auto_answer: bool = False, password: str | None = None) -> lab.Baresip:
        phone = lab.Baresip(
            lab_dir,
            user,
            password if password is not None else LAB_USERS[user],
            pbx,
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
def ws_client_factory(pbx):
    """``ws_client_factory("1001")`` -> a connected raw SIP-over-WebSocket client."""
    from lab.wsraw import RawWsSip

    clients: list[RawWsSip] = []

    def make(user: str, password: str | None = None) -> RawWsSip:
        client = RawWsSip(
            pbx.ws_url,
            user,
            pbx.domain,
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
def agent_factory(pbx, reactor):
    """``agent_factory("1001", **options)`` -> (UserAgent, EventRecorder) on the lab PBX."""
    from recorder import EventRecorder

    from cti_engine import AgentConfig, UserAgent

    agents = []

    def make(user="1001", password=None, ws_url=None, driver=None, **options):
        recorder = EventRecorder()
        config = AgentConfig(
            ws_url=ws_url or pbx.ws_url,
            domain=pbx.domain,
            username=user,
            password=LAB_USERS[user] if password is None else password,
            display_name=f"User {user}",
            default_country="DE",
            **options,
        )
        agent = UserAgent(config, reactor, recorder, driver=driver)
        agents.append(agent)
        return agent, recorder

    yield make
    for agent in agents:
        agent.logout()
    time.sleep(0.2)


@pytest.fixture
def asterisk_driver(asterisk, reactor):
    """``asterisk_driver(secret=None)`` -> a started ``AsteriskDriver`` on the lab Asterisk's
    Manager Interface (its lab user; ``secret`` to try another), stopped at teardown."""
    from cti_engine import make_driver

    started = []

    def make(secret=None):
        driver = make_driver(
            "asterisk",
            reactor,
            host=lab.LOOPBACK,
            port=asterisk.ami_port,
            username=asterisk.ami_user,
            secret=asterisk.ami_secret if secret is None else secret,
            context="internal",
        )
        reactor.run_sync(driver.start)
        started.append(driver)
        return driver

    yield make
    for driver in started:
        reactor.run_sync(driver.stop)


def ready_agent(agent_factory, user="1001", **options):
    """An agent logged in and READY."""
    agent, events = agent_factory(user, **options)
    agent.login()
    events.wait_for("READY")
    return agent, events


def assert_inbound_call_reported(events, phone, sipp, pbx, caller, user="1001"):
    """SIPp calls ``user``, the phone answers, the caller hangs up after a second: the agent
    reports exactly RINGING, CONNECTED, HANGUP with the caller's number."""
    call = sipp.uac(pbx, user, caller=caller, talk_s=1)
    phone.wait_event("CALL_INCOMING")
    ringing = events.wait_for("RINGING")
    phone.answer()
    events.wait_for("CONNECTED")
    events.wait_for("HANGUP", timeout=30)
    assert call.wait() == 0
    assert events.names(call_only=True) == ["RINGING", "CONNECTED", "HANGUP"]
    assert ringing["call"]["source"] == caller
