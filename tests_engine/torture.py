"""SIP torture messages after RFC 4475, written for this project from the RFC's descriptions.

Each entry is (name, the RFC section, the message bytes). The names are the RFC's test names;
the bytes are our own: other hosts, users, tags and values, showing the same trait the RFC's
message tests. ``build`` fills in Content-Length from the body unless a test is about a wrong
one.
"""

CRLF = "\r\n"


def build(lines, body="", content_length=None):
    """A message from header lines (a line starting with a space or tab continues the one
    before, as written) and a body; ``{CL}`` in a line becomes the body's length."""
    body_bytes = body.encode("utf-8") if isinstance(body, str) else body
    length = len(body_bytes) if content_length is None else content_length
    head = CRLF.join(lines).replace("{CL}", str(length))
    return head.encode("utf-8") + (CRLF * 2).encode() + body_bytes


SDP = CRLF.join(
    [
        "v=0",
        "o=torture 7 7 IN IP4 198.51.100.7",
        "s=-",
        "c=IN IP4 198.51.100.7",
        "t=0 0",
        "m=audio 40000 RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        "",
    ]
)

COMMON = [
    "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.t7a1",
    "Max-Forwards: 70",
    "From: <sip:tester@example.org>;tag=t7f",
    "To: <sip:target@example.net>",
    "Call-ID: torture.{name}@example.org",
]


def common(name, method, cseq=1):
    return [line.replace("{name}", name) for line in COMMON] + [f"CSeq: {cseq} {method}"]


# -- RFC 4475 §3.1.1: valid messages ----------------------------------------------------------

VALID = {}

# A short but tortuous INVITE: folded lines everywhere, odd case, compact names, spaces around
# every separator, an escaped quote in a display name, leading zeros, unknown headers.
VALID["wsinv"] = build(
    [
        "INVITE sip:agent7@pbx-host.example.net;oddparam SIP/2.0",
        "tO :",
        " sip:agent7@pbx-host.example.net ;   tag    = 77aa01x",
        'FROM   : "Q Tester \\\\\\""       <sip:qtester@example.org>',
        "  ;",
        "  tag = 55zz9",
        "mAx-FoRwArDs: 0069",
        "call-id: wsinv.q7e2@198.51.100.7",
        "Content-Length   : {CL}",
        "CSEQ: 0010",
        "  INVITE",
        "Via  : SIP  /   2.0",
        " /UDP",
        "    198.51.100.7;branch=z9hG4bK.ws7",
        "s :",
        "StrangeNewHeader:   a strange value",
        " that continues here",
        "OddValueHeader: ;;,,;;,;",
        "Content-Type: application/sdp",
        "Route:",
        " <sip:route7.example.net;lr;withvalue=v;novalue>",
        "v:  SIP  / 2.0  / TCP     relay7.example.net   ;",
        "  branch  =   z9hG4bK.rly7  ,",
        " SIP  /    2.0   / UDP  192.0.2.77   ; branch=",
        " z9hG4bK.udp77",
        'm:"Quoted \\"\\"" <sip:qtester@example.org> ; aparam =',
        "      avalue ;",
        "  bparam ; q = 0.5",
    ],
    SDP,
)

# Every character a token may hold, in the method and in header parameters.
METHOD = "!strange-Method0123456789_*+`.%indeed'~"
VALID["intmeth"] = build(
    [
        f"{METHOD} sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.net SIP/2.0",  # noqa: E501
        "Via: SIP/2.0/TCP host7.example.org;branch=z9hG4bK-.!%66*_+`'~",
        'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.net>',  # noqa: E501
        "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.org>;fromParam''~+*_!.-%=\"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439\";tag=_token~1'+`*%!-.",  # noqa: E501
        "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
        f"CSeq: 139122385 {METHOD}",
        "Max-Forwards: 255",
        "extensionHeader-!.%*+_`'~:\ufeff\u5927\u505c\u96fb",
        "Content-Length: {CL}",
    ]
)

