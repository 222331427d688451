"""Engine benchmark: message handling rate on one core, and many agents on the lab Kamailio.

Run from the repository root with the test venv::

    python -m bench.engine_bench               # 100 agents
    python -m bench.engine_bench --agents 500

Prints one table. "handled/s" is single-threaded: parse + dialog-info parse + tracker apply
for a NOTIFY, parse only for an INVITE. The agents part starts a real Kamailio (lab/kamailio.py)
with one user per agent, logs every agent in (WebSocket, digest-challenged SUBSCRIBE,
first NOTIFY) and measures the time until every one is READY, the resident memory they
add, and the CPU this process and Kamailio use while the agents sit idle.
"""

import argparse
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

import lab
from cti_engine import AgentConfig, Reactor, UserAgent, dialoginfo, sip
from cti_engine.tracker import CallTracker

NOTIFY = (
    "NOTIFY sip:b9b63c9a@127.0.0.1:37046;transport=ws SIP/2.0\r\n"
    "Via: SIP/2.0/WS 127.0.0.1:37001;branch=z9hG4bKe659.033e2852000000000000000000000000.0\r\n"
    "To: <sip:1001@pbx.test>;tag=88b38ee15f71\r\n"
    "From: <sip:1001@pbx.test>;tag=27b149d38f0e0579027f61c96338ec21-92890000\r\n"
    "CSeq: 3 NOTIFY\r\nCall-ID: ac24ab340fc23bb35a56fb16@8286ede5fc1b.invalid\r\n"
    "Content-Length: {length}\r\nUser-Agent: kamailio (5.6.3 (x86_64/linux))\r\n"
    "Max-Forwards: 70\r\nEvent: dialog\r\nContact: <sip:127.0.0.1:37001;transport=ws>\r\n"
    "Subscription-State: active;expires=600\r\n"
    "Content-Type: application/dialog-info+xml\r\n\r\n{body}"
)
DOCUMENT = (
    '<?xml version="1.0"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" '
    'version="{version}" state="full" entity="sip:1001@pbx.test">\n'
    '  <dialog id="padi-6b0102c4-493f-1" call-id="1-18765@127.0.0.1" '
    'local-tag="714316558fd37e22" remote-tag="18765SIPpTag001" direction="recipient">\n'
    "    <state>{state}</state>\n"
    "    <remote>\n      <identity>sip:+4930123456@pbx.test</identity>\n"
    '      <target uri="sip:+4930123456@127.0.0.1:58954;transport=UDP"/>\n    </remote>\n'
    "    <local>\n      <identity>sip:1001@pbx.test</identity>\n"
    '      <target uri="sip:1001-0x55986a534380@127.0.0.1:49727"/>\n    </local>\n'
    "  </dialog>\n</dialog-info>\n"
)
INVITE = (
    b"INVITE sip:1001-0x55986a534380@127.0.0.1:49727 SIP/2.0\r\n"
    b"Record-Route: <sip:127.0.0.1:5060;r2=on;lr=on;ftag=18765SIPpTag001>\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK0c5b.1\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:58954;branch=z9hG4bK-18765-1-0\r\n"
    b"From: <sip:+4930123456@pbx.test>;tag=18765SIPpTag001\r\nTo: <sip:1001@pbx.test>\r\n"
    b"Call-ID: 1-18765@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
    b"Contact: <sip:+4930123456@127.0.0.1:58954;transport=UDP>\r\nMax-Forwards: 69\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 129\r\n\r\n"
    b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def notify_frames(count):
    states = ("early", "confirmed", "terminated")
    frames = []
    for version in range(2, count + 2):
        body = DOCUMENT.format(version=version, state=states[version % 3])
        frames.append(NOTIFY.format(length=len(body.encode()), body=body).encode())
    return frames


def rate(function, items, seconds=2.0):
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for item in items:
            function(item)
        done += len(items)
    return done / (time.perf_counter() - start)


def bench_messages():
    frames = notify_frames(3000)
    tracker = CallTracker("sip:1001@pbx.test", "1001", "User 1001", lambda _event: None)

    def handle_notify(frame):
        message = sip.parse(frame)
        info = dialoginfo.parse(message.body)
        tracker._last_version = None  # noqa: SLF001 - replay the same versions every round
        tracker._finished.clear()  # noqa: SLF001
        tracker.apply(info)

    return {
        "NOTIFY (parse + dialog-info + tracker)": rate(handle_notify, frames),
        "INVITE (parse)": rate(sip.parse, [INVITE] * 1000),
    }


def rss_kib():
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid=None):
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    total = 0.0
    for task in Path("/proc").iterdir():
        if not task.name.isdigit():
            continue
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pid or int(task.name) == pid:  # kamailio and its children
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def bench_agents(count, idle_s):
    users = {str(2000 + i): f"pw{2000 + i}" for i in range(count)}
    with tempfile.TemporaryDirectory(prefix="cti-bench-") as run_dir:
        pbx = lab.Kamailio(run_dir, users=users)
        pbx.start()
        reactor = Reactor().start()
        ready = threading.Semaphore(0)
        agents = []
        try:
            base_rss = rss_kib()
            start = time.monotonic()
            for user, password in users.items():
                config = AgentConfig(
                    ws_url=pbx.ws_url, domain=pbx.domain, username=user, password=password
                )

                def on_event(event):
                    if event["name"] == "READY":
                        ready.release()

                agent = UserAgent(config, reactor, on_event)
                agents.append(agent)
                agent.login()
            for _ in agents:
                if not ready.acquire(timeout=120):
                    raise RuntimeError("not every agent became READY within 120 s")
            all_ready = time.monotonic() - start
            time.sleep(1)
            rss_per_agent = (rss_kib() - base_rss) / count
            cpu_self, cpu_pbx = cpu_seconds(), cpu_seconds(pbx.proc.pid)
            time.sleep(idle_s)
            idle_self = (cpu_seconds() - cpu_self) / idle_s * 100
            idle_pbx = (cpu_seconds(pbx.proc.pid) - cpu_pbx) / idle_s * 100
        finally:
            for agent in agents:
                agent.logout()
            time.sleep(0.5)
            reactor.stop()
            pbx.stop()
    return {
        f"{count} agents: time until all READY": f"{all_ready:.2f} s",
        "RSS added per agent": f"{rss_per_agent:.0f} KiB",
        f"CPU at idle over {idle_s:.0f} s, engine process": f"{idle_self:.2f} % of one core",
        f"CPU at idle over {idle_s:.0f} s, Kamailio": f"{idle_pbx:.2f} % of one core",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU sampling")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    rows = [(name, f"{value:,.0f} handled/s") for name, value in bench_messages().items()]
    rows += list(bench_agents(args.agents, args.idle).items())
    width = max(len(name) for name, _ in rows)
    print(f"{'measure'.ljust(width)}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
