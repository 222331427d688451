"""Phone numbers and extensions, read once for the whole product.

:func:`normalize_destination` is the only way a user-typed destination becomes a SIP URI
user; :func:`e164_readings`, :func:`stored_number` and :func:`caller_lookup` read the numbers
written on records or sent by a PBX, to identify callers; :func:`format_for_people` writes
one back. One rule for ``00`` (:data:`INTERNATIONAL_PREFIX`) serves both.
"""

import functools
import re

import phonenumbers

from . import notices
from .notices import Notice

# What a person may type around the digits of a number. Anything else (letters, control
# characters, Unicode digits, "sip:", "@", ";") is refused before phonenumbers sees it.
ALLOWED = re.compile(r"^\+?[0-9 ()./\-]+$")
MAX_INPUT_LENGTH = 40
MAX_E164_DIGITS = 15
# The one international prefix this product reads without a country: "0049…" is "+49…".
INTERNATIONAL_PREFIX = "00"
# An extension after the number: "+49 30 1234 x12", "ext. 12", "#12", ";ext=12".
EXTENSION = re.compile(r"\s*(?:;\s*ext\s*=|ext(?:ension)?\.?|x|#|,)\s*\d*\s*$", re.IGNORECASE)


class InvalidDestination(ValueError):
    """A destination that is neither an E.164 number nor an internal extension; its
    :attr:`notice` says why (a ``number_*`` code of :mod:`notices`)."""

    def __init__(self, code, **params):
        self.notice = Notice(code, params)
        super().__init__(code, params)


def normalize_destination(value, default_country=None, max_extension_length=6):
    """Return ``value`` as an E.164 number (``+4930123456``) or a plain extension (``1002``).

    :param value: what the user typed or clicked
    :param default_country: ISO 3166 alpha-2 code used to read national numbers
    :param max_extension_length: digit strings up to this length not starting with 0 are
        internal extensions
    :raises InvalidDestination: with the notice to give the user
    """
    if not isinstance(value, str):
        raise InvalidDestination(notices.NUMBER_NOT_TEXT)
    if any(not ch.isprintable() for ch in value):
        raise InvalidDestination(notices.NUMBER_CONTROL_CHARACTERS, number=_shown(value))
    text = value.strip()
    if not text:
        raise InvalidDestination(notices.NUMBER_EMPTY)
    if len(text) > MAX_INPUT_LENGTH or not ALLOWED.match(text):
        raise InvalidDestination(notices.NUMBER_NOT_A_NUMBER, number=_shown(text))
    digits = re.sub(r"\D", "", text)
    if not digits:
        raise InvalidDestination(notices.NUMBER_NO_DIGITS, number=_shown(text))
    if not text.startswith("+") and len(digits) <= max_extension_length and digits[0] != "0":
        return digits
    if not default_country and text.startswith(INTERNATIONAL_PREFIX):
        text = _international(digits)
    region = (default_country or "").upper() or None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidDestination(notices.NUMBER_INVALID, number=_shown(text)) from exc
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) - 1 > MAX_E164_DIGITS or not phonenumbers.is_possible_number(parsed):
        raise InvalidDestination(notices.NUMBER_INVALID, number=_shown(text))
    return e164


def caller_number(identity):
    """Extract the number a person would recognise from a SIP URI user part or tel URI.

    Returns "" for anonymous or withheld callers.
    """
    if not identity:
        return ""
    user = identity
    for prefix in ("sip:", "sips:", "tel:"):
        if user.lower().startswith(prefix):
            user = user[len(prefix) :]
            break
    user = user.split("@", 1)[0].split(";", 1)[0]
    # Asterisk writes "invalid" when a channel has no caller number at all.
    if user.lower() in ("anonymous", "unknown", "restricted", "withheld", "private", "invalid"):
        return ""
    return user