# %-escapes in the Request-URI's user part that spell a SIPS URI.
VALID["esc01"] = build(
    [
        "INVITE sip:sips%3Aagent%40example.org@example.net SIP/2.0",
        *common("esc01", "INVITE"),
        "Contact: <sip:caller@host7.example.org>",
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
)

# Escaped NULs in the user parts of the Request-URI, To, From and Contact.
VALID["escnull"] = build(
    [
        "REGISTER sip:example.net SIP/2.0",
        "To: sip:nul-%00-nul@example.net",
        "From: sip:nul-%00-nul@example.net;tag=e7n0",
        "Call-ID: escnull.c7@198.51.100.7",
        "CSeq: 2 REGISTER",
        "Max-Forwards: 70",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.nul7",
        "Contact: <sip:%00@host7.example.org>",
        "Contact: <sip:%00%00@host7.example.org>",
        "L:{CL}",
    ]
)

# A % that is not an escape: the method is the token RE%47IST%45R, not REGISTER.
VALID["esc02"] = build(
    [
        "RE%47IST%45R sip:registrar.example.net SIP/2.0",
        'To: "%Z%45" <sip:resource@example.net>',
        'From: "%Z%45" <sip:resource@example.net>;tag=e702',
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.e702",
        "Call-ID: esc02.g7@198.51.100.7",
        "CSeq: 30 RE%47IST%45R",
        "Max-Forwards: 70",
        "Contact: <sip:alias1@host7.example.org>",
        "C%6Fntact: <sip:alias2@host7.example.org>",
        "Contact: <sip:alias%33@host7.example.org>",
        "l: {CL}",
    ]
)

# No LWS between a display name and the '<'.
VALID["lwsdisp"] = build(
    [
        "OPTIONS sip:agent7@example.net SIP/2.0",
        "To: sip:agent7@example.net",
        "From: tester<sip:tester@example.org>;tag=lw7",
        "Max-Forwards: 70",
        "Call-ID: lwsdisp.k7@198.51.100.7",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.lw7",
        "CSeq: 7 OPTIONS",
        "l: {CL}",
    ]
)

# Long values: a long display name, tag, Call-ID, unknown header and many Via entries.
LONG = "x" * 512
VALID["longreq"] = build(
    [
        "INVITE sip:agent7@example.net SIP/2.0",
        f'To: "{"I have a very long display name " * 10}" <sip:agent7@example.net>',
        f"From: tester <sip:tester@example.org>;tag={LONG}",
        f"Call-ID: longreq.{LONG}@198.51.100.7",
        "CSeq: 1 INVITE",
        "Max-Forwards: 70",
        *[f"Via: SIP/2.0/TCP relay{n}.example.net;branch=z9hG4bK.lr{n}" for n in range(40)],
        f"Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.{LONG};received=198.51.100.7",
        f"X-Long-Unknown: {LONG * 4}",
        "Contact: <sip:tester@host7.example.org>",
        "Content-Type: application/sdp",
        "l: {CL}",
    ],
    SDP,
)

# Extra octets after the body announced by Content-Length (a second request, here).
VALID["dblreq"] = build(
    [
        "REGISTER sip:example.net SIP/2.0",
        "To: sip:agent7@example.net",
        "From: sip:agent7@example.net;tag=db7",
        "Max-Forwards: 70",
        "Call-ID: dblreq.p7@198.51.100.7",
        "CSeq: 3 REGISTER",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.db7",
        "Contact: <sip:agent7@host7.example.org>",
        "L: 0",
    ],
    b"",
) + build(["INVITE sip:agent7@example.net SIP/2.0", *common("dblreq2", "INVITE"), "l: {CL}"], SDP)

# Parameters in the user part of the Request-URI (the ';' belong to the user).
VALID["semiuri"] = build(
    [
        "OPTIONS sip:agent7;par=u%40example.org@example.net SIP/2.0",
        *common("semiuri", "OPTIONS"),
        "Accept: application/sdp, application/pkcs7-mime,",
        "        multipart/mixed, multipart/signed,",
        "        message/sip, message/sipfrag",
        "l: {CL}",
    ]
)

# Every transport in Via, known and unknown.
VALID["transports"] = build(
    [
        "OPTIONS sip:agent7@example.net SIP/2.0",
        "To: sip:agent7@example.net",
        "From: <sip:tester@example.org>;tag=tr7",
        "Call-ID: transports.r7@198.51.100.7",
        "CSeq: 1 OPTIONS",
        "Via: SIP/2.0/UDP t1.example.org;branch=z9hG4bK.tr1",
        "Via: SIP/2.0/SCTP t2.example.org;branch=z9hG4bK.tr2",
        "Via: SIP/2.0/TLS t3.example.org;branch=z9hG4bK.tr3",
        "Via: SIP/2.0/UNKNOWN t4.example.org;branch=z9hG4bK.tr4",
        "Via: SIP/2.0/TCP t5.example.org;branch=z9hG4bK.tr5",
        "Max-Forwards: 70",
        "Content-Length: {CL}",
    ]
)

# A multipart/mixed body, one part SDP and one binary (not UTF-8).
BOUNDARY = "tortureBoundary7"
MULTIPART = (
    (
        f"--{BOUNDARY}{CRLF}Content-Type: application/sdp{CRLF}{CRLF}{SDP}"
        f"--{BOUNDARY}{CRLF}Content-Type: application/octet-stream{CRLF}"
        f"Content-Transfer-Encoding: binary{CRLF}{CRLF}"
    ).encode()
    + bytes(range(256))
    + f"{CRLF}--{BOUNDARY}--{CRLF}".encode()
)
VALID["mpart01"] = build(
    [
        "MESSAGE sip:agent7@example.net SIP/2.0",
        *common("mpart01", "MESSAGE"),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed;boundary="{BOUNDARY}"',
        "Content-Length: {CL}",
    ],
    MULTIPART,
)

# A reason phrase of non-ASCII UTF-8 and odd punctuation.
VALID["unreason"] = build(
    [
        "SIP/2.0 200 = 2**3 * 5**2 \u0434\u0432\u0435\u0441\u0442\u0438 \u2014 "
        "\u00e7a ne fait que 200 \u2192 \u2713",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.ur7",
        "Call-ID: unreason.u7@198.51.100.7",
        "CSeq: 1 INVITE",
        "From: <sip:tester@example.org>;tag=ur7f",
        "To: <sip:agent7@example.net>;tag=ur7t",
        "Contact: <sip:agent7@host8.example.net>",
        "Content-Type: application/sdp",
        "l: {CL}",
    ],
    SDP,
)

# An empty reason phrase (the SP before it is still there).
VALID["noreason"] = build(
    [
        "SIP/2.0 100 ",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.nr7",
        "Call-ID: noreason.n7@198.51.100.7",
        "CSeq: 1 INVITE",
        "From: <sip:tester@example.org>;tag=nr7f",
        "To: <sip:agent7@example.net>",
        "Content-Length: {CL}",
    ]
)


# -- RFC 4475 §3.1.2: invalid messages --------------------------------------------------------

INVALID = {}

# Extraneous header field separators (';;' in Via, a stray ';' in From and Contact).
INVALID["badinv01"] = build(
    [
        "INVITE sip:agent7@example.net SIP/2.0",
        "To: sip:agent7@example.net",
        "From: sip:tester@example.org;;tag=bi7",
        "Max-Forwards: 70",
        "Call-ID: badinv01.b7@198.51.100.7",
        "CSeq: 1 INVITE",
        "Via: SIP/2.0/UDP host7.example.org;;,;",
        'Contact: "Tester" <sip:tester@host7.example.org>;;;;',
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
)

# Content-Length larger than the body.
INVALID["clerr"] = build(
    [
        "INVITE sip:agent7@example.net SIP/2.0",
        *common("clerr", "INVITE"),
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
    content_length=len(SDP) + 2000,
)

# A negative Content-Length (the RFC's "ncl").
INVALID["ncl"] = build(
    [
        "INVITE sip:agent7@example.net SIP/2.0",
        *common("ncl", "INVITE"),
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
    content_length=-999,
)

# Request scalars beyond 2**32: CSeq number, Max-Forwards, Expires, a Contact's expires.
INVALID["scalar02"] = build(
    [
        "REGISTER sip:example.net SIP/2.0",
        "Via: SIP/2.0/TCP host7.example.org;branch=z9hG4bK.sc7",
        "Max-Forwards: 255",
        "From: <sip:tester@example.org>;tag=sc7",
        "To: <sip:tester@example.org>",
        "Call-ID: scalar02.s7@198.51.100.7",
        "CSeq: 73786976294838206464 REGISTER",
        "Contact: <sip:tester@host7.example.org>;expires=280297596632815",
        "Expires: 1020304050607080900010",
        "Content-Length: {CL}",
    ]
)

# Response scalars beyond 2**32: the CSeq number, Retry-After, a Warning code.
INVALID["scalarlg"] = build(
    [
        "SIP/2.0 503 Service Unavailable",
        "Via: SIP/2.0/TCP host7.example.org;branch=z9hG4bK.sl7",
        "To: <sip:agent7@example.net>;tag=sl7t",
        "From: <sip:tester@example.org>;tag=sl7f",
        "Call-ID: scalarlg.l7@198.51.100.7",
        "CSeq: 99999999999999999999 OPTIONS",
        "Retry-After: 1844674407370955161600",
        'Warning: 1812 host7.example.org "Oversized"',
        "Content-Length: {CL}",
    ]
)

# An unterminated quoted string in a display name.
INVALID["quotbal"] = build(
    [
        "INVITE sip:agent7@example.net SIP/2.0",
        'To: "Mr. Agent <sip:agent7@example.net>',
        "From: <sip:tester@example.org>;tag=qb7",
        "Max-Forwards: 70",
        "Call-ID: quotbal.q7@198.51.100.7",
        "CSeq: 1 INVITE",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.qb7",
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
)

# The Request-URI enclosed in <>.
INVALID["ltgtruri"] = build(
    [
        "INVITE <sip:agent7@example.net> SIP/2.0",
        *common("ltgtruri", "INVITE"),
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
)

# LWS inside the Request-URI.
INVALID["lwsruri"] = build(
    [
        "INVITE sip:agent7@example.net; lr SIP/2.0",
        *common("lwsruri", "INVITE"),
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
)

# Several SPs between the Request-Line's elements.
INVALID["lwsstart"] = build(
    [
        "INVITE  sip:agent7@example.net  SIP/2.0",
        *common("lwsstart", "INVITE"),
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
)

# SPs after the protocol version at the end of the Request-Line.
INVALID["trws"] = build(
    ["OPTIONS sip:agent7@example.net SIP/2.0  ", *common("trws", "OPTIONS"), "l: {CL}"]
)

# An escaped header (Route) in the Request-URI.
INVALID["escruri"] = build(
    [
        "INVITE sip:agent7@example.net?Route=%3Csip:route7.example.net%3E SIP/2.0",
        *common("escruri", "INVITE"),
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
)

# A Date in a time zone other than GMT.
INVALID["baddate"] = build(
    [
        "INVITE sip:agent7@example.net SIP/2.0",
        *common("baddate", "INVITE"),
        "Date: Sat, 13 Mar 2027 09:30:00 PST",
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
)

# A name-addr URI with a header part, not enclosed in <>.
INVALID["regbadct"] = build(
    [
        "REGISTER sip:example.net SIP/2.0",
        *common("regbadct", "REGISTER"),
        "Contact: sip:agent7@host7.example.org?Route=%3Csip:route7.example.net%3E",
        "l: {CL}",
    ]
)

# Spaces inside the <> around an addr-spec.
INVALID["badaspec"] = build(
    [
        "OPTIONS sip:agent7@example.net SIP/2.0",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.ba7",
        "Max-Forwards: 70",
        'From: "Tester, Q" <sip:tester@example.org>;tag=ba7',
        'To: "Agent, Seven" < sip:agent7@example.net >',
        "Call-ID: badaspec.a7@198.51.100.7",
        "CSeq: 1 OPTIONS",
        "l: {CL}",
    ]
)

# Non-token characters (a comma) in an unquoted display name.
INVALID["baddn"] = build(
    [
        "OPTIONS sip:agent7@example.net SIP/2.0",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.bd7",
        "Max-Forwards: 70",
        "From: Tester, Q <sip:tester@example.org>;tag=bd7",
        "To: Agent, Seven <sip:agent7@example.net>",
        "Call-ID: baddn.d7@198.51.100.7",
        "CSeq: 1 OPTIONS",
        "l: {CL}",
    ]
)

# An unknown protocol version.
INVALID["badvers"] = build(
    ["OPTIONS sip:agent7@example.net SIP/9.0", *common("badvers", "OPTIONS"), "l: {CL}"]
)

# The start line's method and the CSeq's differ.
INVALID["mismatch01"] = build(
    ["OPTIONS sip:agent7@example.net SIP/2.0", *common("mismatch01", "INVITE"), "l: {CL}"]
)

# An unknown method, and a CSeq naming another one.
INVALID["mismatch02"] = build(
    ["STRANGEMETHOD sip:agent7@example.net SIP/2.0", *common("mismatch02", "INVITE"), "l: {CL}"]
)

# A response code far beyond 699.
INVALID["bigcode"] = build(
    [
        "SIP/2.0 4294967301 better not break the receiver",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.bc7",
        "Call-ID: bigcode.c7@198.51.100.7",
        "CSeq: 1 INVITE",
        "From: <sip:tester@example.org>;tag=bc7f",
        "To: <sip:agent7@example.net>;tag=bc7t",
        "Content-Length: {CL}",
    ]
)

# -- RFC 4475 §3.1.4 (application layer): syntactically valid, refused by the application ------
# A parser may accept these; what a UAS does with them is an application decision. The
# agent is not a registrar nor a proxy, and only acts on NOTIFY, BYE and re-INVITE in its
# own dialogs, OPTIONS, and responses to its own transactions.

APPLICATION = {}

# Several Call-ID, To, From, Max-Forwards and CSeq values.
APPLICATION["multi01"] = build(
    [
        "INVITE sip:agent7@example.net SIP/2.0",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.mu7",
        "Max-Forwards: 70",
        "Max-Forwards: 68",
        "From: <sip:tester@example.org>;tag=mu7a",
        "From: <sip:other@example.org>;tag=mu7b",
        "To: <sip:agent7@example.net>",
        "To: <sip:agent8@example.net>",
        "Call-ID: multi01.m7@198.51.100.7",
        "Call-ID: multi01.m8@198.51.100.7",
        "CSeq: 1 INVITE",
        "CSeq: 2 INVITE",
        "Content-Type: application/sdp",
        "Content-Length: {CL}",
    ],
    SDP,
)

# A REGISTER whose Contact has a parameter although the URI is not in <>.
APPLICATION["cparam01"] = build(
    [
        "REGISTER sip:example.net SIP/2.0",
        *common("cparam01", "REGISTER"),
        "Contact: sip:+493012345@gw7.example.org;unknownparam",
        "l: {CL}",
    ]
)

# A REGISTER whose Contact in <> has a url-parameter.
APPLICATION["cparam02"] = build(
    [
        "REGISTER sip:example.net SIP/2.0",
        *common("cparam02", "REGISTER"),
        "Contact: <sip:+493012345@gw7.example.org;unknownparam>",
        "l: {CL}",
    ]
)

# An Authorization header with an unknown scheme.
APPLICATION["regaut01"] = build(
    [
        "REGISTER sip:example.net SIP/2.0",
        *common("regaut01", "REGISTER"),
        "Contact: <sip:tester@host7.example.org>",
        "Authorization: NoOneKnowsThisScheme opaque-data=here",
        "l: {CL}",
    ]
)

# A 200 whose second Via names a broadcast address.
APPLICATION["bcast"] = build(
    [
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK.bca7",
        "Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK.bcb7",
        "Max-Forwards: 70",
        "From: <sip:tester@example.org>;tag=bc7f",
        "To: <sip:agent7@example.net>;tag=bc7t",
        "Call-ID: bcast.b7@198.51.100.7",
        "CSeq: 1 OPTIONS",
        "l: {CL}",
    ]
)

# Require and Proxy-Require of extensions nobody supports.
APPLICATION["bext01"] = build(
    [
        "OPTIONS sip:agent7@example.net SIP/2.0",
        *common("bext01", "OPTIONS"),
        "Require: nothingSupportsThis, nothingSupportsThisEither",
        "Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis",
        "l: {CL}",
    ]
)

# Max-Forwards of zero.
APPLICATION["zeromf"] = build(
    [
        "OPTIONS sip:agent7@example.net SIP/2.0",
        "Via: SIP/2.0/UDP host7.example.org;branch=z9hG4bK.zm7",
        "Max-Forwards: 0",
        "From: <sip:tester@example.org>;tag=zm7",
        "To: <sip:agent7@example.net>",
        "Call-ID: zeromf.z7@198.51.100.7",
        "CSeq: 1 OPTIONS",
        "l: {CL}",
    ]
)
