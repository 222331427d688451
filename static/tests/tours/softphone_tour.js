/** @odoo-module **/

import { registry } from "@web/core/registry";
import { pause, signal } from "@cti_connector/../tests/tours/utils/steps";

/*
 * Tours of the softphone against the real service, Kamailio, baresip and SIPp, started by
 * tests/test_softphone_tour.py. SIP takes its time: steps wait on what the softphone shows,
 * with long timeouts. A step logging "cti_tour:<action>" asks the Python test to act for
 * the world outside the browser (start the CTI service, pick up the desk phone, take a
 * screenshot).
 */

const SIP_TIMEOUT = 30000;

function openSoftphone() {
    return [
        {
            content: "Open the softphone",
            trigger: ".o_menu_systray .o_cti_softphone_toggler",
            run: "click",
        },
        { content: "The softphone is open", trigger: ".o_cti_softphone" },
    ];
}

function login() {
    return [
        signal("start"),
        ...openSoftphone(),
        { content: "Log in", trigger: ".o_cti_softphone .o_cti_login", run: "click" },
        {
            content: "The session is ready",
            trigger: ".o_cti_softphone[data-status=ready] .o_cti_session_state:contains(Ready)",
            timeout: SIP_TIMEOUT,
        },
    ];
}

function dial(number) {
    return [
        { content: "Type the number", trigger: ".o_cti_dial_input", run: `edit ${number}` },
        { content: "Call", trigger: ".o_cti_dial_call", run: "click" },
    ];
}

function waitCall(status, extra = "") {
    return {
        content: `The call is ${status}`,
        trigger: `.o_cti_softphone .o_cti_call[data-status=${status}]${extra}`,
        timeout: SIP_TIMEOUT,
    };
}

/** Hold the connected call from the softphone, then resume it. */
function holdAndResume() {
    return [
        { content: "Hold", trigger: ".o_cti_call[data-status=CONNECTED] .o_cti_hold", run: "click" },
        waitCall("ON_HOLD", " .o_cti_resume"),
        { content: "Resume", trigger: ".o_cti_call .o_cti_resume", run: "click" },
        waitCall("CONNECTED", " .o_cti_hold"),
    ];
}

/** Open the transfer chooser of the connected call and pick Bob Colleague (1002). */
function chooseColleague() {
    return [
        {
            content: "Transfer",
            trigger: ".o_cti_call[data-status=CONNECTED] .o_cti_transfer",
            run: "click",
        },
        {
            content: "Look the colleague up",
            trigger: ".o_cti_transfer_form input",
            run: "edit Colleague",
        },
        {
            content: "Pick the colleague's number",
            trigger: ".o-autocomplete--dropdown-item:contains(Bob Colleague)",
            run: "click",
        },
        {
            content: "The field shows the colleague's number",
            trigger: ".o_cti_transfer_form input:value(1002)",
        },
    ];
}

registry.category("web_tour.tours").add("cti_connector_click_to_call", {
    steps: () => [
        {
            content: "An integration listens through Cti.Connector",
            trigger: "body",
            run: () => {
                window.ctiTourEvents = [];
                window.ctiTourConnector = new window.Cti.Connector({
                    onMessage: (event) => window.ctiTourEvents.push(event),
                });
            },
        },
        ...login(),
        {
            content: "Go to the partner's phone: its buttons show",
            trigger: ".o_form_view .o_field_widget[name=phone] input",
            run: "click",
        },
        {
            content: "Click the call button beside the partner's phone",
            trigger: ".o_form_view .o_field_widget[name=phone] .o_cti_call_button",
            run: "click",
        },
        waitCall("INITIAL", " .o_cti_call_status:contains(Your phone is ringing)"),
        signal("answer"),
        waitCall("RINGING", " .o_cti_call_name:contains(Far End GmbH)"),
        waitCall("CONNECTED", " .o_cti_call_number:contains(+49 89 555000)"),
        waitCall("CONNECTED", "[data-events='INITIAL ACCEPTED RINGING CONNECTED']"),
        {
            content: "The far end hangs up: the call moves to the last calls",
            trigger: ".o_cti_softphone .o_cti_history_item[data-status=HANGUP]:contains(Far End GmbH)",
            timeout: SIP_TIMEOUT,
        },
        {
            content: "No current call is left",
            trigger: ".o_cti_softphone:not(:has(.o_cti_call))",
        },
        {
            content: "The connector saw the reference events",
            trigger: "body",
            run: () => {
                const events = window.ctiTourEvents;
                const calls = events.filter((event) => event.call).map((event) => event.name);
                const expected = "INITIAL ACCEPTED RINGING CONNECTED HANGUP";
                if (calls.join(" ") !== expected || !events.some((e) => e.name === "READY")) {
                    throw new Error(`Cti.Connector events: ${JSON.stringify(events)}`);
                }
                if (!window.ctiTourConnector.isConnected()) {
                    throw new Error("Cti.Connector is not connected");
                }
                window.ctiTourConnector.destroy();
            },
        },
    ],
});

