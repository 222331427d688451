"""Caller identification: the numbers of partners and leads in E.164, indexed, matched to calls.

How a number is read is the engine's (``cti_engine/phone.py``); here are the columns that keep
its readings, their indexes and their search, held for ``res.partner`` and ``crm.lead`` by the
mixin ``cti.number.mixin`` (``models/cti_number_mixin.py``), for one caller or for a whole
burst of calls at once.

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

from odoo import fields
from odoo.tools import SQL, create_index

from ..cti_engine.phone import caller_lookup

MATCH_LIMIT = 20
NUMBER_COLUMNS = ("phone_e164", "mobile_e164")


# Where a number written on a record is read, the first country found wins: the record's own,
# its partner's (a lead's customer, then the customer's company; a contact's company), the
# Odoo company's it belongs to.
COUNTRY_PATHS = (
    ("country_id",),
    ("partner_id", "country_id"),
    ("partner_id", "commercial_partner_id", "country_id"),
    ("commercial_partner_id", "country_id"),
    ("company_id", "country_id"),
)


def record_country(record):
    """The country a number written on ``record`` is read with (see :data:`COUNTRY_PATHS`).

    The one rule for numbers on records: the stored E.164 columns and click-to-call both use
    it, each then falling back to its own default (the current company's country, the PBX's).

    :param record: one record of any model, or an empty recordset
    :return: a ``res.country`` record, empty when the record says nothing
    """
    for path in COUNTRY_PATHS:
        value = record[:1]
        for name in path:
            if not value or name not in value._fields:
                value = None
                break
            value = value[name]
        if value:
            return value
    return record.env["res.country"]


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
