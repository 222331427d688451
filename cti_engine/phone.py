"""Phone numbers and extensions: the only way a user-typed destination becomes a SIP URI user."""

import re

import phonenumbers

# What a person may type around the digits of a number. Anything else (letters, control
# characters, Unicode digits, "sip:", "@", ";") is refused before phonenumbers sees it.
ALLOWED = re.compile(r"^\+?[0-9 ()./\-]+$")
MAX_INPUT_LENGTH = 40
MAX_E164_DIGITS = 15


class InvalidDestination(ValueError):
    """A destination that is neither an E.164 number nor an internal extension."""


def normalize_destination(value, default_country=None, max_extension_length=6):
    """Return ``value`` as an E.164 number (``+4930123456``) or a plain extension (``1002``).

    :param value: what the user typed or clicked
    :param default_country: ISO 3166 alpha-2 code used to read national numbers
    :param max_extension_length: digit strings up to this length not starting with 0 are
        internal extensions
    :raises InvalidDestination: with a message fit for the user
    """
    if not isinstance(value, str):
        raise InvalidDestination("The number must be text.")
    if any(not ch.isprintable() for ch in value):
        raise InvalidDestination(f"{_shown(value)} contains control characters.")
    text = value.strip()
    if not text:
        raise InvalidDestination("The number is empty.")
    if len(text) > MAX_INPUT_LENGTH or not ALLOWED.match(text):
        raise InvalidDestination(f"{_shown(text)} is not a phone number or an extension.")
    digits = re.sub(r"\D", "", text)
    if not digits:
        raise InvalidDestination(f"{_shown(text)} has no digits.")
    if not text.startswith("+") and len(digits) <= max_extension_length and digits[0] != "0":
        return digits
    if text.startswith("00") and not default_country:
        text = "+" + digits[2:]
    region = (default_country or "").upper() or None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidDestination(f"{_shown(text)} is not a valid phone number.") from exc
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) - 1 > MAX_E164_DIGITS or not phonenumbers.is_possible_number(parsed):
        raise InvalidDestination(f"{_shown(text)} is not a valid phone number.")
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
    if user.lower() in ("anonymous", "unknown", "restricted", "withheld", "private"):
        return ""
    return user


def _shown(text):
    """A short printable rendering of user input for error messages (no control characters)."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in text)
    return '"' + (cleaned[:24] + "…" if len(cleaned) > 24 else cleaned) + '"'
