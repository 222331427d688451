"""Dialog state documents (RFC 4235, application/dialog-info+xml), parsed defensively.

Document type declarations are refused outright: a dialog-info document never needs one, and
refusing them rules out external entities and entity expansion whatever the XML library does.
"""

import dataclasses
import re
import xml.etree.ElementTree as ET  # noqa: S405 - DTDs are refused before parsing

NS = "{urn:ietf:params:xml:ns:dialog-info}"
MAX_DOCUMENT_BYTES = 65536
MAX_DIALOGS = 64
ENCODING_DECLARATION = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)"
)


class MalformedDocument(ValueError):
    """A NOTIFY body that is not a usable dialog-info document."""


@dataclasses.dataclass
class Participant:
    identity: str = ""
    display: str = ""
    target: str = ""
    rendering: str | None = None  # "yes"/"no" from +sip.rendering, None when absent


@dataclasses.dataclass
class Dialog:
    id: str
    call_id: str = ""
    local_tag: str = ""
    remote_tag: str = ""
    direction: str = ""  # initiator / recipient
    state: str = ""  # trying, proceeding, early, confirmed, terminated (lower-cased)
    event: str = ""  # cancelled, rejected, replaced, local-bye, remote-bye, error, timeout
    code: int | None = None
    local: Participant = dataclasses.field(default_factory=Participant)
    remote: Participant = dataclasses.field(default_factory=Participant)

    @property
    def key(self):
        """What identifies the call: the Call-ID when the PBX gives it, else the dialog id."""
        return self.call_id or self.id


@dataclasses.dataclass
class DialogInfo:
    version: int
    full: bool
    entity: str
    dialogs: list


def parse(body):
    """Parse a dialog-info document.

    :raises MalformedDocument: for anything but a well-formed, DTD-free dialog-info document
    """
    if isinstance(body, str):
        try:
            body = body.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MalformedDocument("not encodable as UTF-8") from exc
    if len(body) > MAX_DOCUMENT_BYTES:
        raise MalformedDocument("document too large")
    # RFC 4235 documents are UTF-8. Anything else (a UTF-16 BOM, NUL bytes, another declared
    # encoding) would hide a DOCTYPE from the byte search below.
    declared = ENCODING_DECLARATION.match(body)
    if b"\x00" in body or (declared and declared.group(1).lower() not in (b"utf-8", b"utf8")):
        raise MalformedDocument("only UTF-8 documents are accepted")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedDocument("only UTF-8 documents are accepted") from exc
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise MalformedDocument("document type declarations are not accepted")
    try:
        root = ET.fromstring(body)  # noqa: S314 - no DTD can reach the parser
    except ET.ParseError as exc:
        raise MalformedDocument(f"not well-formed XML: {exc}") from exc
    if root.tag != NS + "dialog-info":
        raise MalformedDocument(f"unexpected root element {root.tag}")
    try:
        version = int(root.get("version", ""))
    except ValueError as exc:
        raise MalformedDocument("missing or invalid version") from exc
    state = (root.get("state") or "").lower()
    if state not in ("full", "partial"):
        raise MalformedDocument("state must be full or partial")
    dialogs = []
    for element in root.findall(NS + "dialog")[: MAX_DIALOGS + 1]:
        if len(dialogs) == MAX_DIALOGS:
            raise MalformedDocument("too many dialogs")
        dialogs.append(_dialog(element))
    return DialogInfo(
        version=version, full=state == "full", entity=root.get("entity", ""), dialogs=dialogs
    )


def _dialog(element):
    dialog_id = element.get("id")
    if not dialog_id:
        raise MalformedDocument("dialog without id")
    state_el = element.find(NS + "state")
    code = state_el.get("code") if state_el is not None else None
    return Dialog(
        id=dialog_id,
        call_id=element.get("call-id", ""),
        local_tag=element.get("local-tag", ""),
        remote_tag=element.get("remote-tag", ""),
        direction=(element.get("direction") or "").lower(),
        state=((state_el.text or "") if state_el is not None else "").strip().lower(),
        event=((state_el.get("event") or "") if state_el is not None else "").lower(),
        code=int(code) if code and code.isdigit() else None,
        local=_participant(element.find(NS + "local")),
        remote=_participant(element.find(NS + "remote")),
    )


def _participant(element):
    if element is None:
        return Participant()
    identity = element.find(NS + "identity")
    target = element.find(NS + "target")
    display = ""
    if identity is not None:
        display = identity.get("display") or ""
    if not display and target is not None:
        display = target.get("display") or ""
    rendering = None
    if target is not None:
        for param in target.findall(NS + "param"):
            if (param.get("pname") or "").lower() == "+sip.rendering":
                # RFC 4235 names the value "pval"; Asterisk writes "pvalue".
                rendering = (param.get("pval") or param.get("pvalue") or "").lower()
    return Participant(
        identity=((identity.text or "") if identity is not None else "").strip(),
        display=display.strip(),
        target=(target.get("uri", "") if target is not None else "").strip(),
        rendering=rendering,
    )