registry.category("web_tour.tours").add("cti_connector_hold_and_hang_up", {
    steps: () => [
        ...login(),
        ...dial("089 555000"),
        waitCall("CONNECTED", " .o_cti_call_name:contains(Far End GmbH)"),
        pause(1500), // a running timer in the picture
        signal("screenshot"),
        pause(1000),
        ...holdAndResume(),
        { content: "Hang up", trigger: ".o_cti_call .o_cti_hangup", run: "click" },
        {
            content: "The call ended from Odoo",
            trigger: ".o_cti_softphone .o_cti_history_item[data-status=HANGUP][data-cause=terminated]",
            timeout: SIP_TIMEOUT,
        },
    ],
});

registry.category("web_tour.tours").add("cti_connector_transfer", {
    steps: () => [
        ...login(),
        ...dial("+49 89 555000"),
        waitCall("CONNECTED"),
        ...chooseColleague(),
        {
            content: "Transfer to the chosen number",
            trigger: ".o_cti_transfer_confirm:enabled",
            run: "click",
        },
        {
            content: "The call left this user",
            trigger:
                ".o_cti_softphone .o_cti_history_item[data-status=HANGUP][data-cause=transferred]",
            timeout: SIP_TIMEOUT,
        },
    ],
});

registry.category("web_tour.tours").add("cti_connector_invalid_number", {
    steps: () => [
        ...login(),
        ...dial("12ab34"),
        {
            content: "The error says why",
            trigger: ".o_cti_softphone .o_cti_message:contains(is not a phone number)",
        },
        {
            content: "No call was started",
            trigger: ".o_cti_softphone:not(:has(.o_cti_call))",
        },
        pause(2000),
        {
            content: "Still no call",
            trigger: ".o_cti_softphone:not(:has(.o_cti_call)):not(:has(.o_cti_history_item))",
        },
    ],
});

registry.category("web_tour.tours").add("cti_connector_read_only_number", {
    steps: () => [
        {
            content: "A number the user cannot edit has its call button too",
            trigger:
                ".o_form_view .o_field_widget[name=phone] a[href^='tel:'] + .o_cti_call_button",
        },
    ],
});

registry.category("web_tour.tours").add("cti_connector_no_account", {
    steps: () => [
        {
            content: "The phone keeps its tel: link",
            trigger: ".o_form_view .o_field_widget[name=phone] a[href^='tel:']",
        },
        pause(1000), // time for the CTI status to come back
        {
            content: "No call button and no softphone",
            trigger:
                "body:not(:has(.o_cti_call_button)):not(:has(.o_cti_softphone_toggler)) .o_form_view",
        },
    ],
});

function ensureSoftphoneOpen() {
    return {
        content: "The softphone is open (a screen pop may have moved the page)",
        trigger: ".o_menu_systray .o_cti_softphone_toggler",
        run: () => {
            if (!document.querySelector(".o_cti_softphone")) {
                document.querySelector(".o_menu_systray .o_cti_softphone_toggler").click();
            }
        },
    };
}

