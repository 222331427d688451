/** @odoo-module **/

import { reactive } from "@odoo/owl";
import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

/**
 * Numbers written for people ("+49 89 555000"). The browser has no phone number metadata,
 * so the server formats them, once per number, in batches.
 *
 * A component keeps `useState(service.formatted)` and shows `formatted[number] || number`
 * after `request(number)`: it renders again when the server's text arrives. Code that
 * shows a number once (a notification) awaits `format(number)`.
 */
export const ctiNumbersService = {
    start() {
        const formatted = reactive({});
        const texts = {}; // number -> promise of its text, once asked
        let batch = [];
        let batchDone = null;

        async function fetchBatch() {
            const numbers = batch;
            batch = [];
            Object.assign(formatted, await rpc("/cti/format", { numbers }, { silent: true }));
        }

        /**
         * @param {string} number an E.164 number or an extension, as call events carry them
         * @returns {Promise<string>} the number as people write it (an extension as it is)
         */
        function format(number) {
            if (!number?.startsWith("+")) {
                return Promise.resolve(number || "");
            }
            if (!texts[number]) {
                batch.push(number);
                if (batch.length === 1) {
                    batchDone = Promise.resolve().then(fetchBatch);
                }
                texts[number] = batchDone.then(
                    () => formatted[number] || number,
                    () => number
                );
            }
            return texts[number];
        }

        return {
            formatted,
            format,
            /** `format` for a component that shows `formatted[number] || number`. */
            request(number) {
                format(number);
            },
        };
    },
};

registry.category("services").add("cti_numbers", ctiNumbersService);
