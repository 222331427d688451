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