def _shown(text):
    """A short printable rendering of user input for notices (no control characters)."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return cleaned[:24] + "…" if len(cleaned) > 24 else cleaned


def _international(digits):
    """``digits`` dialled with the international prefix, as E.164; None otherwise."""
    if digits.startswith(INTERNATIONAL_PREFIX):
        return "+" + digits[len(INTERNATIONAL_PREFIX) :]
    return None


# -- reading numbers written on records or sent by a PBX, to identify callers ------------------

# A suffix match compares the last SUFFIX_DIGITS digits of the national number, never the
# country code, and is not tried on numbers shorter than MIN_SUFFIX_DIGITS: a short suffix
# would match strangers.
SUFFIX_DIGITS = 9
MIN_SUFFIX_DIGITS = 6


def e164_readings(number, country_code=None):
    """Every E.164 number ``number`` may stand for, the most likely first.

    Read as written (national numbers with ``country_code``), with ``00`` as the international
    prefix, and as if its "+" had been lost on the way (first, for digits without the trunk 0
    of a country that writes national numbers with one). Valid numbers are returned if any
    reading is valid, else the merely possible ones.

    :param str number: a number as typed by a person or sent by a PBX
    :param str country_code: ISO 3166 alpha-2 code used to read national numbers
    :return: list of E.164 strings, possibly empty
    """
    text = EXTENSION.sub("", (number or "").strip())
    digits = re.sub(r"\D", "", text)
    if not digits:
        return []
    region = (country_code or "").upper() or None
    attempts = [text]
    if not text.startswith("+"):
        international = _international(digits)
        if international:
            attempts.append(international)
        # Where national numbers are written with a trunk 0, digits without it are more
        # likely an international number that lost its "+" than a national one.
        if region and not digits.startswith("0") and _trunk_prefix(region) == "0":
            attempts.insert(0, "+" + digits)
        else:
            attempts.append("+" + digits)
    valid, possible = [], []
    for attempt in attempts:
        try:
            parsed = phonenumbers.parse(attempt, region)
        except phonenumbers.NumberParseException:
            continue
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(parsed):
            valid.append(e164)
        elif phonenumbers.is_possible_number(parsed):
            possible.append(e164)
    return list(dict.fromkeys(valid or possible))


def _trunk_prefix(region):
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    return metadata.national_prefix if metadata else None


def stored_number(number, country_code=None):
    """The normalised form kept for a record's number: its E.164 reading, else its digits.

    Digits are kept for numbers no country makes sense of, so that the suffix fallback can
    still find them.

    :return: a string, or False when ``number`` has no digits
    """
    readings = e164_readings(number, country_code)
    if readings:
        return readings[0]
    return re.sub(r"\D", "", EXTENSION.sub("", number or "")) or False


# Pure and cheap to keep: the same callers call again, a burst often from one switchboard.
@functools.lru_cache(maxsize=4096)
def caller_lookup(identity, country_code=None):
    """What to search for an inbound caller id.

    :param str identity: the caller as the PBX sends it: ``+E.164``, ``00…``, national,
        digits with spaces/dots/dashes, an extension, a ``sip:``/``tel:`` URI; anonymous,
        withheld and empty callers give nothing to search
    :return: ``(readings, suffix)``: the tuple of E.164 numbers for an exact match, and the
        digits a stored number must end with for the fallback ("" when too short)
    """
    identity = identity if isinstance(identity, str) else ""
    # A name-addr ("Name" <sip:…>) as some PBXs send it: only the URI counts.
    bracketed = re.search(r"<([^>]*)>", identity)
    number = caller_number(bracketed.group(1) if bracketed else identity.strip())
    readings = e164_readings(number, country_code)
    if readings:
        national = str(phonenumbers.parse(readings[0]).national_number)
    else:
        national = re.sub(r"\D", "", EXTENSION.sub("", number)).lstrip("0")
    suffix = national[-SUFFIX_DIGITS:] if len(national) >= MIN_SUFFIX_DIGITS else ""
    return tuple(readings), suffix


def format_for_people(number):
    """An E.164 number as people write it (``+49 89 555000``); anything else unchanged.

    :param str number: an E.164 number, an extension, or what a PBX sent
    """
    if not number or not number.startswith("+") or len(number) > 16:
        return number
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
