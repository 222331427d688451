# Fed to `odoo-bin shell`: uninstall cti_connector and check nothing of it is left.
module = env["ir.module.module"].search([("name", "=", "cti_connector")])  # noqa: F821
module.button_immediate_uninstall()
env.cr.commit()  # noqa: F821
env.invalidate_all()  # noqa: F821
left = env["ir.model"].search_count([("model", "=like", "cti.%")])  # noqa: F821
if module.state == "uninstalled" and not left:
    print("UNINSTALL OK")
else:
    print("UNINSTALL FAILED: state=%s, models left=%s" % (module.state, left))
