"""Parsing and building SIP messages on top of sipmessage, with the limits of a hostile peer."""

import secrets

from sipmessage import Message, Request, Response

MAX_MESSAGE_BYTES = 65536
MAX_HEADER_LINES = 128
MAX_LINE_BYTES = 8192
BRANCH_MAGIC = "z9hG4bK"
ALLOWED_METHODS = "INVITE, ACK, CANCEL, BYE, NOTIFY, OPTIONS, UPDATE"


class MalformedMessage(ValueError):
    """A frame from the PBX that is not a SIP message this agent can act on."""


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
    """Bytes of ``message`` with a correct Content-Length."""
    message.headers.set("Content-Length", str(len(message.body)))
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
