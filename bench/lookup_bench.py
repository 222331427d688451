"""Caller lookup benchmark: our indexed E.164 columns against OCA base_phone's ``ilike``.

Run it by hand (not a test)::

    python -m bench.lookup_bench --partners 1000000

It creates a scratch database (dropped at the end unless ``--keep``), fills a ``res_partner``
table with generate_series SQL and prints, for the same data in the same run, the latency
of caller lookups (p50/p99, client side, round trip included) for:

- ours, a known caller: the exact E.164 match ``_cti_match_number`` sends first;
- ours, an unknown caller: the exact match finds nothing, then the suffix fallback runs;
- OCA base_phone: ``replace(phone, ' ', '') ilike '%<last 8 digits>'`` on phone and mobile.

Why a minimal table and not a real Odoo database: the lookups read seven columns of
``res_partner``, and building them with SQL takes seconds, where installing Odoo and letting
the ORM compute a million rows takes many minutes and measures nothing more. The table has the
columns those queries read and exactly the indexes the module creates (the ORM's
``btree_not_null`` index per column and the ``reverse(column) text_pattern_ops`` index from
``models/cti_number.py``), and the queries are the SQL the ORM generates for
``_cti_match_number`` run by an internal user (active records, the multi-company rule,
ordered contacts first). Parsing the caller id with phonenumbers, done once per lookup
before any query, is timed on its own.
"""

import argparse
import random
import statistics
import time

import phonenumbers
import psycopg2
from psycopg2 import sql

SCHEMA = """
CREATE TABLE res_partner (
    id serial PRIMARY KEY,
    name varchar NOT NULL,
    company_id integer,
    is_company boolean DEFAULT false,
    partner_share boolean DEFAULT true,
    active boolean DEFAULT true,
    phone varchar,
    mobile varchar,
    phone_e164 varchar,
    mobile_e164 varchar
);
"""

# One row per country: E.164 prefix of the phone, E.164 prefix of the mobile, how the phone
# is written nationally (trunk prefix and area code).
COUNTRIES = [
    ("+4930", "+49151", "030 "),
    ("+4420", "+447700", "020 "),
    ("+331", "+336", "01 "),
    ("+1650", "+1415", "(650) "),
]

FILL = """
INSERT INTO res_partner (name, company_id, is_company, active, partner_share, phone, mobile,
                         phone_e164, mobile_e164)
SELECT 'Partner ' || i,
       CASE WHEN i %% 10 = 0 THEN NULL ELSE 1 + i %% 2 END,
       i %% 5 = 0,
       i %% 20 <> 0,
       i %% 1000 <> 0,
       CASE i %% 3
           WHEN 0 THEN c.national || substr(n, 1, 4) || ' ' || substr(n, 5)
           WHEN 1 THEN c.phone_prefix || ' ' || substr(n, 1, 4) || ' ' || substr(n, 5)
           ELSE c.phone_prefix || n
       END,
       CASE WHEN i %% 5 < 3 THEN c.mobile_prefix || ' ' || m END,
       c.phone_prefix || n,
       CASE WHEN i %% 5 < 3 THEN c.mobile_prefix || m END
FROM generate_series(1, %(partners)s) AS i
CROSS JOIN LATERAL (
    SELECT lpad(((i::bigint * 7919) %% 100000000)::text, 8, '0') AS n,
           lpad(((i::bigint * 104729) %% 1000000)::text, 6, '0') || lpad((i %% 100)::text, 2, '0')
               AS m
) AS numbers
JOIN (VALUES %(countries)s) AS c(k, phone_prefix, mobile_prefix, national) ON c.k = i %% 4;
"""

# The indexes the module creates: what Odoo makes of index="btree_not_null", and the
# suffix indexes of models/cti_number.py create_suffix_indexes().
INDEXES = [
    "CREATE INDEX res_partner__{c}_index ON res_partner ({c}) WHERE {c} IS NOT NULL",
    "CREATE INDEX res_partner_{c}_reverse_index ON res_partner "
    "(reverse({c}) text_pattern_ops) WHERE {c} IS NOT NULL",
]

# What the ORM sends for _cti_match_number as an internal user of company 1 (copied from
# Odoo 18 with the res.partner multi-company rule), exact match first.
RULE = """
  AND (((res_partner.partner_share IS NULL OR res_partner.partner_share = FALSE)
        OR (res_partner.company_id IN (SELECT res_company.id FROM res_company
                                       WHERE res_company.id IN (1))))
       OR res_partner.company_id IS NULL)
"""
ORDER = "ORDER BY COALESCE(res_partner.is_company, FALSE), res_partner.id LIMIT 20"
# Built from the constants above only, never from input.
OURS_EXACT = f"""
SELECT res_partner.id, res_partner.phone_e164, res_partner.mobile_e164 FROM res_partner
WHERE (res_partner.active = true) {RULE}
  AND (res_partner.phone_e164 = ANY(%(readings)s)
       OR res_partner.mobile_e164 = ANY(%(readings)s))
{ORDER}
"""  # noqa: S608
OURS_SUFFIX = f"""
SELECT res_partner.id, res_partner.phone_e164, res_partner.mobile_e164 FROM res_partner
WHERE (res_partner.active = true) {RULE}
  AND ((res_partner.phone_e164 IS NOT NULL AND reverse(res_partner.phone_e164) LIKE %(pattern)s)
       OR (res_partner.mobile_e164 IS NOT NULL
           AND reverse(res_partner.mobile_e164) LIKE %(pattern)s))
{ORDER}
"""  # noqa: S608
OCA = """
SELECT id FROM res_partner
WHERE replace(phone, ' ', '') ILIKE %(pattern)s OR replace(mobile, ' ', '') ILIKE %(pattern)s
"""


