/** @odoo-module **/

import { useBus } from "@web/core/utils/hooks";
import { patch } from "@web/core/utils/patch";
import { FormController } from "@web/views/form/form_controller";

/**
 * A form showing a record whose call was just logged shows the call at once, as it would
 * after a reload: the chatter with its "Call" activity done (or the call back to do) and
 * the Calls count. A form with unsaved changes keeps them: only its chatter is refreshed.
 */
patch(FormController.prototype, {
    setup() {
        super.setup(...arguments);
        const cti = this.env.services.cti;
        if (cti) {
            useBus(cti.bus, "LOGGED", ({ detail }) => this.showLoggedCall(detail));
        }
    },

    /** @param {{records: {model: string, id: number}[], replayed?: boolean}} logged */
    async showLoggedCall({ records = [], replayed = false }) {
        const root = this.model.root;
        const shown = records.some(
            ({ model, id }) => root?.resId && model === root.resModel && id === root.resId
        );
        // a page loaded after the call was logged read it already
        if (!shown || replayed) {
            return;
        }
        if (await root.isDirty()) {
            this.mailStore?.Thread.get({ model: root.resModel, id: root.resId })?.fetchData([
                "activities",
                "messages",
            ]);
        } else {
            await root.load();
        }
    },
});
