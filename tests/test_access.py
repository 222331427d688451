from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .common import CtiCommon

CTI_MODELS = (
    "cti.pbx",
    "cti.account",
    "cti.call",
    "cti.command",
    "cti.rate.limit",
    "cti.line.state",
)
# Models that store nothing (no table, no records): methods for the service only.
CTI_ABSTRACT_MODELS = ("cti.push", "cti.notice", "cti.number.mixin")


@tagged("post_install", "-at_install")
class TestSecuritySetup(CtiCommon):
    def test_every_model_has_access_rules(self):
        models = self.env["ir.model"].search([("model", "=like", "cti.%")])
        self.assertEqual(set(models.mapped("model")), {*CTI_MODELS, *CTI_ABSTRACT_MODELS})
        for name in CTI_ABSTRACT_MODELS:
            self.assertTrue(self.env[name]._abstract, f"{name} stores records: give it rules")
            cls = type(self.env[name])
            public = [
                attr
                for attr in dir(cls)
                if not attr.startswith("_")
                and getattr(getattr(cls, attr), "__module__", "").startswith(
                    "odoo.addons.cti_connector."
                )
            ]
            self.assertEqual(public, [], f"{name} must offer nothing callable over RPC")
        for model in models.filtered(lambda m: m.model in CTI_MODELS):
            with self.subTest(model=model.model):
                self.assertTrue(
                    self.env["ir.model.access"].search([("model_id", "=", model.id)]),
                    "every model of the module needs ir.model.access rows",
                )

    def test_groups(self):
        user_group = self.env.ref("cti_connector.group_cti_user")
        manager_group = self.env.ref("cti_connector.group_cti_manager")
        self.assertIn(user_group, manager_group.implied_ids)
        self.assertTrue(
            self.env.ref("base.user_admin").has_group("cti_connector.group_cti_manager")
        )
        self.assertTrue(self.manager.has_group("cti_connector.group_cti_user"))
        self.assertFalse(self.plain.has_group("cti_connector.group_cti_user"))


@tagged("post_install", "-at_install")
class TestPbxAccess(CtiCommon):
    def test_user_reads_but_does_not_configure(self):
        pbx = self.pbx.with_user(self.alice)
        self.assertEqual(pbx.domain, "example.com")
        with self.assertRaises(AccessError):
            pbx.write({"domain": "evil.example.com"})
        with self.assertRaises(AccessError):
            pbx.create({"name": "Mine", "ws_url": "ws://pbx", "domain": "pbx"})
        with self.assertRaises(AccessError):
            pbx.unlink()

    def test_manager_configures(self):
        Pbx = self.env["cti.pbx"].with_user(self.manager)
        pbx = Pbx.create({"name": "Branch", "ws_url": "ws://10.0.0.1:8088", "domain": "10.0.0.1"})
        pbx.country_id = self.env.ref("base.fr")
        self.assertEqual(pbx.country_id.code, "FR")
        pbx.unlink()
        self.assertFalse(pbx.exists())

    def test_users_outside_cti_see_nothing(self):
        for user in (self.plain, self.portal):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.pbx.with_user(user).read(["name"])


@tagged("post_install", "-at_install")
class TestAccountAccess(CtiCommon):
    def test_user_sees_only_own_account(self):
        Account = self.env["cti.account"].with_user(self.alice)
        self.assertEqual(Account.search([]), self.account_alice)
        with self.assertRaises(AccessError):
            self.account_bob.with_user(self.alice).read(["username"])

    def test_user_edits_own_password_and_auto_login_only(self):
        own = self.account_alice.with_user(self.alice)
        own.write({"password": "alice-2011", "auto_login": True})
        self.assertTrue(self.account_alice.auto_login)
        with self.assertRaises(AccessError):
            own.write({"username": "2011"})
        with self.assertRaises(AccessError):
            own.write({"pbx_id": self.pbx.copy().id})
        with self.assertRaises(AccessError):
            own.write({"user_id": self.bob.id})
        with self.assertRaises(AccessError):
            own.write({"active": False})
        with self.assertRaises(AccessError):
            self.account_bob.with_user(self.alice).write({"username": "2099"})
        self.assertEqual(self.account_bob.username, "2002")

    def test_no_two_accounts_share_a_line(self):
        Account = self.env["cti.account"].with_user(self.manager)
        for values in ({"username": "2001"}, {"username": "2003", "auth_username": "2002"}):
            with self.subTest(values=values), self.assertRaises(ValidationError):
                Account.create({"user_id": self.plain.id, "pbx_id": self.pbx.id, **values})
        with self.assertRaises(ValidationError):
            self.account_bob.with_user(self.manager).write({"auth_username": "2001"})
        other_pbx = self.pbx.copy()
        account = Account.create(
            {"user_id": self.plain.id, "pbx_id": other_pbx.id, "username": "2001"}
        )
        self.assertEqual(account.auth_username, "2001", "another PBX, another line")

    def test_user_cannot_create_or_delete_accounts(self):
        with self.assertRaises(AccessError):
            self.env["cti.account"].with_user(self.alice).create(
                {"user_id": self.plain.id, "pbx_id": self.pbx.id, "username": "2003"}
            )
        with self.assertRaises(AccessError):
            self.account_alice.with_user(self.alice).unlink()

    def test_manager_manages_all_accounts(self):
        Account = self.env["cti.account"].with_user(self.manager)
        self.assertEqual(
            Account.search([("id", "in", (self.account_alice + self.account_bob).ids)]),
            self.account_alice + self.account_bob,
        )
        self.account_bob.with_user(self.manager).write({"pbx_id": self.pbx.copy().id})
        account = Account.create(
            {"user_id": self.plain.id, "pbx_id": self.pbx.id, "username": "2003"}
        )
        account.unlink()
        self.assertFalse(account.exists())

    def test_users_outside_cti_see_nothing(self):
        for user in (self.plain, self.portal):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.account_alice.with_user(user).read(["username"])