def build(cr, partners):
    started = time.perf_counter()
    cr.execute(SCHEMA)
    cr.execute(
        "CREATE TABLE res_company (id integer PRIMARY KEY); INSERT INTO res_company VALUES (1), (2)"
    )
    countries = sql.SQL(", ").join(
        sql.SQL("({}, {}, {}, {})").format(
            sql.Literal(k), sql.Literal(phone), sql.Literal(mobile), sql.Literal(national)
        )
        for k, (phone, mobile, national) in enumerate(COUNTRIES)
    )
    cr.execute(
        sql.SQL(FILL.replace("%(countries)s", "{}")).format(countries), {"partners": partners}
    )
    filled = time.perf_counter()
    for column in ("phone_e164", "mobile_e164"):
        for ddl in INDEXES:
            cr.execute(ddl.format(c=column))
    indexed = time.perf_counter()
    cr.execute("VACUUM ANALYZE res_partner")
    print(
        f"built {partners} partners: fill {filled - started:.1f}s, "
        f"indexes {indexed - filled:.1f}s"
    )


def percentiles(samples):
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def timed(cr, query, params_list):
    samples, found = [], 0
    for params in params_list:
        started = time.perf_counter()
        cr.execute(query, params)
        found += bool(cr.fetchall())
        samples.append((time.perf_counter() - started) * 1000)
    return samples, found


def timed_ours(cr, callers):
    """Exact match, then the suffix fallback when it finds nothing: what an unknown caller
    costs."""
    samples, found = [], 0
    for readings, suffix in callers:
        started = time.perf_counter()
        cr.execute(OURS_EXACT, {"readings": list(readings)})
        rows = cr.fetchall()
        if not rows:
            cr.execute(OURS_SUFFIX, {"pattern": suffix[::-1] + "%"})
            rows = cr.fetchall()
        found += bool(rows)
        samples.append((time.perf_counter() - started) * 1000)
    return samples, found


def plan(cr, query, params):
    cr.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + query, params)
    return " / ".join(
        line.strip() for (line,) in cr.fetchall() if "Scan" in line or "Bitmap" in line
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000, help="lookups per query of ours")
    parser.add_argument("--oca-samples", type=int, default=100, help="lookups of the OCA query")
    parser.add_argument("--dsn", default="host=127.0.0.1 user=root dbname=postgres")
    parser.add_argument("--db", default="cti_lookup_bench", help="scratch database (recreated)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    admin = psycopg2.connect(args.dsn)
    admin.autocommit = True
    with admin.cursor() as cr:
        cr.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(args.db)))
        cr.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.db)))
    try:
        cnx = psycopg2.connect(args.dsn.replace("dbname=postgres", "") + f" dbname={args.db}")
        cnx.autocommit = True
        with cnx.cursor() as cr:
            build(cr, args.partners)
            run(cr, args, rng)
        cnx.close()
    finally:
        if not args.keep:
            with admin.cursor() as cr:
                cr.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(args.db)))
        admin.close()


def run(cr, args, rng):
    cr.execute(
        "SELECT phone_e164, mobile_e164 FROM res_partner WHERE active AND id = ANY(%s) "
        "AND (company_id = 1 OR company_id IS NULL)",
        ([rng.randint(1, args.partners) for _ in range(args.samples * 3)],),
    )
    known = [rng.choice([n for n in row if n]) for row in cr.fetchall()][: args.samples]
    # Unknown callers: valid numbers no partner has (outside the generated ranges).
    unknown = [f"+4989{rng.randrange(10**7, 10**8)}" for _ in range(args.samples)]

    def lookup(e164):
        national = str(phonenumbers.parse(e164).national_number)
        return [e164], national[-9:]

    started = time.perf_counter()
    for number in known:
        parsed = phonenumbers.parse(number.replace("+", "00", 1), "DE")
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    parse_us = (time.perf_counter() - started) / len(known) * 1e6

    ours_known, found_known = timed_ours(cr, [lookup(n) for n in known])
    ours_unknown, found_unknown = timed_ours(cr, [lookup(n) for n in unknown])
    oca_numbers = known[: args.oca_samples]
    oca, found_oca = timed(cr, OCA, [{"pattern": "%" + n[-8:]} for n in oca_numbers])

    print(f"exact plan : {plan(cr, OURS_EXACT, {'readings': [known[0]]})}")
    print(f"suffix plan: {plan(cr, OURS_SUFFIX, {'pattern': unknown[0][::-1][:9] + '%'})}")
    print(f"OCA plan   : {plan(cr, OCA, {'pattern': '%' + known[0][-8:]})}")
    print(f"parsing a caller id with phonenumbers: {parse_us:.0f} µs per lookup (not below)")
    print(f"{'query':<34}{'lookups':>8}{'found':>7}{'p50 ms':>10}{'p99 ms':>10}")
    rows = [
        ("ours, known caller (exact)", ours_known, found_known),
        ("ours, unknown caller (+suffix)", ours_unknown, found_unknown),
        ("OCA base_phone ilike '%last8'", oca, found_oca),
    ]
    for label, samples, found in rows:
        p50, p99 = percentiles(samples)
        print(f"{label:<34}{len(samples):>8}{found:>7}{p50:>10.3f}{p99:>10.3f}")
    oca_p50, oca_p99 = percentiles(oca)
    for label, samples, _found in rows[:2]:
        p50, p99 = percentiles(samples)
        print(f"OCA / {label}: p50 x{oca_p50 / p50:,.0f}, p99 x{oca_p99 / p99:,.0f}")


if __name__ == "__main__":
    main()
