"""The little SDP the agent writes itself: it never handles media, only relays offers/answers."""


def refusal_answer(offer):
    """An answer that refuses every media stream of ``offer`` (port 0), RFC 3264 §6."""
    lines = offer.decode("utf-8", "replace").split("\r\n") if offer else []
    out = []
    for line in lines:
        if line.startswith("m="):
            parts = line.split(" ")
            parts[1] = "0"
            out.append(" ".join(parts))
        else:
            out.append(line)
    if not any(line.startswith("v=") for line in out):
        return b""
    return "\r\n".join(out).encode()


DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
NO_ADDRESS = "0.0.0.0"  # noqa: S104 - RFC 2543 hold, never an address to bind


def with_direction(sdp, direction, version_step):
    """``sdp`` with every media stream set to ``direction`` and its o= version raised.

    The agent re-offers a peer's own session description to the other side to put it on
    hold or take it off hold (RFC 3264 §8.4); the version must grow with every change, so
    ``version_step`` is how many times this description was re-offered to that side.
    The direction attribute goes at the end of each media section, where SDP wants it.
    """
    text = sdp.decode("utf-8", "replace") if isinstance(sdp, bytes) else sdp
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = [line for line in text.split(newline) if line]
    sections = [[]]
    for line in lines:
        if line.startswith("m="):
            sections.append([])
        if line[2:] in DIRECTIONS and line.startswith("a="):
            continue
        parts = line.split(" ")
        if line.startswith("o=") and len(parts) == 6 and parts[2].isdigit():
            parts[2] = str(int(parts[2]) + version_step)
        sections[-1].append(" ".join(parts))
    out = list(sections[0])
    for media in sections[1:]:
        out += [*media, f"a={direction}"]
    return (newline.join(out) + newline).encode()


def origin_version(sdp):
    """The session version of the ``o=`` line (RFC 4566 §5.2), or None when unreadable."""
    for line in _lines(sdp):
        if line.startswith("o="):
            parts = line.split(" ")
            if len(parts) == 6 and parts[2].isdigit():
                return int(parts[2])
            return None
    return None


def with_version(sdp, version):
    """``sdp`` with the ``o=`` session version set to ``version``, everything else kept."""
    text = sdp.decode("utf-8", "replace") if isinstance(sdp, bytes) else sdp
    newline = "\r\n" if "\r\n" in text else "\n"
    out = []
    done = False
    for line in text.split(newline):
        parts = line.split(" ")
        if not done and line.startswith("o=") and len(parts) == 6 and parts[2].isdigit():
            parts[2] = str(version)
            done = True
        out.append(" ".join(parts))
    return newline.join(out).encode()


def is_hold(sdp):
    """True when the writer of ``sdp`` sends no media it receives: it holds the other side.

    Every active stream (port not 0) is ``sendonly`` or ``inactive``, read at media level
    with the session-level attribute as default (RFC 4566 §6), or the old RFC 2543 way,
    ``c=IN IP4 0.0.0.0``. A description without media streams says nothing about hold.
    """
    session_direction = "sendrecv"
    session_address = None
    media = []  # [port, direction, connection] per m= section
    for line in _lines(sdp):
        if line.startswith("m="):
            parts = line[2:].split(" ")
            port = parts[1] if len(parts) > 1 else "0"
            media.append([port, None, None])
        elif line.startswith("a=") and line[2:] in DIRECTIONS:
            if media:
                media[-1][1] = line[2:]
            else:
                session_direction = line[2:]
        elif line.startswith("c="):
            address = line.split(" ")[-1]
            if media:
                media[-1][2] = address
            else:
                session_address = address
    active = [m for m in media if m[0].split("/")[0] != "0"]
    if not active:
        return False
    for _port, direction, address in active:
        if (address or session_address) == NO_ADDRESS:
            continue
        if (direction or session_direction) not in ("sendonly", "inactive"):
            return False
    return True


def _lines(sdp):
    text = sdp.decode("utf-8", "replace") if isinstance(sdp, bytes) else (sdp or "")
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