@tagged("post_install", "-at_install")
class TestCallAccess(CtiCommon):
    def test_user_sees_only_own_calls(self):
        Call = self.env["cti.call"].with_user(self.alice)
        self.assertEqual(Call.search([]), self.call_alice)
        with self.assertRaises(AccessError):
            self.call_bob.with_user(self.alice).read(["destination"])

    def test_user_cannot_alter_the_log(self):
        with self.assertRaises(AccessError):
            self.call_alice.with_user(self.alice).write({"status": "missed"})
        with self.assertRaises(AccessError):
            self.call_alice.with_user(self.alice).unlink()
        with self.assertRaises(AccessError):
            self.env["cti.call"].with_user(self.alice).create(
                {"direction": "inbound", "user_id": self.alice.id, "sip_call_id": "forged"}
            )

    def test_manager_sees_and_fixes_all_calls(self):
        Call = self.env["cti.call"].with_user(self.manager)
        calls = self.call_alice + self.call_bob
        self.assertEqual(Call.search([("id", "in", calls.ids)]), calls)
        partner = self.env["res.partner"].create({"name": "Caller"})
        self.call_bob.with_user(self.manager).partner_id = partner
        self.assertEqual(self.call_bob.partner_id, partner)

    def test_calls_stay_in_their_company(self):
        main_company = self.manager.company_id
        other_company = self.env["res.company"].create({"name": "CTI Other Company"})
        self.manager.company_ids = [Command.link(other_company.id)]
        other_call = self.create_call(self.bob, "call-other", company_id=other_company.id)
        Call = self.env["cti.call"].with_user(self.manager)
        self.assertNotIn(
            other_call, Call.with_context(allowed_company_ids=[main_company.id]).search([])
        )
        self.assertIn(
            other_call,
            Call.with_context(allowed_company_ids=[main_company.id, other_company.id]).search([]),
        )
        self.assertNotIn(
            other_call,
            self.env["cti.call"].with_user(self.bob).search([]),
            "bob is not allowed in the other company, even for his own call",
        )

    def test_users_outside_cti_see_nothing(self):
        for user in (self.plain, self.portal):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.call_alice.with_user(user).read(["destination"])


@tagged("post_install", "-at_install")
class TestCommandAccess(CtiCommon):
    """Only the server writes the queue: the routes create a user's command as superuser
    after validating it (``cti.command._cti_enqueue``); a user over the ORM or XML-RPC
    creates, changes and deletes nothing, not even their own."""

    def enqueue(self, user, name, payload=None):
        account = self.env["cti.account"].search([("user_id", "=", user.id)])
        return self.env["cti.command"].with_user(user)._cti_enqueue(account, name, payload)

    def test_users_cannot_write_the_queue_through_the_orm(self):
        Command_ = self.env["cti.command"].with_user(self.alice)
        for vals in (
            {"name": "call", "payload": [1]},
            {"name": "call", "payload": {"destination": "+4930123456"}},
            {"name": "call", "user_id": self.bob.id, "account_id": self.account_bob.id},
        ):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                Command_.create(vals)
        command = self.enqueue(self.alice, "call", {"destination": "+4930123456"})
        self.assertEqual(command.user_id, self.alice)
        self.assertEqual(command.account_id, self.account_alice)
        self.assertEqual(command.state, "pending")
        with self.assertRaises(AccessError):
            command.write({"state": "done"})
        with self.assertRaises(AccessError):
            command.write({"payload": [1]})
        with self.assertRaises(AccessError):
            command.unlink()

    def test_user_reads_only_own_commands(self):
        bob_command = self.enqueue(self.bob, "hold")
        alice_command = self.enqueue(self.alice, "hold")
        self.assertEqual(self.env["cti.command"].with_user(self.alice).search([]), alice_command)
        with self.assertRaises(AccessError):
            bob_command.with_user(self.alice).read(["state"])

    def test_manager_reads_and_purges_all_but_sends_nothing_directly(self):
        bob_command = self.enqueue(self.bob, "resume")
        Command_ = self.env["cti.command"].with_user(self.manager)
        self.assertIn(bob_command, Command_.search([]))
        with self.assertRaises(AccessError):
            Command_.create(
                {"name": "call", "user_id": self.bob.id, "account_id": self.account_bob.id}
            )
        bob_command.with_user(self.manager).unlink()
        self.assertFalse(bob_command.exists())

    def test_users_outside_cti_cannot_send(self):
        for user in (self.plain, self.portal):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.env["cti.command"].with_user(user).create(
                    {"name": "hold", "account_id": self.account_alice.id}
                )
