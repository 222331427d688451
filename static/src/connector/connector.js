/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { CALL_EVENTS, FINAL_EVENTS } from "../core/vocabulary";
import { CALL_CODE, CALL_STATUS, DIRECTION, EVENT, TYPE, log, referenceCall } from "./reference";

/*
 * `window.Cti`: the public surface of VoIPstudio's CTI Connector (the constants, `Cti.log`
 * and `Cti.Connector`), on top of the `cti` and `cti_team` services, so that code written
 * for it (its "Cti.Platform" example included) runs unchanged in Odoo's backend.
 *
 * What differs, on purpose (docs/javascript_api.rst):
 * - `EVENT.HANGUP` is "HANGUP", not the reference's "HUNGUP": its documentation and its
 *   CALL_STATUS.HANGUP say "HANGUP", and so do our events, so code comparing with the
 *   constant, with "HANGUP" or with `call.status` works; code comparing with the literal
 *   "HUNGUP" does not.
 * - the SIP session and its credentials are the Odoo server's: `login(user, pass)`,
 *   `login(token)` and `twoFactorAuth(code, nonce)` ignore their arguments and keep nothing;
 *   nothing is stored in localStorage.
 * - `subscribe("user:ID")` watches a colleague of the same company by extension: their call
 *   events arrive read-only (they cannot be answered, ended or transferred from here).
 */

const NODE_TYPES = ["user", "ivr", "queue", "conf"];

let resolveServices;
const servicesReady = new Promise((resolve) => (resolveServices = resolve));

/**
 * `new Cti.Connector({onMessage})`: events go to `onMessage` (called, as in the reference,
 * on the `callbacks` object); the methods take the reference's arguments, check them as it
 * does (ERROR or INFO events), and send the command to Odoo's CTI service. They return a
 * promise, which reference code may ignore: outcomes arrive as events.
 */
export class Connector {
    /**
     * @param {Object} [options]
     * @param {Function} [options.onMessage] called with each event
     * @param {string} [options.apiEndpoint] ignored: the VoIPstudio REST API is not used
     */
    constructor(options = {}) {
        this.callbacks = { onMessage: options.onMessage || (() => {}) };
        this.connected = false;
        // the calls seen by this connector: own ones and subscribed colleagues', by id
        this.calls = {};
        // URI -> the user id it watches
        this.subscriptions = {};
        this._cti = null;
        this._team = null;
        this._destroyed = false;
        // Events are delivered one after the other, in order, even when one waits for
        // something (the extension and domain before READY).
        this._delivery = Promise.resolve();
        this._readySent = false;
        this._onEvent = ({ detail }) => this._queue(() => this._ownEvent(detail));
        this._onLine = ({ detail }) => this._queue(() => this._colleagueEvent(detail));
        this._ready = servicesReady.then(async ({ cti, team }) => {
            this._cti = cti;
            this._team = team;
            if (this._destroyed) {
                return this;
            }
            cti.bus.addEventListener("event", this._onEvent);
            team.bus.addEventListener("line", this._onLine);
            await cti.loaded;
            // As the reference reconnects a session it finds on page load: a session that
            // is already up is announced to this new connector.
            if (cti.isConnected()) {
                this._queue(() => this._ownEvent({ name: EVENT.READY, message: "" }));
            }
            return this;
        });
    }

    log(message) {
        if (window.console) {
            console.log(`Cti.Connector: ${message}`);
        }
    }

    /** @returns {boolean} whether calls can be made and received now (once READY) */
    isConnected() {
        this.connected = Boolean(this._cti?.isConnected());
        return this.connected;
    }

    /**
     * Logs in to the CTI: `login()`, `login(user, password)` and `login(apiKey)` all open the
     * user's own session with the credentials the server holds; what is given is ignored
     * and kept nowhere. LOGGED_IN, then READY once the PBX accepted the session.
     */
    async login() {
        await this._ready;
        if (this.isConnected()) {
            this._send({ name: EVENT.LOGGED_IN, message: _t("User is already authenticated.") });
            return;
        }
        return this._cti.login();
    }

    /** Two-factor authentication is Odoo's own login: this is `login()`. */
    async twoFactorAuth() {
        return this.login();
    }

    async logout() {
        await this._ready;
        if (!this._cti.state.loggedIn) {
            this._sendError(_t("Connector is not connected."));
            return;
        }
        return this._cti.logout();
    }

    /**
     * Answers a ringing inbound call: without an argument, the last one that rang, as the
     * reference does; with a call id, that one.
     */
    async answer(callId) {
        await this._ready;
        if (!this.isConnected()) {
            return this._sendError(_t("Connector needs to be connected first."));
        }
        if (callId === undefined) {
            const ringing = Object.values(this._cti.state.calls).filter(
                (call) => call.direction === DIRECTION.IN && call.status === CALL_STATUS.RINGING
            );
            if (!ringing.length) {
                return this._sendError(_t("No ringing inbound calls to answer."));
            }
            callId = ringing[ringing.length - 1].id;
        }
        return this._cti.answer(callId);
    }

