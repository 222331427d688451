/** @odoo-module **/

import { useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";
import { PhoneField } from "@web/views/fields/phone/phone_field";

/**
 * Every phone widget gets a call button for users with a CTI account: it asks the PBX to
 * ring the user's phone and then the number, and names the record the number came from so
 * that the call log links back to it. Users without an account keep the plain tel: link.
 */
patch(PhoneField.prototype, {
    setup() {
        super.setup(...arguments);
        const cti = this.env.services.cti;
        this.cti = cti;
        this.ctiState = cti ? useState(cti.state) : { hasAccount: false };
        this.ctiCallTitle = _t("Call with your phone");
    },

    get ctiCanCall() {
        return this.ctiState.hasAccount && Boolean(this.props.record.data[this.props.name]);
    },

    async onCtiCall() {
        const { record, name } = this.props;
        const origin = record.resId ? { model: record.resModel, id: record.resId } : undefined;
        // The error shows here, where the user clicked, and not again in the softphone.
        const result = await this.cti.call(record.data[name], origin, { ownError: true });
        if (result?.name === "ERROR") {
            this.env.services.notification.add(result.message, { type: "danger" });
        }
    },
});
