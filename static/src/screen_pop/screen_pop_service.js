/** @odoo-module **/

import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { session } from "@web/session";
import { FINAL_EVENTS } from "../core/vocabulary";
import { canClaim, claimOnce } from "./call_claim";
import { ScreenPopChooser } from "./screen_pop_chooser";

/**
 * How long a tab waits before claiming a ringing call, so that the tab the user is
 * looking at gets it: the focused tab claims at once, a visible one (another window
 * side by side) a little later, a background tab last. Background timers run at most
 * once a second, so the last one is still in time for a ringing phone.
 */
const CLAIM_DELAY_MS = { focused: 0, visible: 150, hidden: 600 };

/**
 * The screen pop: when a call rings for the user, show who it is.
 *
 * Built on the `cti` service's bus (no second subscription to the bus notifications).
 * Every tab of the user receives the RINGING event; exactly one acts on it (see
 * `call_claim.js`), and only at the first RINGING of an inbound call, never at one the bus
 * replays to a tab opened after it (see the `cti` service). What it does
 * follows the user's preference (`cti_screen_pop` in the session info):
 *
 * - `open`: one match opens its form (a partner before a lead), several open a chooser,
 *   none a sticky notification offering to create the contact with the number filled in;
 * - `notify`: a notification only, with a button to open the match (or to choose among
 *   several, or to create the contact);
 * - `off`: nothing.
 */
