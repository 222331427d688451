"""HTTP digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760): MD5 and SHA-256."""

import hashlib
import re
import secrets

HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}

# sipmessage's AuthParameters splits on every comma, quoted or not, so it cannot read a
# challenge such as qop="auth,auth-int" (RFC 7616 §3.3); challenges are read here instead.
PARAM = re.compile(r'\s*([A-Za-z0-9_\-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]+)\s*(?:,|$)')
QUOTED = ("username", "realm", "nonce", "uri", "response", "cnonce", "opaque")


class Challenge:
    """A parsed WWW-Authenticate or Proxy-Authenticate header."""

    def __init__(self, scheme, parameters):
        self.scheme = scheme
        self.parameters = parameters

    @classmethod
    def parse(cls, value):
        """:raises ValueError: when ``value`` is not ``scheme param=value, ...``"""
        scheme, _, rest = value.strip().partition(" ")
        parameters = {}
        position = 0
        rest = rest.strip()
        while position < len(rest):
            match = PARAM.match(rest, position)
            if not match:
                raise ValueError("malformed authentication challenge")
            name, raw = match.group(1).lower(), match.group(2)
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            parameters[name] = raw
            position = match.end()
        if not scheme or not parameters:
            raise ValueError("malformed authentication challenge")
        return cls(scheme, parameters)


def format_credentials(fields):
    """Serialise digest credentials, quoting what RFC 7616 §3.4 says must be quoted."""
    parts = []
    for name, value in fields.items():
        if name in QUOTED:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            parts.append(f'{name}="{escaped}"')
        else:
            parts.append(f"{name}={value}")
    return "Digest " + ", ".join(parts)


class UnsupportedChallenge(ValueError):
    """The PBX asked for a scheme, algorithm or qop this client does not implement."""


class DigestClient:
    """Answers digest challenges for one set of credentials, keeping nonce counts per nonce.

    The nonce of the last challenge is reused for later requests of the same realm, so a PBX
    that accepts it saves a round trip; ``stale=true`` in a new challenge means the password
    was right and only the nonce expired.
    """

    def __init__(self, username, password, new_cnonce=None):
        self.username = username
        self._password = password
        self._new_cnonce = new_cnonce or (lambda: secrets.token_hex(8))
        self._nonce_counts = {}

    def __repr__(self):
        return f"DigestClient(username={self.username!r})"

    def answer(self, challenge: Challenge, method, uri, body=b""):
        """Build the Authorization header value for ``method uri`` answering ``challenge``.

        :raises UnsupportedChallenge: when the scheme or algorithm is unknown
        """
        if challenge.scheme.lower() != "digest":
            raise UnsupportedChallenge(f"authentication scheme {challenge.scheme} is not supported")
        params = challenge.parameters
        algorithm = params.get("algorithm", "MD5")
        session = algorithm.upper().endswith("-SESS")
        base_algorithm = algorithm.upper().removesuffix("-SESS")
        if base_algorithm not in HASHES:
            raise UnsupportedChallenge(f"digest algorithm {algorithm} is not supported")
        hash_fn = HASHES[base_algorithm]

        def h(text):
            return hash_fn(text.encode("utf-8")).hexdigest()

        realm = params.get("realm", "")
        nonce = params.get("nonce", "")
        qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
        cnonce = self._new_cnonce()
        ha1 = h(f"{self.username}:{realm}:{self._password}")
        if session:
            ha1 = h(f"{ha1}:{nonce}:{cnonce}")
        if "auth" in qops or not qops:
            qop = "auth" if qops else None
            ha2 = h(f"{method}:{uri}")
        elif "auth-int" in qops:
            qop = "auth-int"
            ha2 = h(f"{method}:{uri}:{hash_fn(body).hexdigest()}")
        else:
            raise UnsupportedChallenge(f"digest qop {params.get('qop')} is not supported")

        fields = {"username": self.username, "realm": realm, "nonce": nonce, "uri": uri}
        if qop:
            nc = self._nonce_counts.get(nonce, 0) + 1
            self._nonce_counts = {nonce: nc}
            nc_text = f"{nc:08x}"
            response = h(f"{ha1}:{nonce}:{nc_text}:{cnonce}:{qop}:{ha2}")
            fields.update(response=response, algorithm=algorithm, cnonce=cnonce, qop=qop)
            fields["nc"] = nc_text
        else:
            fields.update(response=h(f"{ha1}:{nonce}:{ha2}"), algorithm=algorithm)
        if "opaque" in params:
            fields["opaque"] = params["opaque"]
        return format_credentials(fields)


def pick_challenge(response):
    """Return (header name for the answer, challenge) from a 401 or 407, preferring SHA-256."""
    if response.code == 401:
        name, answer_header = "WWW-Authenticate", "Authorization"
    else:
        name, answer_header = "Proxy-Authenticate", "Proxy-Authorization"
    challenges = []
    for value in response.headers.getlist(name):
        try:
            challenges.append(Challenge.parse(value))
        except ValueError:
            continue
    if not challenges:
        raise UnsupportedChallenge(f"{response.code} without a usable {name} header")

    def rank(challenge):
        algorithm = challenge.parameters.get("algorithm", "MD5").upper()
        return 0 if algorithm.startswith("SHA-256") else 1

    return answer_header, sorted(challenges, key=rank)[0]
