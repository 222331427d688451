"""A SIP dialog usage held by the agent (a subscription or one leg of a call), and its requests."""

import random

from sipmessage import Request

from . import sip

# The longest the agent lets a party it calls ring (a click-to-call's far end, a transfer
# target): a click-to-call holds the phone's 200 un-ACKed meanwhile, and a phone
# retransmits it for 32 s at most (RFC 3261 §13.3.1.4).
MAX_RING_TIMEOUT = 30.0


class Leg:
    """What RFC 3261 §12 calls a dialog, seen from the agent's side.

    Before the first response it is only the state of an initial request (no remote tag).
    """

    def __init__(self, call_id, local_uri, remote_uri, request_uri, local_name=""):
        self.call_id = call_id
        self.local_uri = local_uri
        self.local_name = local_name
        self.local_tag = sip.new_tag()
        self.remote_uri = remote_uri
        self.remote_tag = None
        self.remote_target = request_uri
        self.route_set = []
        self.cseq = random.randint(1, 10000)  # noqa: S311 - not a secret
        self.invite_cseq = None
        self.invite_branch = None
        self.confirmed = False
        # (CSeq number, frame) of the ACK last sent for a 2xx to our INVITE: every
        # retransmission of that 2xx gets the same ACK (RFC 3261 §13.2.2.4), offer answer
        # included.
        self.last_ack = None

    def establish(self, response):
        """Learn the remote tag, target and route set from a dialog-creating 2xx (or 1xx)."""
        to = response.headers.get("To", "")
        tag = sip.header_param(to, "tag")
        if tag:
            self.remote_tag = tag
        contacts = _read(response, "contact")
        if contacts:
            self.remote_target = str(contacts[0].uri)
        routes = _read(response, "record_route")
        if routes:
            self.route_set = [str(address) for address in reversed(routes)]

    def establish_from_request(self, request):
        """Learn the remote side from a request the peer sent in this dialog (NOTIFY)."""
        tag = sip.header_param(request.headers.get("From", ""), "tag")
        if tag and not self.remote_tag:
            self.remote_tag = tag
            contacts = _read(request, "contact")
            if contacts:
                self.remote_target = str(contacts[0].uri)
            routes = _read(request, "record_route")
            if routes:
                self.route_set = [str(address) for address in routes]

    def matches(self, message):
        return message.headers.get("Call-ID") == self.call_id

    def request(
        self,
        method,
        via,
        contact=None,
        body=b"",
        content_type=None,
        headers=(),
        cseq=None,
        branch=None,
        with_to_tag=True,
    ):
        """Build a request in this dialog; CSeq advances unless ``cseq`` is given (ACK, CANCEL)."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        request = Request(method=method, uri=self.remote_target, body=body)
        branch = branch or sip.new_branch()
        request.headers.add("Via", f"{via};branch={branch};rport")
        request.headers.add("Max-Forwards", "70")
        local = sip.name_addr(self.local_uri, self.local_name)
        request.headers.add("From", f"{local};tag={self.local_tag}")
        to = f"<{self.remote_uri}>"
        if self.remote_tag and with_to_tag:
            to += f";tag={self.remote_tag}"
        request.headers.add("To", to)
        request.headers.add("Call-ID", self.call_id)
        request.headers.add("CSeq", f"{cseq} {method}")
        for route in self.route_set:
            request.headers.add("Route", route)
        if contact:
            request.headers.add("Contact", contact)
        for name, value in headers:
            request.headers.add(name, value)
        if content_type:
            request.headers.add("Content-Type", content_type)
        return request


def _read(message, attribute):
    """A header sipmessage parses only when read; None when the peer wrote it unreadably.

    The dialog then keeps what it had (the request URI, no route set): better than a
    half-established dialog, and the peer that broke its own header gets what it asked for.
    """
    try:
        return getattr(message, attribute)
    except ValueError:
        return None
