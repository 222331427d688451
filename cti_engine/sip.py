"""Parsing and building SIP messages on top of sipmessage, with the limits of a hostile peer."""

import re
import secrets

from sipmessage import Message, Request, Response

MAX_MESSAGE_BYTES = 65536
MAX_HEADER_LINES = 128
MAX_LINE_BYTES = 8192
BRANCH_MAGIC = "z9hG4bK"
ALLOWED_METHODS = "INVITE, ACK, CANCEL, BYE, NOTIFY, OPTIONS, UPDATE"


# What no value the agent writes into a SIP message may contain: CR and LF would start a
# header of the writer's choosing (or the body), NUL and the other controls (C0, DEL, C1,
# the Unicode line and paragraph separators) are refused or read differently by parsers
# along the way. HTAB is linear white space (RFC 3261 §25.1).
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
LINE_BREAKS = re.compile("[\r\n]")
# RFC 3261 §25.1 token: a header name, a method.
TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
# RFC 3261 §25.1 "user" (unreserved, escaped, user-unreserved) and a host name or address:
# what a SIP user name and a domain may be, so that neither breaks out of a URI.
SIP_USER = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$")
SIP_HOST = re.compile(r"^[A-Za-z0-9\-.\[\]:]+$")
# Display names longer than this are cut: nobody reads more on a phone's screen.
MAX_DISPLAY_NAME = 64


class MalformedMessage(ValueError):
    """A frame from the PBX that is not a SIP message this agent can act on."""


class UnsafeValue(ValueError):
    """A value that would change the structure of a SIP message the agent builds."""


def check_value(value, what):
    """``value`` when it can go into a SIP header or request line as it is.

    :raises UnsafeValue: when it holds CR, LF, NUL or another control character
    """
    if CONTROL_CHARACTERS.search(value):
        raise UnsafeValue(f"the {what} contains a control character")
    return value


def check_user(value, what):
    """``value`` when it is a SIP user part (extension, authentication user name).

    :raises UnsafeValue: otherwise
    """
    if not SIP_USER.match(value or ""):
        raise UnsafeValue(f"the {what} is not a valid SIP user name")
    return value


def check_host(value, what):
    """``value`` when it is a host name or address (a SIP domain).

    :raises UnsafeValue: otherwise
    """
    if not SIP_HOST.match(value or ""):
        raise UnsafeValue(f"the {what} is not a valid host name")
    return value


def quoted_display_name(name):
    """``name`` as an RFC 3261 quoted-string (§25.1): control characters and runs of blanks
    become one space, backslash and double quote are escaped; empty stays empty."""
    text = " ".join(CONTROL_CHARACTERS.sub(" ", name or "").split())[:MAX_DISPLAY_NAME]
    if not text:
        return ""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def name_addr(uri, name=""):
    """A From/To value ``"name" <uri>`` (``<uri>`` without a name)."""
    quoted = quoted_display_name(name)
    return f"{quoted} <{uri}>" if quoted else f"<{uri}>"


