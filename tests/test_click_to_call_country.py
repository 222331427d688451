"""Click-to-call reads a national number with the country of the record it was clicked on
(issue 17): the German company's mobile "0151 23456789" is called from an Odoo whose PBX
is in the United States."""

from odoo.tests import HttpCase, new_test_user, tagged

from .common import CTI_USER_GROUPS


@tagged("post_install", "-at_install")
class TestClickToCallCountry(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pbx = cls.env["cti.pbx"].create(
            {
                "name": "US PBX",
                "ws_url": "ws://127.0.0.1:9",
                "domain": "pbx.test",
                "country_id": cls.env.ref("base.us").id,
            }
        )
        cls.alice = new_test_user(
            cls.env, "cti_country_alice", groups=f"{CTI_USER_GROUPS},sales_team.group_sale_salesman"
        )
        cls.env["cti.account"].create(
            {
                "user_id": cls.alice.id,
                "pbx_id": cls.pbx.id,
                "username": "1001",
                "password": "country-secret",
                "session_wanted": True,
            }
        )
        germany = cls.env.ref("base.de")
        cls.company = cls.env["res.partner"].create(
            {
                "name": "Spree Logistik GmbH",
                "is_company": True,
                "country_id": germany.id,
                "mobile": "0151 23456789",
            }
        )
        cls.person = cls.env["res.partner"].create(
            {"name": "Jana Spree", "parent_id": cls.company.id, "phone": "030 1234567"}
        )
        cls.lead = cls.env["crm.lead"].create(
            {
                "name": "Forklifts",
                "partner_id": cls.person.id,
                "phone": "030 7654321",
                "user_id": cls.alice.id,
            }
        )

    def setUp(self):
        super().setUp()
        self.authenticate(self.alice.login, self.alice.login)

    def call(self, destination, origin=None):
        return self.make_jsonrpc_request(
            "/cti/call", {"destination": destination, "origin": origin}
        )

    def dialled(self):
        commands = self.env["cti.command"].search(
            [("user_id", "=", self.alice.id)], order="id desc", limit=1
        )
        return commands.payload["destination"]

    def test_a_foreign_company_number_is_read_with_its_country(self):
        result = self.call("0151 23456789", {"model": "res.partner", "id": self.company.id})
        self.assertTrue(result.get("queued"), result)
        self.assertEqual(self.dialled(), "+4915123456789")

    def test_a_contact_without_country_is_read_with_its_company_country(self):
        result = self.call("030 1234567", {"model": "res.partner", "id": self.person.id})
        self.assertTrue(result.get("queued"), result)
        self.assertEqual(self.dialled(), "+49301234567")

    def test_a_lead_is_read_with_its_customer_country(self):
        result = self.call("030 7654321", {"model": "crm.lead", "id": self.lead.id})
        self.assertTrue(result.get("queued"), result)
        self.assertEqual(self.dialled(), "+49307654321")
        # the number the caller lookup stores reads it the same way
        self.assertEqual(self.lead.phone_e164, "+49307654321")
        self.assertEqual(self.company.mobile_e164, "+4915123456789")

    def test_without_a_record_the_pbx_country_reads_the_number(self):
        result = self.call("(415) 555-0123")
        self.assertTrue(result.get("queued"), result)
        self.assertEqual(self.dialled(), "+14155550123")
        result = self.call("0151 23456789")
        self.assertEqual(result["name"], "ERROR")

    def test_a_record_the_user_may_not_read_lends_no_country(self):
        other_company = self.env["res.company"].create({"name": "Elsewhere"})
        hidden = self.env["res.partner"].create(
            {
                "name": "Hidden GmbH",
                "country_id": self.env.ref("base.de").id,
                "company_id": other_company.id,
            }
        )
        result = self.call("0151 23456789", {"model": "res.partner", "id": hidden.id})
        self.assertEqual(result["name"], "ERROR")
        for origin in ({"model": "no.such.model", "id": 1}, {"model": ["x"], "id": 1}):
            result = self.call("0151 23456789", origin)
            self.assertEqual(result["name"], "ERROR", origin)
