/** @odoo-module **/

import { reactive } from "@odoo/owl";
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

/**
 * Numbers written for people ("+49 89 555000"). The browser has no phone number metadata,
 * so the server formats them, once per number, in batches.
 *
 * A component keeps `useState(service.formatted)` and shows `formatted[number] || number`
 * after `request(number)`: it renders again when the server's text arrives.
 */
export const ctiNumbersService = {
    start() {
        const formatted = reactive({});
        const asked = new Set();
        let batch = [];

        async function fetchBatch() {
            const numbers = batch;
            batch = [];
            Object.assign(formatted, await rpc("/cti/format", { numbers }, { silent: true }));
        }

        return {
            formatted,
            /** @param {string} number an E.164 number or an extension, as call events carry them */
            request(number) {
                if (!number?.startsWith("+") || asked.has(number)) {
                    return;
                }
                asked.add(number);
                batch.push(number);
                if (batch.length === 1) {
                    Promise.resolve().then(fetchBatch);
                }
            },
        };
    },
};

registry.category("services").add("cti_numbers", ctiNumbersService);