    /** @param {string} destination an E.164 number, a number as people write it or an extension */
    async call(destination) {
        await this._ready;
        if (!this.isConnected()) {
            return this._sendError(_t("Connector needs to be connected first."));
        }
        if (destination === undefined) {
            return this._sendError(_t("Missing destination parameter"));
        }
        destination = String(destination);
        if (!destination.length) {
            return this._sendError(_t("Destination number is empty"));
        }
        if (destination === this._cti.state.extension) {
            return this._sendError(_t("You are unable to call yourself."));
        }
        return this._cti.call(destination);
    }

    /** Ends a call of the user's, refused with INFO unless it is connected or on hold. */
    async terminate(callId) {
        await this._ready;
        const call = this._ownCall(callId);
        if (!call) {
            return;
        }
        if (![CALL_STATUS.CONNECTED, CALL_STATUS.ON_HOLD].includes(call.status)) {
            return this._sendInfo(
                _t("Call with STATUS: %(status)s cannot be terminated.", { status: call.status })
            );
        }
        return this._cti.terminate(callId);
    }

    /**
     * Transfers a connected call of the user's; refused with INFO in any other state.
     * `{askFirst: true}` (ours) calls the target on a second line first, the call on hold;
     * then `complete(lineId)` hands the call over, or `terminate(lineId)` goes back to it.
     */
    async transfer(callId, destination, { askFirst = false } = {}) {
        await this._ready;
        if (!this.isConnected()) {
            return this._sendError(_t("Connector needs to be connected first."));
        }
        if (callId === undefined) {
            return this._sendError(_t("Missing call ID parameter"));
        }
        if (destination === undefined) {
            return this._sendError(_t("Missing destination parameter"));
        }
        const call = this._ownCall(callId);
        if (!call) {
            return;
        }
        if (call.status !== CALL_STATUS.CONNECTED) {
            return this._sendInfo(
                _t("Call with STATUS: %(status)s cannot be transferred.", { status: call.status })
            );
        }
        destination = String(destination);
        if (!destination.length) {
            return this._sendError(_t("Destination number is empty"));
        }
        if (destination === this._cti.state.extension) {
            return this._sendError(_t("You are unable to transfer a call to yourself."));
        }
        return this._cti.transfer(callId, destination, { askFirst });
    }

    /** Ours: hands the held call over to the party of the ask-first line `lineId`. */
    async complete(lineId) {
        await this._ready;
        if (!this.isConnected()) {
            return this._sendError(_t("Connector needs to be connected first."));
        }
        if (!this._ownCall(lineId)) {
            return;
        }
        return this._cti.complete(lineId);
    }

    async hold(callId) {
        return (await this._ready)._cti.hold(callId);
    }

    async resume(callId) {
        return (await this._ready)._cti.resume(callId);
    }

    /**
     * Watches a colleague's line: `subscribe("user:<extension>")`. SUBSCRIBED, then their
     * current call and every later call event, read-only, as the reference delivers the
     * calls of a subscribed user.
     */
    async subscribe(node) {
        await this._ready;
        if (node === undefined) {
            return this._sendError(_t("Missing node parameter."));
        }
        if (!this.isConnected()) {
            return this._sendError(_t("Connector needs to be connected first."));
        }
        const parts = String(node).split(":");
        if (parts.length !== 2) {
            return this._sendError(_t("Invalid node format."));
        }
        const [type, id] = parts;
        if (!NODE_TYPES.includes(type)) {
            return this._sendError(_t("Invalid node type."));
        }
        if (!/^[1-9][0-9]+$/.test(id)) {
            return this._sendError(_t("Invalid node_id format."));
        }
        if (type !== "user") {
            return this._sendError(_t("Only users can be watched here, not %(type)s.", { type }));
        }
        const team = await this._team.load();
        const uri = `${id}@${team.me.domain}`;
        if (this.subscriptions[uri]) {
            this.log(`Already subscribed to [${uri}], skipping...`);
            return;
        }
        if (id === team.me.extension) {
            return this._subscribed(uri, team.me.userId);
        }
        if (!team.enabled) {
            return this._sendError(_t("Colleagues' lines are not shared in this company."));
        }
        // the extension on the user's own PBX first, then on another with the same domain
        const members = Object.values(team.members).filter(
            (m) => m.extension === id && m.domain === team.me.domain
        );
        const member = members.find((m) => m.pbxId === team.me.pbxId) || members[0];
        if (!member) {
            return this._sendError(
                _t("No colleague of yours has the extension %(extension)s.", { extension: id })
            );
        }
        this._subscribed(uri, member.userId);
        if (member.event) {
            this._queue(() => this._colleagueEvent(member));
        }
    }

    /** @returns {string[]} the addresses this connector watches, its own line first */
    getSubscriptionURIs() {
        return Object.keys(this.subscriptions);
    }

