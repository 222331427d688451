"""Fuzzing the two parsers that read what the PBX sends: only their own errors may escape.

Bounded sizes and a few hundred examples each, so this runs in seconds in CI.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti_engine import dialoginfo, sip

# Every code point, lone surrogates included: a str can hold them even if no frame should.
# (st.text never yields lone surrogates, hence the join).
any_text = st.lists(
    st.one_of(st.characters(), st.sampled_from("\ud800\udc80\udfff\x00\r\n<&")),
    max_size=1024,
).map("".join)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

START_LINES = [
    "NOTIFY sip:a@b SIP/2.0",
    "INVITE sip:1001@pbx.test SIP/2.0",
    "BYE sip:x SIP/2.0",
    "SIP/2.0 200 OK",
    "SIP/2.0 407 Proxy Authentication Required",
    "SIP/2.0 99999999999999999999 X",
    "GARBAGE",
    "",
]
HEADER_NAMES = [
    "Via",
    "v",
    "From",
    "f",
    "To",
    "t",
    "Call-ID",
    "i",
    "CSeq",
    "Content-Length",
    "l",
    "Content-Type",
    "c",
    "Contact",
    "m",
    "Record-Route",
    "Expires",
    "Subscription-State",
    "Proxy-Authenticate",
    "X",
    "",
]
header_value = st.one_of(
    st.sampled_from(
        [
            "SIP/2.0/WS h.invalid;branch=z9hG4bK1",
            "<sip:1001@pbx.test>;tag=1",
            "1 NOTIFY",
            "-1 INVITE",
            "abc",
            "99999999999999999999",
            "0",
            "5",
            "<>",
            "<sip:",
            '"a\\" <sip:x@y>',
            "application/dialog-info+xml",
            'Digest realm="a", nonce="b", qop="auth,auth-int"',
        ]
    ),
    st.text(max_size=40),
)
header = st.tuples(st.sampled_from(HEADER_NAMES), st.sampled_from([": ", ":", " : "]), header_value)
sip_like = st.builds(
    lambda start, headers, sep, body: (
        start + "\r\n" + "".join(f"{n}{c}{v}\r\n" for n, c, v in headers) + sep + body
    ).encode("utf-8", "surrogatepass"),
    st.sampled_from(START_LINES),
    st.lists(header, max_size=12),
    st.sampled_from(["\r\n", "", "\n", "\r\n\r\n"]),
    st.text(max_size=200),
)


@FUZZ
@given(st.one_of(st.binary(max_size=2048), sip_like))
def test_sip_parse_raises_only_malformed_message(frame):
    try:
        sip.parse(frame)
    except sip.MalformedMessage:
        pass


@FUZZ
@given(any_text)
def test_sip_parse_accepts_any_text_frame(frame):
    try:
        sip.parse(frame)
    except sip.MalformedMessage:
        pass


NS = 'xmlns="urn:ietf:params:xml:ns:dialog-info"'
XML_PIECES = [
    f'<dialog-info {NS} version="2" state="full" entity="sip:1001@pbx.test">',
    f'<dialog-info {NS} version="x" state="partial">',
    f'<dialog-info {NS} version="-1" state="FULL">',
    "</dialog-info>",
    '<dialog id="a" call-id="c" direction="recipient">',
    "<dialog>",
    '<dialog id="">',
    "</dialog>",
    "<state>early</state>",
    '<state event="rejected" code="486">terminated</state>',
    '<state code="99999999999999999999999">confirmed</state>',
    "<state/>",
    "<remote><identity display='A'>sip:+49301@x</identity><target uri='sip:x'/></remote>",
    "<local><target uri='sip:y'><param pname='+sip.rendering' pval='no'/></target></local>",
    "<local><target/></local>",
    "<!DOCTYPE x>",
    '<!ENTITY e "x">',
    "&e;",
    "&amp;",
    "<![CDATA[x]]>",
    '<?xml version="1.0"?>',
    "<",
    ">",
    "\x00",
]
xml_like = st.builds(
    lambda pieces: "".join(pieces).encode("utf-8", "surrogatepass"),
    st.lists(st.one_of(st.sampled_from(XML_PIECES), st.text(max_size=10)), max_size=30),
)


@FUZZ
@given(st.one_of(st.binary(max_size=4096), xml_like))
def test_dialoginfo_parse_raises_only_malformed_document(body):
    try:
        dialoginfo.parse(body)
    except dialoginfo.MalformedDocument:
        pass


@FUZZ
@given(any_text)
def test_dialoginfo_parse_accepts_any_text(body):
    try:
        dialoginfo.parse(body)
    except dialoginfo.MalformedDocument:
        pass