export const ctiScreenPopService = {
    dependencies: ["cti", "cti_numbers", "action", "notification", "dialog", "multi_tab"],

    start(env, { cti, cti_numbers: numbers, action, notification, dialog, multi_tab: multiTab }) {
        const handledCalls = new Set();
        const closeOnCallEnd = new Map(); // call id -> close function of its notification

        function mode() {
            return session.cti_screen_pop || "off";
        }

        function claimDelay() {
            if (document.visibilityState !== "visible") {
                return CLAIM_DELAY_MS.hidden;
            }
            return document.hasFocus() ? CLAIM_DELAY_MS.focused : CLAIM_DELAY_MS.visible;
        }

        async function isForThisTab(callId) {
            if (canClaim()) {
                try {
                    return await claimOnce(`${session.db}:${user.userId}:${callId}`);
                } catch {
                    // No usable IndexedDB (e.g. a locked-down private window): every tab
                    // of this browser lands here alike, and the bus's main tab acts.
                }
            }
            return multiTab.isOnMainTab();
        }

        /** The records to offer for a call: `[]`, one to open, or several to choose. */
        function recordsOf(call) {
            const matches = (Array.isArray(call.matches) ? call.matches : []).filter(
                (match) => match && match.id && match.model
            );
            if (!matches.length) {
                if (call.partnerId) {
                    return [{ model: "res.partner", id: call.partnerId, name: call.partnerName }];
                }
                if (call.leadId) {
                    return [{ model: "crm.lead", id: call.leadId, name: call.leadName }];
                }
                return [];
            }
            // A partner is who calls; their leads carry the same number and need no choice.
            const partners = matches.filter((match) => match.model === "res.partner");
            const candidates = partners.length ? partners : matches;
            return candidates.length === 1 ? candidates : matches;
        }

        /** Who calls, in words; `number` is the caller's number as people write it. */
        function callerLabel(call, number) {
            return (
                call.partnerName ||
                cti.colleague(call.source)?.name ||
                (call.sourceName !== call.source && call.sourceName) ||
                number ||
                _t("Unknown caller")
            );
        }

        /** A colleague calls: who it is, and nothing to create. */
        function notifyColleague(call, colleague) {
            const close = notification.add(call.source, {
                title: _t("Incoming call from %s", colleague.name),
                type: "info",
                sticky: true,
                className: "o_cti_screen_pop_notification o_cti_screen_pop_colleague",
                onClose: () => closeOnCallEnd.delete(call.id),
            });
            closeOnCallEnd.set(call.id, close);
        }

        function openRecord(record) {
            return action.doAction({
                type: "ir.actions.act_window",
                res_model: record.model,
                res_id: record.id,
                views: [[false, "form"]],
                target: "current",
            });
        }

        function createContact(call) {
            const context = { default_phone: call.source || false };
            if (call.sourceName && call.sourceName !== call.source) {
                context.default_name = call.sourceName;
            }
            return action.doAction({
                type: "ir.actions.act_window",
                res_model: "res.partner",
                views: [[false, "form"]],
                target: "current",
                context,
            });
        }

        function choose(call, records, number) {
            dialog.add(ScreenPopChooser, {
                caller: callerLabel(call, number),
                number,
                records: records.map(({ model, id, name }) => ({
                    model,
                    id,
                    name: name || `${model} ${id}`,
                })),
                onChoose: openRecord,
            });
        }

        function offerCreation(call, number) {
            const close = notification.add(
                call.source
                    ? _t("%s is not in your contacts.", number)
                    : _t("The caller withheld their number."),
                {
                    title: _t("Incoming call from %s", callerLabel(call, number)),
                    type: "info",
                    sticky: true,
                    className: "o_cti_screen_pop_notification",
                    buttons: call.source
                        ? [
                              {
                                  name: _t("Create contact"),
                                  icon: "fa-user-plus",
                                  primary: true,
                                  onClick: () => {
                                      close();
                                      createContact(call);
                                  },
                              },
                          ]
                        : [],
                }
            );
        }

        function notifyMatch(call, records, number) {
            const several = records.length > 1;
            const close = notification.add(
                several ? _t("Several records have this number.") : records[0].name || "",
                {
                    title: _t("Incoming call from %s", callerLabel(call, number)),
                    type: "info",
                    sticky: true,
                    className: "o_cti_screen_pop_notification",
                    buttons: [
                        {
                            name: several ? _t("Choose") : _t("Open"),
                            icon: several ? "fa-list" : "fa-address-card-o",
                            primary: true,
                            onClick: () => {
                                close();
                                if (several) {
                                    choose(call, records, number);
                                } else {
                                    openRecord(records[0]);
                                }
                            },
                        },
                    ],
                    onClose: () => closeOnCallEnd.delete(call.id),
                }
            );
            // Once the call is over, its "who is calling" is stale; the call log keeps it.
            closeOnCallEnd.set(call.id, close);
        }

        async function onRinging(call) {
            if (!call || call.direction !== "INBOUND" || handledCalls.has(call.id)) {
                return;
            }
            handledCalls.add(call.id);
            const popMode = mode();
            if (popMode === "off") {
                return;
            }
            await new Promise((resolve) => browser.setTimeout(resolve, claimDelay()));
            // A tab that was asleep can receive a RINGING and its HANGUP together: no pop
            // for a call that is already over.
            if (!cti.state.calls[call.id] || !(await isForThisTab(call.id))) {
                return;
            }
            const records = recordsOf(call);
            if (records.length === 1 && popMode !== "notify") {
                await openRecord(records[0]);
                return;
            }
            const colleague = cti.colleague(call.source);
            const number = await numbers.format(call.source);
            if (!records.length && colleague) {
                notifyColleague(call, colleague);
            } else if (!records.length) {
                offerCreation(call, number);
            } else if (popMode === "notify") {
                notifyMatch(call, records, number);
            } else {
                choose(call, records, number);
            }
        }

        cti.bus.addEventListener("RINGING", ({ detail }) => {
            if (!detail.replayed) {
                onRinging(detail.call);
            }
        });
        for (const name of FINAL_EVENTS) {
            cti.bus.addEventListener(name, ({ detail }) => {
                const close = closeOnCallEnd.get(detail.call?.id);
                if (close) {
                    close();
                }
            });
        }
        return {};
    },
};

registry.category("services").add("cti_screen_pop", ctiScreenPopService);
