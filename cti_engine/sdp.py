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
