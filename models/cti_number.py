"""Caller identification: the numbers of partners and leads in E.164, indexed, matched to calls.

Not a model: ``res.partner`` and ``crm.lead`` declare the columns with :func:`e164_field` and
search them with :func:`match_numbers`, for one caller or for a whole burst of calls at once.

Why stored computed columns (``phone_e164``, ``mobile_e164``) and not a separate number table:
the ORM keeps them right on create, write, import (``load``) and when a country changes, and
computes them for every existing row when the module is installed, with no override of
``create``/``write``/``unlink`` to get wrong. A row matches through two btree indexes (one per
column, ``BitmapOr``), and the search that finds it is built by the ORM (``_search``), so
record rules, multi-company rules and ``active`` apply as for any search of the calling user. A
separate ``(number, model, res_id)`` table would save one index per model but needs its own
maintenance and a second query through the ORM to apply record rules.

The cheap fallback, used only when no exact E.164 match is visible, is a suffix match on the
same columns: a btree index on ``reverse(column) text_pattern_ops`` turns "ends with these 9
digits" into an index range scan (``reverse(column) LIKE '<reversed digits>%'``). It finds
numbers stored with the wrong country or that could not be read at all (stored as their
digits), where the usual ``ilike '%digits'`` reads the whole table. On a million partners
(``bench/lookup_bench.py``) a known caller costs 0.19 ms at p50, an unknown one (exact, then
suffix) 0.38 ms, the ``ilike`` 281 ms.
"""

import functools
import re

import phonenumbers
from odoo import fields
from odoo.tools import SQL, create_index

from ..cti_engine import phone

# A suffix match compares the last SUFFIX_DIGITS digits of the national number, never the
# country code, and is not tried on numbers shorter than MIN_SUFFIX_DIGITS: a short suffix
# would match strangers.
SUFFIX_DIGITS = 9
MIN_SUFFIX_DIGITS = 6
MATCH_LIMIT = 20
NUMBER_COLUMNS = ("phone_e164", "mobile_e164")

# An extension after the number: "+49 30 1234 x12", "ext. 12", "#12", ";ext=12".
EXTENSION = re.compile(r"\s*(?:;\s*ext\s*=|ext(?:ension)?\.?|x|#|,)\s*\d*\s*$", re.IGNORECASE)


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
        if digits.startswith("00"):
            attempts.append("+" + digits[2:])
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
    number = phone.caller_number(bracketed.group(1) if bracketed else identity.strip())
    readings = e164_readings(number, country_code)
    if readings:
        national = str(phonenumbers.parse(readings[0]).national_number)
    else:
        national = re.sub(r"\D", "", EXTENSION.sub("", number)).lstrip("0")
    suffix = national[-SUFFIX_DIGITS:] if len(national) >= MIN_SUFFIX_DIGITS else ""
    return tuple(readings), suffix


def e164_field(string, source):
    """A stored, indexed copy of the ``source`` number field in E.164 (see the module docstring).

    The model computes it in ``_compute_cti_numbers`` with :func:`stored_number`.
    """
    return fields.Char(
        string=string,
        compute="_compute_cti_numbers",
        store=True,
        index="btree_not_null",
        help=f"The {source} number in E.164 form, or its digits when no country reads it; "
        "used to identify callers.",
    )


def create_suffix_indexes(model):
    """Create the ``reverse(column) text_pattern_ops`` indexes of the suffix match.

    :param model: a model with the :data:`NUMBER_COLUMNS`, from its ``init()``
    """
    for column in NUMBER_COLUMNS:
        create_index(
            model.env.cr,
            indexname=f"{model._table}_{column}_reverse_index",
            tablename=model._table,
            expressions=[f"reverse({column}) text_pattern_ops"],
            where=f"{column} IS NOT NULL",
        )


def match_numbers(model, numbers, country_code, order, limit=MATCH_LIMIT):
    """For each caller id of ``numbers``: the records of ``model`` whose phone or mobile is
    that number, best match first.

    Searched with the access rights of the model's environment (record rules and companies
    apply), among active records only. An exact E.164 match wins; the suffix match is tried
    only for a number with no visible exact match. All the numbers are searched together:
    a burst of calls costs two queries at most, not two per call.

    :param model: empty recordset of a model with the :data:`NUMBER_COLUMNS`
    :param numbers: caller ids as the PBX sends them (see :func:`caller_lookup`)
    :param str country_code: ISO code of the PBX's default country, used to read national
        numbers; the user's company country when empty
    :param str order: ranking of the matches, as for ``search``
    :param int limit: at most this many records per number
    :return: ``{number: recordset}`` for every number of ``numbers``
    """
    model = model.with_context(active_test=True)
    if not country_code:
        country_code = model.env.company.country_id.code
    lookups = {number: caller_lookup(number, country_code) for number in dict.fromkeys(numbers)}
    result = _search_numbers(
        model, {number: readings for number, (readings, _s) in lookups.items()}, order, limit
    )
    unmatched = {n: (suffix,) for n, (_r, suffix) in lookups.items() if not result[n] and suffix}
    result.update(_search_numbers(model, unmatched, order, limit, suffix=True))
    return result


def _search_numbers(model, wanted, order, limit, suffix=False):
    """One search for the records whose phone or mobile is (or, with ``suffix``, ends with)
    one of the values of each number of ``wanted``, shared out among those numbers.

    :param wanted: ``{number: values}``: E.164 readings, or digits a number ends with
    :return: ``{number: recordset}``, best first, at most ``limit`` records each
    """
    holders = {}  # value -> numbers that want it
    for number, values in wanted.items():
        for value in values:
            holders.setdefault(value, []).append(number)
    found = {number: [] for number in wanted}
    if not holders:
        return {number: model.browse() for number in wanted}
    cap = limit * len(wanted)
    query = model._search([], limit=cap, order=order)
    # Through the ORM, so that the query flushes what it reads (these columns, and the fields
    # of the record rules), like any search.
    columns = [model._field_to_sql(query.table, column, query) for column in NUMBER_COLUMNS]
    if suffix:
        condition = SQL(" OR ").join(
            SQL("(%s IS NOT NULL AND reverse(%s) LIKE %s)", column, column, value[::-1] + "%")
            for column in columns
            for value in holders
        )
    else:
        condition = SQL(" OR ").join(
            SQL("%s = ANY(%s)", column, list(holders)) for column in columns
        )
    query.add_where(SQL("(%s)", condition))
    rows = model.env.execute_query(query.select(SQL.identifier(query.table, "id"), *columns))
    lengths = sorted({len(value) for value in holders}) if suffix else None
    for record_id, *stored in rows:
        numbers = set()
        for value in filter(None, stored):
            for key in [value[-length:] for length in lengths] if suffix else [value]:
                numbers.update(holders.get(key, ()))
        for number in numbers:
            if len(found[number]) < limit:
                found[number].append(record_id)
    result = {number: model.browse(ids) for number, ids in found.items()}
    if len(rows) >= cap and len(wanted) > 1:
        # The shared search was cut short: the best of a number that got fewer than
        # ``limit`` records may lie beyond it, so it is searched on its own.
        for number in [number for number, ids in found.items() if len(ids) < limit]:
            result.update(_search_numbers(model, {number: wanted[number]}, order, limit, suffix))
    return result
