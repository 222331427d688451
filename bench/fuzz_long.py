"""Long fuzz run of the engine's inbound path: SIP parsing, dialog-info parsing, the tracker.

    python -m bench.fuzz_long --inputs 1000000            # own mutator (no dependency)
    python -m bench.fuzz_long --atheris --inputs 1000000  # coverage-guided, if installed

Each input is one generated frame: a mutation of a valid SIP or dialog-info seed (bit flips,
byte insertions and deletions, splices of two seeds, hostile tokens, truncation), given to
``sip.parse``, and its body (or the input itself) to ``dialoginfo.parse`` and, when that
succeeds, to a ``CallTracker``. Only ``MalformedMessage`` and ``MalformedDocument`` may
escape; anything else is a crash, and an input slower than ``--hang-ms`` is a hang. It prints
the inputs tried, crashes, hangs, the slowest input and the peak RSS, and exits non-zero on
any crash or hang.
"""

import argparse
import os
import random
import resource
import sys
import time
import traceback
from pathlib import Path

from cti_engine import dialoginfo, sip
from cti_engine.tracker import CallTracker

NS = 'xmlns="urn:ietf:params:xml:ns:dialog-info"'


def _xml(version, state, dialogs):
    return (
        f'<?xml version="1.0"?>\n<dialog-info {NS} version="{version}" state="{state}" '
        f'entity="sip:1001@pbx.test">{dialogs}</dialog-info>'
    ).encode()


DIALOG = (
    '<dialog id="d{n}" call-id="c{n}@h" local-tag="l{n}" remote-tag="r{n}" direction="{d}">'
    '<state event="remote-bye" code="200">{s}</state><remote><identity display="A B">'
    "sip:+4930123456@pbx.test</identity><target uri='sip:x@h'><param pname='+sip.rendering' "
    "pval='no'/></target></remote><local><identity>sip:1001@pbx.test</identity></local></dialog>"
)
XML_SEEDS = [
    _xml(1, "full", ""),
    _xml(2, "full", DIALOG.format(n=1, d="recipient", s="early")),
    _xml(3, "partial", DIALOG.format(n=1, d="recipient", s="confirmed")),
    _xml(4, "full", DIALOG.format(n=2, d="initiator", s="Trying") * 3),
    _xml(5, "full", DIALOG.format(n=1, d="recipient", s="terminated")),
]


