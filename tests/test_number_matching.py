from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import SQL, index_exists

# (caller id as the PBX sends it, PBX default country, key of the partner it must find)
CALLER_FORMATS = [
    ("+4930901820", "DE", "berlin"),
    ("+4930901820", None, "berlin"),
    ("004930901820", "DE", "berlin"),
    ("030 901820", "DE", "berlin"),
    ("030/90 18 20", "DE", "berlin"),
    ("4930901820", "FR", "berlin"),
    ("+49 (0)30 901820", "DE", "berlin"),
    ("+49-30-901820", "DE", "berlin"),
    ("+49.30.901820", "DE", "berlin"),
    ("sip:+4930901820@pbx.example.com;user=phone", "DE", "berlin"),
    ("<sip:004930901820@10.0.0.1:5060>", "DE", "berlin"),
    ("+4930901820;ext=12", "DE", "berlin"),
    ("0151 12345678", "DE", "mobile_de"),
    ("+44 20 7946 0958 x123", "GB", "london"),
    ("020 7946 0958", "GB", "london"),
    ("00442079460958", "US", "london"),
    ("011 44 20 7946 0958", "US", "london"),
    ("tel:+442079460958", None, "london"),
    ("(650) 253-0000", "US", "mountain_view"),
    ("650.253.0000", "US", "mountain_view"),
    ("16502530000", "US", "mountain_view"),
    ("+1 650 253 0000 ext. 7", "DE", "mountain_view"),
    ("01 42 68 53 00", "FR", "paris"),
    ("0142685300", "FR", "paris"),
    ("33142685300", "DE", "paris"),
    ("sip:0033142685300@pbx.example.com", "GB", "paris"),
    ('"Paris Caller" <sip:+33142685300@pbx.example.com>', "DE", "paris"),
]

ANONYMOUS_CALLERS = [
    "",
    None,
    "   ",
    "anonymous",
    "Anonymous",
    "sip:anonymous@anonymous.invalid",
    "sip:restricted@pbx.example.com",
    "withheld",
    "unknown",
    "tel:private",
    "<sip:@pbx.example.com>",
    "+",
]


