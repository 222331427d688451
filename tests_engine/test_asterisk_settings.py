"""An Asterisk missing a setting the README asks for: the user is told which one.

The lab Asterisk is started as the README configures it, then one setting is taken away
and the configuration reloaded, as an administrator would.
"""

import re
import time

import pytest

pytestmark = pytest.mark.pbx("asterisk")


def reconfigure(pbx, file_name, pattern, replacement, reload_command):
    path = pbx.etc_dir / file_name
    text = path.read_text(encoding="utf-8")
    changed = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    pbx.cli(reload_command)
    time.sleep(0.5)


def test_endpoint_without_allow_subscribe(agent_factory, pbx):
    reconfigure(
        pbx,
        "pjsip.conf",
        r"^allow_subscribe = yes$",
        "allow_subscribe = no",
        "module reload res_pjsip.so",
    )
    agent, events = agent_factory()
    agent.login()
    error = events.wait_for("ERROR")
    assert error["code"] == "watching_forbidden"  # worded: set allow_subscribe=yes
    assert error["params"]["user"] == "1001"
    time.sleep(1)
    assert events.names() == ["ERROR"]
    assert agent.state == "failed"


def test_extension_without_hint(agent_factory, pbx):
    reconfigure(
        pbx,
        "extensions_users.conf",
        r"^exten => 1001,hint,.*$",
        "",
        "dialplan reload",
    )
    agent, events = agent_factory()
    agent.login()
    error = events.wait_for("ERROR")
    assert error["code"] == "no_call_state"  # worded: exten => 1001,hint,PJSIP/1001
    assert error["params"]["user"] == "1001"
    time.sleep(1)
    assert events.names() == ["ERROR"]


def test_the_subscription_lasts_as_the_pbx_record_says(agent_factory, pbx):
    """``cti.pbx.register_expires`` reaches the engine as ``subscribe_expires``: the
    SUBSCRIBE asks for it, and the agent renews before it runs out."""
    agent, events = agent_factory(subscribe_expires=60)
    agent.login()
    events.wait_for("READY")
    subscribes = [
        m["text"]
        for m in pbx.sip_messages()
        if m["direction"] == "in" and m["text"].startswith("SUBSCRIBE ")
    ]
    assert subscribes and all(re.search(r"^Expires: 60\r?$", s, re.M) for s in subscribes)


def test_logging_out_never_blocks_the_other_users(agent_factory, reactor, pbx):
    """Every agent of a process shares one reactor thread: logging one user out must not
    hold it while the PBX takes its time to answer the WebSocket close (Asterisk does)."""
    first, first_events = agent_factory("1001")
    second, second_events = agent_factory("1002")
    for agent, events in ((first, first_events), (second, second_events)):
        agent.login()
        events.wait_for("READY")
    first.logout()
    first_events.wait_for("LOGGED_OUT")
    time.sleep(2.5)  # the un-SUBSCRIBE's answer, the close, and a second more
    reactor.run_sync(lambda: None, timeout=5)  # raises TimeoutError while it is held
    assert second.is_connected()