def parse(frame):
    """Parse one WebSocket frame into a sipmessage Request or Response.

    Checks the size limits first, unfolds continuation lines (RFC 3261 §7.3.1), requires the
    headers every message must have, and honours Content-Length.

    :raises MalformedMessage: with a short reason, never anything else
    """
    if isinstance(frame, str):
        try:
            frame = frame.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            raise MalformedMessage("not encodable as UTF-8") from exc
    if len(frame) > MAX_MESSAGE_BYTES:
        raise MalformedMessage(f"message of {len(frame)} bytes exceeds {MAX_MESSAGE_BYTES}")
    head, sep, body = frame.partition(b"\r\n\r\n")
    if not sep:
        raise MalformedMessage("no blank line after the headers")
    lines = head.split(b"\r\n")
    if len(lines) > MAX_HEADER_LINES or any(len(line) > MAX_LINE_BYTES for line in lines):
        raise MalformedMessage("header section too large")
    unfolded = [lines[0]]
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and len(unfolded) > 1:
            unfolded[-1] += b" " + line.strip()
        else:
            unfolded.append(line)
    for index in range(1, len(unfolded)):
        # HCOLON allows blanks before the colon (RFC 3261 §7.3.1, RFC 4475 "wsinv");
        # sipmessage would keep them in the name, and "From :" would go unfound.
        name, colon, value = unfolded[index].partition(b":")
        if colon and name[-1:] in (b" ", b"\t"):
            unfolded[index] = name.rstrip(b" \t") + b":" + value
    try:
        message = Message.parse(b"\r\n".join(unfolded) + b"\r\n\r\n" + body)
        for name in ("Call-ID", "CSeq", "From", "To", "Via"):
            if message.headers.get(name) is None:
                raise MalformedMessage(f"missing {name} header")
        cseq = message.cseq
        length = message.content_length
    except MalformedMessage:
        raise
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise MalformedMessage(str(exc) or type(exc).__name__) from exc
    # RFC 3261 §8.1.1.5: a CSeq number is below 2**31 and names the request's method;
    # §7.2: a status code has three digits. Transactions are matched on these.
    if not 0 <= cseq.sequence < 2**31:
        raise MalformedMessage("CSeq number out of range")
    if isinstance(message, Request) and cseq.method != message.method:
        raise MalformedMessage("CSeq method differs from the request's")
    if isinstance(message, Response) and not 100 <= message.code <= 699:
        raise MalformedMessage("status code out of range")
    if length is not None:
        if length < 0 or length > len(message.body):
            raise MalformedMessage("Content-Length larger than the body")
        message.body = message.body[:length]
    return message


def new_branch():
    return BRANCH_MAGIC + secrets.token_hex(8)


def new_tag():
    return secrets.token_hex(6)


def new_call_id(host):
    return f"{secrets.token_hex(12)}@{host}"


def serialize(message):
    """Bytes of ``message`` with a correct Content-Length.

    Every message the agent sends passes here, so this is where nothing can smuggle a line
    into it: the start line and every header name and value of a request are checked,
    whatever built them and whatever checks their input had before; a response, which
    echoes the peer's headers, may carry no line break.

    :raises UnsafeValue: when a header name is not a token, or a request's value or start
        line holds a control character, or a response's a line break
    """
    message.headers.set("Content-Length", str(len(message.body)))
    if isinstance(message, Request):
        if not TOKEN.match(message.method):
            raise UnsafeValue("the method is not a token")
        uri = check_value(str(message.uri), "Request-URI")
        if not uri or " " in uri or "\t" in uri:
            raise UnsafeValue("the Request-URI is empty or contains a blank")
        forbidden = CONTROL_CHARACTERS
    else:
        # A response echoes the request's Via, From, To, Call-ID and CSeq as the peer wrote
        # them (RFC 3261 §8.2.6), and a peer may legally quote a NUL or BEL in a display
        # name (RFC 4475 "intmeth"); only a line break could add a header there.
        forbidden = LINE_BREAKS
        if LINE_BREAKS.search(str(message.phrase)):
            raise UnsafeValue("the reason phrase contains a line break")
    for name in message.headers.keys():
        if not TOKEN.match(name):
            raise UnsafeValue(f"the header name {name!r} is not a token")
        for value in message.headers.getlist(name):
            if forbidden.search(value):
                raise UnsafeValue(f"the {name} header contains a control character")
    return bytes(message)


def response_to(request: Request, code, phrase, to_tag=None, body=b"", content_type=None):
    """A response echoing the request's Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6)."""
    response = Response(code=code, phrase=phrase, body=body)
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        for value in request.headers.getlist(name):
            response.headers.add(name, value)
    if to_tag and ";tag=" not in response.headers["To"].replace(" ", ""):
        response.headers.set("To", response.headers["To"] + f";tag={to_tag}")
    if content_type:
        response.headers.set("Content-Type", content_type)
    return response


def header_param(value, name):
    """The value of parameter ``name`` in a header value such as ``active;expires=30``."""
    for part in value.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name:
            return val.strip().strip('"')
    return None
