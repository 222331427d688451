"""SIP over secure WebSocket (wss://) against the lab Kamailio with a per-test private CA."""

import time

import pytest
from conftest import assert_inbound_call_reported, ready_agent

from cti_engine import notices

CALLER = "+4930123456"

pytestmark = pytest.mark.tls


def _count_connects(agent):
    """Wrap the agent's transport so the test sees every connection attempt."""
    attempts = []
    connect = agent.transport.connect

    def counting():
        attempts.append(time.monotonic())
        return connect()

    agent.transport.connect = counting
    return attempts


def test_unverifiable_certificate_is_a_clear_error_and_retried_with_backoff(
    agent_factory, kamailio
):
    agent, events = agent_factory(ws_url=kamailio.wss_url, backoff_base=0.5, backoff_cap=30)
    attempts = _count_connects(agent)
    agent.login()
    error = events.wait_for("ERROR")
    assert error["code"] == "pbx_unreachable"
    assert error["params"]["reason"] == notices.REASON_TLS_UNVERIFIED
    # OpenSSL's verify message, without its "[SSL: ...] (_ssl.c:...)" wrapping
    assert "certificate" in error["params"]["detail"]
    assert "_ssl.c" not in error["params"]["detail"]
    assert kamailio.wss_url in error["params"]["url"]
    time.sleep(5)
    # Retried (the PBX may get a proper certificate), but with a growing, jittered delay:
    # a tight loop would make hundreds of TLS handshakes in these five seconds.
    assert 2 <= len(attempts) <= 12, attempts
    assert events.names() == ["ERROR"]  # one error for the whole outage, never READY
    assert agent.state == "reconnecting"
    assert not agent.is_connected()


def test_private_ca_bundle_connects_and_reports_calls(
    agent_factory, baresip_factory, sipp, kamailio
):
    phone = baresip_factory("1001")
    agent, events = ready_agent(
        agent_factory, ws_url=kamailio.wss_url, ca_bundle=str(kamailio.ca_cert)
    )
    assert events.names() == ["LOGGED_IN", "READY"]
    assert agent.via.startswith("SIP/2.0/WSS ")
    assert_inbound_call_reported(events, phone, sipp, kamailio, CALLER)
    # the subscription really went over TLS: Kamailio saw it on its wss port
    assert f"REQ SUBSCRIBE sip:1001@{kamailio.domain} from wss:" in kamailio.log_text()


def test_verification_can_be_turned_off(agent_factory, kamailio):
    agent, events = ready_agent(agent_factory, ws_url=kamailio.wss_url, verify_tls=False)
    assert events.names() == ["LOGGED_IN", "READY"]
    agent.logout()
    events.wait_for("LOGGED_OUT")
