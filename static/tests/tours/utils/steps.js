/** @odoo-module **/

/*
 * Steps the CTI tours share. A tour cannot ring a desk phone or take a screenshot: it logs
 * `cti_tour:<action>` and its Python test, listening to the browser's console
 * (tests/common.py, listen_to_tour_signals), does it.
 */

export function signal(action) {
    return {
        content: `Python side: ${action}`,
        trigger: "body",
        run: () => console.log(`cti_tour:${action}`),
    };
}

export function pause(ms) {
    return {
        content: `Let ${ms} ms pass`,
        trigger: "body",
        run: () => new Promise((resolve) => setTimeout(resolve, ms)),
    };
}
