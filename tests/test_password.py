from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CtiCommon

ALICE_SIP_PASSWORD = "alice-sip-secret"  # noqa: S105 - test fixture


@tagged("post_install", "-at_install")
class TestPassword(CtiCommon):
    def assertNoSecret(self, value):
        self.assertNotIn(ALICE_SIP_PASSWORD, repr(value))

    def test_owner_and_manager_read_it(self):
        for user in (self.alice, self.manager):
            with self.subTest(user=user.login):
                account = self.account_alice.with_user(user)
                self.assertEqual(account.password, ALICE_SIP_PASSWORD)
                self.assertEqual(account.read(["password"])[0]["password"], ALICE_SIP_PASSWORD)
                self.assertEqual(
                    account.web_read({"password": {}})[0]["password"], ALICE_SIP_PASSWORD
                )

    def test_other_users_never_read_it_even_through_sudo(self):
        # sudo() stands for any code path that bypasses access rights on behalf of the
        # current user, e.g. a controller: the password still follows the real user.
        for user in (self.bob, self.plain, self.portal):
            with self.subTest(user=user.login):
                account = self.account_alice.with_user(user).sudo()
                self.assertFalse(account.password)
                self.assertFalse(account.read(["password"])[0]["password"])
                self.assertFalse(
                    account.search_read([("id", "=", account.id)], ["password"])[0]["password"]
                )
                self.assertFalse(account.web_read({"password": {}})[0]["password"])
                self.assertNoSecret(account.export_data(["username", "password"]))

    def test_other_users_without_sudo_get_access_errors(self):
        for user in (self.bob, self.plain, self.portal):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.account_alice.with_user(user).read(["password"])

    def test_field_hidden_outside_cti_groups(self):
        for user in (self.plain, self.portal):
            with self.subTest(user=user.login):
                fields = self.env["cti.account"].with_user(user).sudo(False).fields_get()
                self.assertNotIn("password", fields)

    def test_value_cached_for_a_manager_does_not_leak(self):
        self.assertEqual(self.account_alice.with_user(self.manager).password, ALICE_SIP_PASSWORD)
        self.assertFalse(self.account_alice.with_user(self.bob).sudo().password)

    def test_no_search_or_group_by_oracle(self):
        # A search or group by on the password would let anyone guess it one character
        # at a time, whatever read returns: the ORM ignores the condition instead.
        Account = self.env["cti.account"].with_user(self.manager)
        accounts = self.account_alice + self.account_bob
        with mute_logger("odoo.osv.expression"):
            found = Account.search([("id", "in", accounts.ids), ("password", "=like", "zz%")])
        self.assertEqual(found, accounts)
        with self.assertRaises(ValueError):
            Account.read_group([], ["username"], ["password"])

    def test_owner_and_manager_change_it(self):
        self.account_alice.with_user(self.alice).write({"password": "alice-new"})
        self.assertEqual(self.account_alice.with_user(self.manager).password, "alice-new")
        self.account_alice.with_user(self.manager).write({"password": "alice-newer"})
        self.assertEqual(self.account_alice.with_user(self.alice).password, "alice-newer")

    def test_other_users_cannot_change_it_even_through_sudo(self):
        with self.assertRaises(AccessError):
            self.account_alice.with_user(self.bob).sudo().write({"password": "hijacked"})
        self.assertEqual(self.account_alice.password, ALICE_SIP_PASSWORD)

    def test_stored_outside_the_orm(self):
        field = self.env["cti.account"]._fields["password"]
        self.assertFalse(field.store)
        self.assertFalse(field.copy)
        self.env.cr.execute(
            "SELECT password FROM cti_account WHERE id = %s", [self.account_alice.id]
        )
        self.assertEqual(self.env.cr.fetchone()[0], ALICE_SIP_PASSWORD)
