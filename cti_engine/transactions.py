"""Client transactions over a reliable transport (RFC 3261 §17.1), with digest retries.

Over WebSocket nothing is retransmitted; a transaction only needs matching, a timeout
(Timer B/F, 64*T1) and, for INVITE, the ACK of a non-2xx final response.
"""

import logging

from . import sip
from .digest import UnsupportedChallenge, pick_challenge

_logger = logging.getLogger(__name__)

TIMEOUT = 32.0
MAX_AUTH_ATTEMPTS = 2


class ClientTransaction:
    def __init__(self, leg, request, on_response, build):
        self.leg = leg
        self.request = request
        self.on_response = on_response
        self.build = build  # build(extra_headers) -> a fresh request (new branch and CSeq)
        self.auth_attempts = 0
        self.timer = None
        self.final = False

    @property
    def key(self):
        via = self.request.headers.get("Via", "")
        return (sip.header_param(via, "branch"), self.request.method)


class TransactionLayer:
    """Sends requests and routes responses back to the callback of their transaction.

    ``on_response(response)`` is called for every provisional and the final response; the
    layer answers 401/407 itself (up to twice, or whenever the nonce was stale) and only
    hands over a challenge it could not answer.
    """

    def __init__(self, reactor, send, digest, timeout=TIMEOUT):
        self.reactor = reactor
        self.send = send
        self.digest = digest
        self.timeout = timeout
        self._pending = {}

    def start(self, leg, build, on_response):
        """Start a transaction; ``build(headers)`` makes the request, adding ``headers``."""
        request = build([])
        tx = ClientTransaction(leg, request, on_response, build)
        self._launch(tx)
        return tx

    def cancel(self, tx, via):
        """CANCEL a pending INVITE transaction (RFC 3261 §9.1)."""
        if tx.final:
            return None
        invite = tx.request
        branch = sip.header_param(invite.headers["Via"], "branch")
        cancel = tx.leg.request(
            "CANCEL", via, cseq=invite.cseq.sequence, branch=branch, with_to_tag=False
        )
        cancel.uri = invite.uri
        return self.start(tx.leg, lambda _headers: cancel, lambda _response: None)

    def clear(self):
        """Forget every pending transaction (the connection is gone)."""
        for tx in self._pending.values():
            if tx.timer:
                tx.timer.cancel()
        self._pending.clear()

    def handle_response(self, response):
        """Route a response; returns False when it matches no pending transaction."""
        via = response.headers.get("Via", "")
        key = (sip.header_param(via, "branch"), response.cseq.method)
        tx = self._pending.get(key)
        if tx is None:
            return False
        if response.code < 200:
            tx.on_response(response)
            return True
        self._finish(tx)
        if tx.request.method == "INVITE" and response.code >= 300:
            self._ack_failure(tx, response)
        if response.code in (401, 407) and self._retry_with_credentials(tx, response):
            return True
        tx.on_response(response)
        return True

    def _launch(self, tx):
        self._pending[tx.key] = tx
        tx.timer = self.reactor.call_later(self.timeout, self._timed_out, tx)
        if not self.send(sip.serialize(tx.request)):
            self._finish(tx)
            tx.on_response(_synthetic(tx.request, 503, "Service Unavailable (not connected)"))

    def _finish(self, tx):
        tx.final = True
        self._pending.pop(tx.key, None)
        if tx.timer:
            tx.timer.cancel()

    def _timed_out(self, tx):
        if tx.final:
            return
        self._finish(tx)
        tx.on_response(_synthetic(tx.request, 408, "Request Timeout"))

    def _ack_failure(self, tx, response):
        invite = tx.request
        ack = tx.leg.request(
            "ACK",
            _via_without_branch(invite),
            cseq=invite.cseq.sequence,
            branch=sip.header_param(invite.headers["Via"], "branch"),
            with_to_tag=False,
        )
        ack.uri = invite.uri
        ack.headers.set("To", response.headers["To"])
        self.send(sip.serialize(ack))

    def _retry_with_credentials(self, tx, response):
        try:
            header, challenge = pick_challenge(response)
        except UnsupportedChallenge as exc:
            _logger.warning("CTI: cannot answer the PBX challenge: %s", exc)
            return False
        stale = challenge.parameters.get("stale", "").lower() == "true"
        if tx.auth_attempts >= MAX_AUTH_ATTEMPTS and not stale:
            return False
        if tx.auth_attempts >= MAX_AUTH_ATTEMPTS + 2:
            return False
        tx.auth_attempts += 1
        request = tx.request
        uri = str(request.uri)
        try:
            credentials = self.digest.answer(challenge, request.method, uri, request.body)
        except UnsupportedChallenge as exc:
            _logger.warning("CTI: cannot answer the PBX challenge: %s", exc)
            return False
        # The same transaction object goes on with the new request: whoever holds it (a
        # click-to-call that may CANCEL its INVITE) holds the request actually pending.
        tx.request = tx.build([(header, credentials)])
        tx.final = False
        self._launch(tx)
        return True


def _via_without_branch(request):
    via = request.headers["Via"]
    return via.split(";", 1)[0]


def _synthetic(request, code, phrase):
    return sip.response_to(request, code, phrase)