def _notify(body):
    head = (
        "NOTIFY sip:a@h.invalid;transport=ws SIP/2.0\r\n"
        "Via: SIP/2.0/WS 127.0.0.1:5066;branch=z9hG4bK776asdhds\r\n"
        "From: <sip:1001@pbx.test>;tag=ab12\r\nTo: <sip:1001@pbx.test>;tag=cd34\r\n"
        "Call-ID: 3848276298220188511@h.invalid\r\nCSeq: 7 NOTIFY\r\nMax-Forwards: 70\r\n"
        "Event: dialog\r\nSubscription-State: active;expires=600\r\n"
        "Contact: <sip:127.0.0.1:5066;transport=ws>\r\n"
        f"Content-Type: application/dialog-info+xml\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _sip_seeds():
    seeds = [_notify(body) for body in XML_SEEDS]
    seeds.append(
        b"SIP/2.0 407 Proxy Authentication Required\r\n"
        b"Via: SIP/2.0/WS h.invalid;branch=z9hG4bK1\r\nFrom: <sip:1001@pbx.test>;tag=1\r\n"
        b"To: <sip:1001@pbx.test>;tag=2\r\nCall-ID: x@h\r\nCSeq: 1 SUBSCRIBE\r\n"
        b'Proxy-Authenticate: Digest realm="pbx.test", nonce="abc", qop="auth,auth-int"\r\n'
        b"Contact: <sip:1.2.3.4>\r\nRecord-Route: <sip:1.2.3.4;lr>\r\nExpires: 600\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    try:
        from tests_engine import torture

        seeds += [*torture.VALID.values(), *torture.INVALID.values()]
        seeds += list(torture.APPLICATION.values())
    except ImportError:
        pass
    return seeds


TOKENS = [
    b"\r\n", b"\r\n\r\n", b":", b";", b",", b"<", b">", b'"', b"\\", b"%00", b"%", b"\x00",
    b" ", b"\t", b"\r\n ", b"99999999999999999999999", b"-1", b"0", b"4294967296",
    b"Content-Length: ", b"CSeq: ", b"Via: ", b"tag=", b"branch=", b"sip:", b"\xff\xfe",
    b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>", b"&e;", b"<![CDATA[", b"]]>",
    b"<dialog>", b"</dialog>", b"<state>", b"terminated", b"early", b"confirmed", b"\xed\xa0\x80",
    "\u0663\u0664".encode(), b"=" * 64, b"A" * 300,
]  # fmt: skip


class Mutator:
    def __init__(self, seed):
        self.random = random.Random(seed)
        self.sip_seeds = _sip_seeds()
        self.xml_seeds = XML_SEEDS

    def __call__(self):
        rnd = self.random
        pool = self.sip_seeds if rnd.random() < 0.7 else self.xml_seeds
        data = bytearray(rnd.choice(pool))
        for _ in range(rnd.choice((1, 1, 2, 3, 5, 8))):
            op = rnd.randrange(8)
            pos = rnd.randrange(len(data) + 1)
            if op == 0 and data:  # flip bits
                i = min(pos, len(data) - 1)
                data[i] ^= 1 << rnd.randrange(8)
            elif op == 1:  # random bytes
                data[pos:pos] = rnd.randbytes(rnd.randrange(1, 9))
            elif op == 2 and data:  # delete a range
                del data[pos : pos + rnd.randrange(1, 40)]
            elif op == 3 and data:  # duplicate a range
                end = min(len(data), pos + rnd.randrange(1, 200))
                data[end:end] = data[pos:end] * rnd.randrange(1, 4)
            elif op == 4:  # hostile token
                data[pos:pos] = rnd.choice(TOKENS)
            elif op == 5:  # splice another seed
                other = rnd.choice(pool)
                cut = rnd.randrange(len(other) + 1)
                data = data[:pos] + bytearray(other[cut:])
            elif op == 6:  # truncate
                del data[pos:]
            elif data:
                data[min(pos, len(data) - 1)] = rnd.choice(b'\r\n:;,<>" \t=%')
        return bytes(data)


class Target:
    """One input through the inbound path; counts crashes and hangs."""

    def __init__(self, hang_ms):
        self.hang_s = hang_ms / 1000
        self.inputs = 0
        self.crashes = []
        self.hangs = []
        self.slowest = (0.0, b"")
        self.accepted_sip = 0
        self.accepted_xml = 0
        self._new_tracker()

    def _new_tracker(self):
        self.tracker = CallTracker("sip:1001@pbx.test", "1001", "User", lambda _event: None)
        self.tracker_docs = 0

    def __call__(self, data):
        self.inputs += 1
        started = time.perf_counter()
        try:
            body = data
            try:
                message = sip.parse(data)
            except sip.MalformedMessage:
                pass
            else:
                self.accepted_sip += 1
                body = message.body or data
            try:
                info = dialoginfo.parse(body)
            except dialoginfo.MalformedDocument:
                pass
            else:
                self.accepted_xml += 1
                self.tracker.apply(info)
                self.tracker_docs += 1
                if self.tracker_docs > 1000:  # keep a long-lived tracker's memory honest
                    self._new_tracker()
        except Exception:  # noqa: BLE001 - that is what we are looking for
            if len(self.crashes) < 20:
                self.crashes.append((data, traceback.format_exc()))
            else:
                self.crashes.append((data, ""))
        elapsed = time.perf_counter() - started
        if elapsed > self.slowest[0]:
            self.slowest = (elapsed, data)
        if elapsed > self.hang_s:
            self.hangs.append((elapsed, data))


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_mutator(inputs, seed, hang_ms, progress=True):
    target = Target(hang_ms)
    mutate = Mutator(seed)
    started = time.monotonic()
    rss_at = {}
    for n in range(1, inputs + 1):
        target(mutate())
        if n % 100000 == 0 or n == inputs:
            rss_at[n] = peak_rss_mib()
            if progress:
                rate = n / (time.monotonic() - started)
                print(f"{n:>10,} inputs  {rate:,.0f}/s  peak RSS {rss_at[n]:.1f} MiB", flush=True)
    target.seconds = time.monotonic() - started
    target.rss_at = rss_at
    return target


def run_atheris(inputs, hang_ms):
    import atheris

    target = Target(hang_ms)
    with atheris.instrument_imports():
        pass  # the modules are imported already; instrument them below
    atheris.instrument_func(sip.parse)
    atheris.instrument_func(dialoginfo.parse)
    seeds_dir = Path("/tmp/cti_fuzz_corpus")
    seeds_dir.mkdir(exist_ok=True)
    for i, seed in enumerate(_sip_seeds() + XML_SEEDS):
        (seeds_dir / f"seed{i}").write_bytes(seed)
    started = time.monotonic()

    def one(data):
        target(data)
        if target.inputs >= inputs:
            report(target, time.monotonic() - started, "atheris")
            sys.stdout.flush()
            # not sys.exit: libFuzzer would take SystemExit for a crash and save an artifact
            os._exit(1 if target.crashes or target.hangs else 0)

    atheris.Setup([sys.argv[0], f"-runs={inputs + 10}", "-max_len=8192", str(seeds_dir)], one)
    atheris.Fuzz()


def report(target, seconds, how):
    print(f"engine: {how}")
    print(f"inputs tried: {target.inputs:,} in {seconds:.0f} s ({target.inputs / seconds:,.0f}/s)")
    print(f"accepted: {target.accepted_sip:,} as SIP, {target.accepted_xml:,} as dialog-info")
    print(
        f"crashes (exceptions other than MalformedMessage/MalformedDocument): {len(target.crashes)}"
    )
    for data, trace in target.crashes[:3]:
        print(f"--- crash on {data[:200]!r}\n{trace}")
    print(f"hangs (> {target.hang_s * 1000:.0f} ms): {len(target.hangs)}")
    print(f"slowest input: {target.slowest[0] * 1000:.2f} ms ({len(target.slowest[1])} bytes)")
    print(f"peak RSS: {peak_rss_mib():.1f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=4475)
    parser.add_argument("--hang-ms", type=float, default=100.0)
    parser.add_argument("--atheris", action="store_true", help="coverage-guided with atheris")
    args = parser.parse_args()
    if args.atheris:
        run_atheris(args.inputs, args.hang_ms)
        return 0
    target = run_mutator(args.inputs, args.seed, args.hang_ms)
    report(target, target.seconds, f"own mutator, seed {args.seed}")
    return 1 if target.crashes or target.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
