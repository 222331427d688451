from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import CtiCommon


@tagged("post_install", "-at_install")
class TestPreferences(CtiCommon):
    def test_user_reads_own_settings_but_not_the_password(self):
        values = self.alice.with_user(self.alice).read(
            ["cti_account_id", "cti_username", "cti_auto_login", "cti_password"]
        )[0]
        self.assertEqual(values["cti_account_id"][0], self.account_alice.id)
        self.assertEqual(values["cti_username"], "2001")
        self.assertFalse(values["cti_auto_login"])
        self.assertFalse(values["cti_password"])

    def test_user_edits_own_settings(self):
        self.alice.with_user(self.alice).write(
            {"cti_auto_login": True, "cti_password": "alice-new"}
        )
        self.assertTrue(self.account_alice.auto_login)
        self.assertEqual(self.account_alice._cti_stored_password(), "alice-new")

    def test_user_cannot_point_the_agent_at_another_line(self):
        # The extension decides whose calls the agent watches and controls: a manager's.
        with self.assertRaises(AccessError):
            self.alice.with_user(self.alice).write({"cti_username": "2002"})
        for values in ({"username": "2002"}, {"auth_username": "2002"}):
            with self.subTest(values=values), self.assertRaises(AccessError):
                self.account_alice.with_user(self.alice).write(values)
        self.assertEqual(self.account_alice.username, "2001")
        self.assertEqual(self.account_alice.auth_username, "2001")

    def test_empty_password_keeps_the_current_one(self):
        self.alice.with_user(self.alice).write({"cti_password": False, "cti_auto_login": True})
        self.assertEqual(self.account_alice._cti_stored_password(), "alice-sip-secret")

    def test_nobody_else_sets_my_password(self):
        user_admin = new_test_user(
            self.env, "cti_test_user_admin", groups="base.group_user,base.group_erp_manager"
        )
        for user in (self.bob, user_admin):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.alice.with_user(user).write({"cti_password": "hijacked"})
        self.assertEqual(self.account_alice._cti_stored_password(), "alice-sip-secret")

    def test_preferences_form(self):
        view = self.env.ref("base.view_users_form_simple_modif")
        arch = self.env["res.users"].with_user(self.alice).get_view(view.id)["arch"]
        self.assertIn('name="cti_password"', arch)
        arch = self.env["res.users"].with_user(self.plain).get_view(view.id)["arch"]
        self.assertNotIn('name="cti_password"', arch)
        self.assertIn('name="lang"', arch)

    def test_users_without_account(self):
        values = self.plain.with_user(self.plain).read(["cti_account_id", "cti_username"])[0]
        self.assertFalse(values["cti_account_id"])
        self.plain.with_user(self.plain).write({"cti_auto_login": True})
        self.assertFalse(self.env["cti.account"].search([("user_id", "=", self.plain.id)]))


@tagged("post_install", "-at_install")
class TestAutoLogin(CtiCommon):
    def test_web_login_starts_the_cti_session_only_with_auto_login(self):
        self.env["res.users"].with_user(self.bob)._cti_auto_login()
        self.assertFalse(self.account_bob.session_wanted)
        self.account_alice.auto_login = True
        self.env["res.users"].with_user(self.alice)._cti_auto_login()
        self.assertTrue(self.account_alice.session_wanted)
        self.assertFalse(self.account_bob.session_wanted)

    def test_user_without_account_logs_in_normally(self):
        self.env["res.users"].with_user(self.plain)._cti_auto_login()
        self.assertFalse(self.env["cti.account"].search([("session_wanted", "=", True)]))
