/** @odoo-module **/

import { registry } from "@web/core/registry";

let resolveCti;
const ctiReady = new Promise((resolve) => (resolveCti = resolve));

/**
 * `Cti.Connector`, the constructor and methods of the reference CTI connector, on top of
 * the `cti` service, so that code written for a VoIPstudio-style connector runs unchanged
 * in Odoo's backend:
 *
 *     const connector = new Cti.Connector({
 *         onMessage(event) {
 *             // {name: "READY", message} or {name: "RINGING", call: {id, source, ...}}
 *         },
 *     });
 *     connector.login();
 *     connector.call("+4989555000");
 *
 * The SIP session is the Odoo server's, not the page's: credentials come from the user's
 * CTI account (`login()` takes none), and every tab and connector of the user sees the
 * same events. Methods return a promise of the route's answer; outcomes arrive as events.
 */
export class Connector {
    /**
     * @param {Object} [config]
     * @param {Function} [config.onMessage] called with each reference event
     */
    constructor({ onMessage } = {}) {
        this.onMessage = onMessage || (() => {});
        this._cti = null;
        this._listener = ({ detail }) => {
            const { name, message, call } = detail;
            this.onMessage(call ? { name, call: { ...call } } : { name, message: message || "" });
        };
        this._ready = ctiReady.then((cti) => {
            this._cti = cti;
            if (!this._destroyed) {
                cti.bus.addEventListener("event", this._listener);
            }
            return cti;
        });
    }

    /** Opens the user's CTI session (the account's credentials are on the server). */
    async login() {
        return (await this._ready).login();
    }

    async logout() {
        return (await this._ready).logout();
    }

    /** @returns {boolean} whether calls can be made and received now */
    isConnected() {
        return Boolean(this._cti?.isConnected());
    }

    /** @param {string} destination an E.164 number, a number as people write it or an extension */
    async call(destination) {
        return (await this._ready).call(destination);
    }

    async answer(callId) {
        return (await this._ready).answer(callId);
    }

    async terminate(callId) {
        return (await this._ready).terminate(callId);
    }

    async transfer(callId, destination) {
        return (await this._ready).transfer(callId, destination);
    }

    async hold(callId) {
        return (await this._ready).hold(callId);
    }

    async resume(callId) {
        return (await this._ready).resume(callId);
    }

    /** Stops delivering events to `onMessage`. */
    destroy() {
        this._destroyed = true;
        this._cti?.bus.removeEventListener("event", this._listener);
    }
}

window.Cti = Object.assign(window.Cti || {}, { Connector });

registry.category("services").add("cti_connector", {
    dependencies: ["cti"],
    start(env, { cti }) {
        resolveCti(cti);
    },
});