function askFirst() {
    return [
        ...chooseColleague(),
        { content: "Ask first", trigger: ".o_cti_transfer_ask:enabled", run: "click" },
        {
            content: "The colleague answers on a second line, which offers Complete",
            trigger: ".o_cti_softphone .o_cti_call[data-status=CONNECTED]:has(.o_cti_complete)",
            timeout: SIP_TIMEOUT,
        },
    ];
}

registry.category("web_tour.tours").add("cti_connector_ask_first", {
    steps: () => [
        ...login(),
        signal("ring"),
        ensureSoftphoneOpen(),
        waitCall("RINGING", "[data-direction=INBOUND] .o_cti_call_name:contains(Far End GmbH)"),
        signal("answer"),
        waitCall("CONNECTED", "[data-direction=INBOUND] .o_cti_transfer"),
        // Ask first, then go back to the caller: the second line ends, the call goes on.
        ...askFirst(),
        signal("screenshot"),
        {
            content: "Hang the second line up: back to the caller",
            trigger: ".o_cti_call:has(.o_cti_complete) .o_cti_hangup",
            run: "click",
        },
        {
            content: "The second line ended as cancelled",
            trigger: ".o_cti_softphone .o_cti_history_item[data-status=HANGUP][data-cause=cancelled]",
            timeout: SIP_TIMEOUT,
        },
        waitCall("CONNECTED", "[data-direction=INBOUND] .o_cti_transfer"),
        // Ask first again, and this time hand the caller over.
        ...askFirst(),
        {
            content: "An integration's complete() of the held caller's call (not a second line) is an INFO",
            trigger: ".o_cti_call[data-direction=INBOUND]",
            run: async () => {
                const infos = [];
                const connector = new window.Cti.Connector({
                    onMessage: (event) => event.name === "INFO" && infos.push(event),
                });
                const callId = document.querySelector(".o_cti_call[data-direction=INBOUND]")
                    .dataset.callId;
                await connector.complete(callId);
                await connector._delivery; // events reach onMessage one after the other
                connector.destroy();
                if (infos.length !== 1) {
                    throw new Error(`complete() of the caller's call: ${JSON.stringify(infos)}`);
                }
            },
        },
        { content: "Complete the transfer", trigger: ".o_cti_call .o_cti_complete", run: "click" },
        {
            content: "The caller went to the colleague",
            trigger:
                ".o_cti_softphone .o_cti_history_item[data-status=HANGUP][data-cause=transferred]",
            timeout: SIP_TIMEOUT,
        },
        {
            content: "No current call is left",
            trigger: ".o_cti_softphone:not(:has(.o_cti_call))",
            timeout: SIP_TIMEOUT,
        },
    ],
});

registry.category("web_tour.tours").add("cti_connector_answer_from_odoo", {
    steps: () => [
        ...login(),
        {
            content: "Close the panel: the call will show in the incoming call card",
            trigger: ".o_menu_systray .o_cti_softphone_toggler",
            run: "click",
        },
        { content: "The panel is closed", trigger: "body:not(:has(.o_cti_softphone))" },
        signal("ring"),
        {
            content: "The card offers Answer: this phone takes the talk key",
            trigger: ".o_cti_incoming_call_card[data-status=RINGING] .o_cti_incoming_call_answer",
            timeout: SIP_TIMEOUT,
            run: "click",
        },
        {
            content: "The phone answered",
            trigger: ".o_cti_incoming_call_card[data-status=CONNECTED]",
            timeout: SIP_TIMEOUT,
        },
        signal("screenshot"),
        ensureSoftphoneOpen(),
        ...holdAndResume(),
        {
            content: "The caller hangs up",
            trigger: ".o_cti_softphone .o_cti_history_item[data-status=HANGUP]:contains(Far End GmbH)",
            timeout: SIP_TIMEOUT,
        },
    ],
});
