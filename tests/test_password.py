import logging
import os
import stat
from unittest.mock import patch

from cryptography.fernet import Fernet
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..service import secret
from .common import CtiCommon

ALICE_SIP_PASSWORD = "alice-sip-secret"  # noqa: S105 - test fixture


@tagged("post_install", "-at_install")
class TestPassword(CtiCommon):
    def assertNoSecret(self, value, password=ALICE_SIP_PASSWORD):
        self.assertNotIn(password, repr(value))

    def stored(self, account):
        self.env.cr.execute("SELECT password FROM cti_account WHERE id = %s", [account.id])
        return self.env.cr.fetchone()[0]

    def test_nobody_reads_it_back(self):
        # Not the owner, not a manager, not sudo(): only the service host decrypts it.
        for env in (
            self.env(user=self.alice),
            self.env(user=self.manager),
            self.env(user=self.bob, su=True),
            self.env(user=self.plain, su=True),
            self.env,
        ):
            with self.subTest(user=env.user.login, su=env.su):
                account = self.account_alice.with_env(env)
                self.assertFalse(account.password)
                self.assertFalse(account.read(["password"])[0]["password"])
                self.assertFalse(account.web_read({"password": {}})[0]["password"])
                self.assertNoSecret(account.search_read([("id", "=", account.id)], ["password"]))
                self.assertNoSecret(account.sudo().export_data(["username", "password"]))
        self.assertEqual(self.account_alice._cti_stored_password(), ALICE_SIP_PASSWORD)

    def test_other_users_without_sudo_get_access_errors(self):
        for user in (self.bob, self.plain, self.portal):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.account_alice.with_user(user).read(["password"])

    def test_field_hidden_outside_cti_groups(self):
        for user in (self.plain, self.portal):
            with self.subTest(user=user.login):
                fields = self.env["cti.account"].with_user(user).sudo(False).fields_get()
                self.assertNotIn("password", fields)

    def test_no_search_or_group_by_oracle(self):
        Account = self.env["cti.account"].with_user(self.manager)
        accounts = self.account_alice + self.account_bob
        with mute_logger("odoo.osv.expression"):
            found = Account.search([("id", "in", accounts.ids), ("password", "=like", "zz%")])
        self.assertEqual(found, accounts)
        with self.assertRaises(ValueError):
            Account.read_group([], ["username"], ["password"])

    def test_owner_and_manager_set_it(self):
        self.account_alice.with_user(self.alice).write({"password": "alice-new"})
        self.assertEqual(self.account_alice._cti_stored_password(), "alice-new")
        self.account_alice.with_user(self.manager).write({"password": "alice-newer"})
        self.assertEqual(self.account_alice._cti_stored_password(), "alice-newer")

    def test_other_users_cannot_change_it_even_through_sudo(self):
        with self.assertRaises(AccessError):
            self.account_alice.with_user(self.bob).sudo().write({"password": "hijacked"})
        self.assertEqual(self.account_alice._cti_stored_password(), ALICE_SIP_PASSWORD)

    def test_stored_encrypted_outside_the_orm(self):
        field = self.env["cti.account"]._fields["password"]
        self.assertFalse(field.store)
        self.assertFalse(field.copy)
        token = self.stored(self.account_alice)
        self.assertNoSecret(token)
        self.assertTrue(secret.is_token(token))
        self.assertEqual(secret.decrypt(token), ALICE_SIP_PASSWORD)

    def test_never_in_the_sql_text(self):
        """What Odoo logs with --log-sql (and what PostgreSQL's log_statement records): the
        statement with its parameters bound. The new password is in none of them."""
        with self.assertLogs("odoo.sql_db", logging.DEBUG) as logged:
            self.account_alice.with_user(self.manager).write({"password": "never-logged-1"})
            self.alice.with_user(self.alice).write({"cti_password": "never-logged-2"})
            self.env.flush_all()
            self.account_alice._cti_agent_config()
        statements = "\n".join(logged.output)
        self.assertIn("UPDATE cti_account SET password", statements)
        self.assertNotIn("never-logged", statements)
        self.assertEqual(self.account_alice._cti_stored_password(), "never-logged-2")

    def test_configured_keys_rotate(self):
        # From the key the tests run with (the generated one: no key is configured) to a
        # configured one, as docs/security.rst says: new key first, rotate, drop the old one.
        with open(secret.key_file(), encoding="ascii") as file:
            old = file.read().strip()
        new = Fernet.generate_key().decode()
        with patch.dict(os.environ, {"ODOO_CTI_SECRET_KEY": old}):
            self.account_alice.with_user(self.manager).password = "rotated-secret"
            before = self.stored(self.account_alice)
        with patch.dict(os.environ, {"ODOO_CTI_SECRET_KEY": f"{new},{old}"}):
            self.assertEqual(self.account_alice._cti_stored_password(), "rotated-secret")
            self.assertGreaterEqual(self.env["cti.account"]._cti_rotate_passwords(), 2)
        self.assertNotEqual(self.stored(self.account_alice), before)
        with patch.dict(os.environ, {"ODOO_CTI_SECRET_KEY": new}):
            self.assertEqual(self.account_alice._cti_stored_password(), "rotated-secret")
            self.assertEqual(self.account_bob._cti_stored_password(), "bob-sip-secret")
        with (
            patch.dict(os.environ, {"ODOO_CTI_SECRET_KEY": old}),
            self.assertLogs("odoo.addons.cti_connector.models.cti_account", "WARNING") as logs,
        ):
            self.assertIsNone(self.account_alice._cti_stored_password())
            self.assertIsNone(self.account_alice._cti_agent_config())
        self.assertIn("encrypted with another key", logs.output[0])

    def test_without_configuration_a_key_file_is_made(self):
        with patch.dict(os.environ, {"ODOO_CTI_SECRET_KEY": ""}):
            self.account_alice.password = "file-key-secret"
            self.assertEqual(self.account_alice._cti_stored_password(), "file-key-secret")
        mode = os.stat(secret.key_file()).st_mode
        self.assertEqual(stat.S_IMODE(mode) & 0o077, 0, "readable by the owner only")

    def test_clear_passwords_of_an_older_release_are_encrypted(self):
        self.env.cr.execute(
            "UPDATE cti_account SET password = 'legacy-clear' WHERE id = %s",
            [self.account_alice.id],
        )
        self.assertEqual(self.account_alice._cti_stored_password(), "legacy-clear")
        self.env["cti.account"]._cti_encrypt_clear_passwords()
        self.assertNoSecret(self.stored(self.account_alice), "legacy-clear")
        self.assertEqual(self.account_alice._cti_stored_password(), "legacy-clear")