@tagged("post_install", "-at_install")
class TestNumberMatching(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.de = cls.env.ref("base.de")
        cls.gb = cls.env.ref("base.uk")
        cls.us = cls.env.ref("base.us")
        cls.fr = cls.env.ref("base.fr")
        cls.company_a = cls.env["res.company"].create(
            {"name": "CTI Company A", "country_id": cls.de.id}
        )
        cls.company_b = cls.env["res.company"].create(
            {"name": "CTI Company B", "country_id": cls.de.id}
        )
        Partner = cls.env["res.partner"]
        cls.partners = {
            "berlin": Partner.create(
                {"name": "Berlin Caller", "phone": "030 901820", "country_id": cls.de.id}
            ),
            "mobile_de": Partner.create(
                {"name": "German Mobile", "mobile": "+49 151 1234 5678", "country_id": cls.de.id}
            ),
            "london": Partner.create(
                {"name": "London Caller", "phone": "020 7946 0958", "country_id": cls.gb.id}
            ),
            "mountain_view": Partner.create(
                {"name": "Mountain View", "mobile": "(650) 253-0000", "country_id": cls.us.id}
            ),
            "paris": Partner.create(
                {"name": "Paris Caller", "phone": "01.42.68.53.00", "country_id": cls.fr.id}
            ),
        }
        cls.user_a = new_test_user(
            cls.env,
            "cti_match_user_a",
            groups="base.group_user",
            company_id=cls.company_a.id,
            company_ids=[(6, 0, cls.company_a.ids)],
        )

    def match(self, number, country_code=None):
        return self.env["res.partner"]._cti_match_number(number, country_code)

    def test_stored_numbers_are_e164(self):
        self.assertEqual(self.partners["berlin"].phone_e164, "+4930901820")
        self.assertEqual(self.partners["mobile_de"].mobile_e164, "+4915112345678")
        self.assertEqual(self.partners["london"].phone_e164, "+442079460958")
        self.assertEqual(self.partners["mountain_view"].mobile_e164, "+16502530000")
        self.assertEqual(self.partners["paris"].phone_e164, "+33142685300")
        self.assertFalse(self.partners["paris"].mobile_e164)

    def test_caller_formats(self):
        for number, country_code, key in CALLER_FORMATS:
            with self.subTest(number=number, country=country_code):
                self.assertEqual(self.match(number, country_code), self.partners[key])

    def test_anonymous_callers_match_nothing(self):
        for number in ANONYMOUS_CALLERS:
            with self.subTest(number=number):
                self.assertFalse(self.match(number, "DE"))
                info = self.env["res.partner"]._cti_caller_info(number, "DE")
                self.assertEqual(
                    info,
                    {
                        "partnerId": False,
                        "partnerName": False,
                        "leadId": False,
                        "leadName": False,
                        "matches": [],
                    },
                )

    def test_national_number_reads_with_partner_then_company_country(self):
        Partner = self.env["res.partner"]
        company = Partner.create({"name": "Lyon SA", "is_company": True, "country_id": self.fr.id})
        contact = Partner.create({"name": "No Country", "parent_id": company.id})
        contact.country_id = False
        contact.phone = "04 72 10 30 30"
        self.assertEqual(contact.phone_e164, "+33472103030")
        owned = Partner.create(
            {"name": "Owned by B", "company_id": self.company_b.id, "phone": "089 1234567"}
        )
        self.assertEqual(owned.phone_e164, "+49891234567")
        self.company_b.country_id = self.gb
        self.assertEqual(owned.phone_e164, "+44891234567")
        owned.country_id = self.de
        self.assertEqual(owned.phone_e164, "+49891234567")

    def test_lost_plus_and_zero_zero_are_stored_as_e164(self):
        partner = self.env["res.partner"].create(
            {
                "name": "Typed Badly",
                "phone": "0033 1 42 68 53 01",
                "mobile": "447911123456",
                "country_id": self.de.id,
            }
        )
        self.assertEqual(partner.phone_e164, "+33142685301")
        self.assertEqual(partner.mobile_e164, "+447911123456")
        self.assertEqual(self.match("07911 123456", "GB"), partner)

    def test_same_number_on_phone_and_mobile_of_two_partners(self):
        Partner = self.env["res.partner"]
        on_phone = Partner.create(
            {"name": "Shared Phone", "phone": "+49 89 2019 0000", "country_id": self.de.id}
        )
        on_mobile = Partner.create(
            {"name": "Shared Mobile", "mobile": "089 20190000", "country_id": self.de.id}
        )
        found = self.match("0049 89 20190000", "DE")
        self.assertEqual(set(found.ids), {on_phone.id, on_mobile.id})
        self.assertEqual(len(found), 2)

    def test_contact_ranks_before_its_company(self):
        Partner = self.env["res.partner"]
        company = Partner.create(
            {
                "name": "Acme GmbH",
                "is_company": True,
                "phone": "+49 40 3003 0000",
                "country_id": self.de.id,
            }
        )
        contact = Partner.create(
            {"name": "Max Muster", "parent_id": company.id, "phone": "040 30030000"}
        )
        self.assertEqual(self.match("+494030030000").ids, [contact.id, company.id])
        info = Partner._cti_caller_info("+494030030000", "DE")
        self.assertEqual(info["partnerId"], contact.id)
        self.assertEqual(info["partnerName"], contact.display_name)
        self.assertEqual(
            [(m["model"], m["id"]) for m in info["matches"]],
            [("res.partner", contact.id), ("res.partner", company.id)],
        )

    def test_archived_partner_ignored(self):
        self.partners["london"].active = False
        self.assertFalse(self.match("+442079460958"))
        everything = self.env["res.partner"].with_context(active_test=False)
        self.assertFalse(everything._cti_match_number("+442079460958", "GB"))

    def test_other_company_partner_not_found(self):
        Partner = self.env["res.partner"]
        partner_b = Partner.create(
            {
                "name": "Company B Client",
                "phone": "+49 221 9999 1234",
                "company_id": self.company_b.id,
            }
        )
        partner_a = Partner.create(
            {
                "name": "Company A Client",
                "phone": "+49 221 9999 5678",
                "company_id": self.company_a.id,
            }
        )
        # As the service host calls it: a superuser environment switched to the user.
        as_user_a = self.env(user=self.user_a.id)["res.partner"]
        self.assertFalse(as_user_a.env.su)
        self.assertFalse(as_user_a._cti_match_number("022199991234", "DE"))
        self.assertFalse(as_user_a._cti_caller_info("022199991234", "DE")["partnerId"])
        self.assertEqual(as_user_a._cti_match_number("022199995678", "DE"), partner_a)
        self.assertEqual(self.match("022199991234", "DE"), partner_b)

    def test_suffix_fallback_only_without_exact_match(self):
        Partner = self.env["res.partner"]
        # A German number typed on a US partner: no country reads it, its digits are kept.
        misread = Partner.create(
            {"name": "Misread", "phone": "030 9018 2299", "country_id": self.us.id}
        )
        self.assertEqual(misread.phone_e164, "03090182299")
        self.assertEqual(self.match("+49 30 90182299"), misread)
        exact = Partner.create(
            {"name": "Exact", "phone": "+49 30 90182299", "country_id": self.de.id}
        )
        self.assertEqual(self.match("+49 30 90182299"), exact)
        # Too short for a suffix match: an internal extension finds nobody.
        self.assertFalse(self.match("2299", "DE"))

    def test_many_numbers_at_once_match_as_one_by_one(self):
        """A burst of calls is looked up in one go: each number gets what it gets alone."""
        Partner = self.env["res.partner"]
        misread = Partner.create(
            {"name": "Misread", "phone": "030 9018 2299", "country_id": self.us.id}
        )
        numbers = [number for number, _country, _key in CALLER_FORMATS]
        numbers += [*ANONYMOUS_CALLERS[2:], "+49 30 90182299", "2299", "+49 40 5555 0000"]
        together = Partner._cti_match_numbers(numbers, "DE")
        self.assertEqual(set(together), set(numbers))
        for number in numbers:
            with self.subTest(number=number):
                self.assertEqual(together[number], self.match(number, "DE"))
        self.assertEqual(together["+49 30 90182299"], misread)
        self.assertEqual(together["030 901820"], self.partners["berlin"])
        self.assertFalse(together["+49 40 5555 0000"])

    def test_shared_number_beyond_the_shared_search(self):
        """A switchboard number on more records than the shared search returns: it still
        gets its own best records, and a number whose record ranks after all of them its
        own (searched again on its own)."""
        Partner = self.env["res.partner"]
        switchboard = Partner.create(
            [{"name": f"Desk {n}", "phone": "+49 89 1234 000"} for n in range(45)]
        )
        late = Partner.create({"name": "Late Caller", "phone": "+49 40 1111 222"})
        together = Partner._cti_match_numbers(["+49 89 1234 000", "040 1111 222"], "DE")
        self.assertEqual(together["+49 89 1234 000"], switchboard[:20])
        self.assertEqual(together["040 1111 222"], late)
        # The same through the suffix match (the digits of no valid number end with them).
        late.phone = "+1 212 41 111 222 99"
        self.assertEqual(late.phone_e164, "12124111122299")
        suffixes = Partner._cti_match_numbers(["+1 212 891 234 000", "+7 1111 222 99"], "DE")
        self.assertEqual(suffixes["+1 212 891 234 000"], switchboard[:20])
        self.assertEqual(suffixes["+7 1111 222 99"], late)

    def test_write_keeps_normalised_form(self):
        partner = self.partners["berlin"]
        partner.write({"phone": "+49 (0) 89 123 456 78", "mobile": "0170 1234567"})
        self.assertEqual(partner.phone_e164, "+498912345678")
        self.assertEqual(partner.mobile_e164, "+491701234567")
        self.assertEqual(self.match("089 12345678", "DE"), partner)
        self.assertFalse(self.match("030 901820", "DE"))
        partner.write({"phone": False, "mobile": ""})
        self.assertFalse(partner.phone_e164)
        self.assertFalse(partner.mobile_e164)

    def test_import_keeps_normalised_form(self):
        result = self.env["res.partner"].load(
            ["name", "phone", "mobile", "country_id"],
            [
                ["Imported DE", "030 901821", "0151/1111 2222", "Germany"],
                ["Imported FR", "+33 (0)1 42 68 53 02", "", "France"],
            ],
        )
        self.assertFalse(result["messages"])
        imported = self.env["res.partner"].browse(result["ids"])
        self.assertEqual(imported.mapped("phone_e164"), ["+4930901821", "+33142685302"])
        self.assertEqual(imported.mapped("mobile_e164"), ["+4915111112222", False])
        self.assertEqual(self.match("00 49 30 901821", "FR"), imported[0])

    def test_existing_partners_backfilled_at_install(self):
        self.env.cr.execute(
            SQL(
                "SELECT count(*) FILTER (WHERE phone ~ '[0-9]'), "
                "count(*) FILTER (WHERE phone ~ '[0-9]' AND phone_e164 IS NULL) "
                "FROM res_partner WHERE id < %s",
                min(self.partners["berlin"].ids),
            )
        )
        with_phone, missing = self.env.cr.fetchone()
        if not with_phone:
            self.skipTest("no partner with a phone number before this test (no demo data)")
        self.assertEqual(missing, 0)

    def test_lookup_indexes_exist(self):
        for table in ("res_partner", "crm_lead"):
            for column in ("phone_e164", "mobile_e164"):
                with self.subTest(table=table, column=column):
                    self.assertTrue(index_exists(self.env.cr, f"{table}__{column}_index"))
                    self.assertTrue(index_exists(self.env.cr, f"{table}_{column}_reverse_index"))


@tagged("post_install", "-at_install")
class TestLeadNumberMatching(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fr = cls.env.ref("base.fr")
        cls.salesman = new_test_user(
            cls.env, "cti_match_salesman", groups="sales_team.group_sale_salesman"
        )
        cls.other_salesman = new_test_user(
            cls.env, "cti_match_other_salesman", groups="sales_team.group_sale_salesman"
        )
        Lead = cls.env["crm.lead"]
        cls.lead_old = Lead.create(
            {
                "name": "Old Paris Lead",
                "phone": "01 42 68 53 00",
                "country_id": cls.fr.id,
                "user_id": cls.salesman.id,
            }
        )
        cls.lead_new = Lead.create(
            {
                "name": "New Paris Opportunity",
                "type": "opportunity",
                "mobile": "+33 6 12 34 56 78",
                "phone": "+33 1 42 68 53 00",
                "user_id": cls.salesman.id,
            }
        )
        cls.lead_other = Lead.create(
            {
                "name": "Somebody Else's Lead",
                "phone": "+33 1 42 68 99 99",
                "user_id": cls.other_salesman.id,
            }
        )

    def test_lead_numbers_are_e164(self):
        self.assertEqual(self.lead_old.phone_e164, "+33142685300")
        self.assertEqual(self.lead_new.mobile_e164, "+33612345678")

    def test_leads_found_most_recent_first(self):
        Lead = self.env["crm.lead"]
        self.assertEqual(
            Lead._cti_match_number("0142685300", "FR").ids, [self.lead_new.id, self.lead_old.id]
        )
        self.assertEqual(Lead._cti_match_number("0033 6 12 34 56 78", "DE"), self.lead_new)

    def test_lost_lead_ignored(self):
        self.lead_new.action_archive()
        self.assertEqual(self.env["crm.lead"]._cti_match_number("+33142685300"), self.lead_old)

    def test_lead_record_rules_apply(self):
        as_salesman = self.env(user=self.salesman.id)["crm.lead"]
        self.assertFalse(as_salesman._cti_match_number("+33142689999", "FR"))
        as_other = self.env(user=self.other_salesman.id)["crm.lead"]
        self.assertEqual(as_other._cti_match_number("+33142689999", "FR"), self.lead_other)

    def test_caller_info_with_partner_and_lead(self):
        partner = self.env["res.partner"].create(
            {"name": "Paris Partner", "phone": "+33 1 42 68 53 00"}
        )
        info = self.env(user=self.salesman.id)["res.partner"]._cti_caller_info("0142685300", "FR")
        self.assertEqual(info["partnerId"], partner.id)
        self.assertEqual(info["partnerName"], "Paris Partner")
        self.assertEqual(info["leadId"], self.lead_new.id)
        self.assertEqual(info["leadName"], "New Paris Opportunity")
        self.assertEqual(
            [(m["model"], m["id"]) for m in info["matches"]],
            [
                ("res.partner", partner.id),
                ("crm.lead", self.lead_new.id),
                ("crm.lead", self.lead_old.id),
            ],
        )

    def test_caller_info_without_lead_access(self):
        partner = self.env["res.partner"].create(
            {"name": "Paris Partner", "phone": "+33 1 42 68 53 00"}
        )
        plain = new_test_user(self.env, "cti_match_plain", groups="base.group_user")
        info = self.env(user=plain.id)["res.partner"]._cti_caller_info("+33142685300", "FR")
        self.assertEqual(info["partnerId"], partner.id)
        self.assertFalse(info["leadId"])
        self.assertEqual([m["model"] for m in info["matches"]], ["res.partner"])