    /**
     * The reference's VoIPstudio REST API is not Odoo's: `GET /users` answers with the CTI
     * users of the company (`{data: [{id: extension, first_name, last_name}]}`), as the
     * reference's team board needs; anything else is an ERROR (or `failureCb`).
     */
    async apiRequest(method, url, data, successCb, failureCb) {
        await this._ready;
        if (method === "GET" && url === "/users") {
            const team = await this._team.load();
            const users = [team.me, ...Object.values(team.members)].filter((u) => u.extension);
            const response = {
                data: users.map((u) => ({ id: u.extension, first_name: u.name, last_name: "" })),
            };
            if (typeof successCb === "function") {
                successCb(response);
            }
            return response;
        }
        const message = _t("The VoIPstudio REST API (%(method)s %(url)s) is not available in Odoo.", {
            method,
            url,
        });
        if (typeof failureCb === "function") {
            failureCb(501, { message, errors: [] });
        } else {
            this._sendError(message);
        }
    }

    getApiError(response) {
        const errors = [];
        if (response?.message) {
            errors.push(response.message);
        }
        for (const error of response?.errors || []) {
            errors.push(`${error.field}: ${error.message}`);
        }
        return errors.length ? errors.join(" ") : "Unknown API Error";
    }

    /**
     * The reference keeps its session in localStorage and its examples read it; here only
     * what is not secret: `user_id` and `sip_username` (the extension) and `sip_domain`.
     * Passwords and tokens are never in the browser.
     */
    _getParam(name, defaults) {
        const me = this._team?.state.me || {};
        const params = {
            user_id: me.extension,
            sip_username: me.extension,
            sip_domain: me.domain,
        };
        return params[name] !== undefined ? params[name] : defaults;
    }

    /** Stops delivering events to `onMessage`. */
    destroy() {
        this._destroyed = true;
        this._cti?.bus.removeEventListener("event", this._onEvent);
        this._team?.bus.removeEventListener("line", this._onLine);
    }

    // -- private ------------------------------------------------------------------------

    _queue(deliver) {
        this._delivery = this._delivery.then(deliver).catch((error) => console.error(error));
    }

    _send(event) {
        if (!this._destroyed) {
            this.callbacks.onMessage(event);
        }
    }

    _sendError(message) {
        this._send({ name: EVENT.ERROR, message });
    }

    _sendInfo(message) {
        this._send({ name: EVENT.INFO, message });
    }

    /** The user's own call `callId`, or undefined after an ERROR that says why not. */
    _ownCall(callId) {
        if (!this.isConnected()) {
            return this._sendError(_t("Connector needs to be connected first."));
        }
        if (callId === undefined) {
            return this._sendError(_t("Missing call ID parameter"));
        }
        const call = this._cti.state.calls[callId];
        if (call) {
            return call;
        }
        if (this.calls[callId]) {
            return this._sendError(
                _t("Call with ID: %(id)s is a colleague's call: it can only be watched.", {
                    id: callId,
                })
            );
        }
        return this._sendError(_t("Call with ID: %(id)s could not be found.", { id: callId }));
    }

    _subscribed(uri, userId) {
        this.subscriptions[uri] = userId;
        this._send({
            name: EVENT.SUBSCRIBED,
            message: _t("Call Event subscription created."),
            uri,
        });
    }

    async _ownEvent(payload) {
        const { name, call } = payload;
        if (call) {
            const event = { name, call: referenceCall(call) };
            this._track(event.call, name);
            return this._send(event);
        }
        if (name === EVENT.READY) {
            // The reference watches its own line first (SUBSCRIBED), then says READY.
            if (!this._readySent) {
                // READY goes out even if the user's own address cannot be read now
                const me = await this._team.load().then(
                    (team) => team.me,
                    () => null
                );
                const uri = me?.extension && `${me.extension}@${me.domain}`;
                if (uri && !this.subscriptions[uri]) {
                    this._subscribed(uri, me.userId);
                }
            }
            this._readySent = true;
            this.connected = true;
            return this._send({
                name,
                message:
                    payload.message ||
                    _t("Connection with SIP server has been successfully established."),
            });
        }
        if (name === EVENT.LOGGED_OUT) {
            this._readySent = false;
            this.connected = false;
            this.subscriptions = {};
            this.calls = {};
        }
        // `code` (an extra key): what the message says, for integrations to compare
        const event = { name, message: payload.message || "" };
        if (payload.code) {
            event.code = payload.code;
        }
        this._send(event);
    }

    /** A colleague's line changed: their call event, if this connector watches them. */
    _colleagueEvent({ userId, event }) {
        if (!event || !CALL_EVENTS.includes(event.name)) {
            return;
        }
        if (!Object.values(this.subscriptions).includes(userId)) {
            return;
        }
        if (userId === this._team.state.me.userId) {
            return; // the user's own calls come as their own events
        }
        const call = referenceCall(event.call);
        this._track(call, event.name);
        this._send({ name: event.name, call });
    }

    _track(call, name) {
        if (FINAL_EVENTS.includes(name)) {
            delete this.calls[call.id];
        } else {
            this.calls[call.id] = call;
        }
    }
}

window.Cti = Object.assign(window.Cti || {}, {
    EVENT,
    DIRECTION,
    TYPE,
    CALL_STATUS,
    CALL_CODE,
    log,
    Connector,
});

registry.category("services").add("cti_connector", {
    dependencies: ["cti", "cti_team"],
    start(env, { cti, cti_team }) {
        resolveServices({ cti, team: cti_team });
    },
});
