/** @odoo-module **/

import { registry } from "@web/core/registry";
import { signal } from "@cti_connector/../tests/tours/utils/steps";

/*
 * The reference API in the backend (tests/test_reference_client.py): a client written for
 * VoIPstudio's CTI Connector (static/tests/reference_client/cti_platform.js, as the
 * reference's own example uses it) is added to a backend page and driven through its own
 * page elements; and the softphone's Team tab watches a colleague's line.
 */

const SIP_TIMEOUT = 30000;
const PLATFORM_HTML = `
<div id="cti-platform" class="bg-white border p-2" style="position: fixed; left: 8px; bottom: 8px; z-index: 2000; width: 560px;">
    <p>Status: <span id="status" class="label label-default">Not connected</span>
        <button id="call-answer" type="button" style="display: none;">Answer</button>
        <button id="disconnect" type="button" style="display: none;">Disconnect</button></p>
    <div id="login-form">
        <input id="username" type="text" placeholder="E-mail address"/>
        <input id="password" type="password" placeholder="Password"/>
        <input id="connect-with-username-password" type="button" value="Connect"/>
        <input id="api_key" type="text" placeholder="API KEY"/>
        <input id="connect-with-api-key" type="button" value="Connect"/>
    </div>
    <form id="outboundcall-form" style="display: none;">
        <input id="phone_number" type="text" placeholder="Phone number"/>
        <button id="call-outbound" type="button">Outbound call</button>
    </form>
    <form id="toolbar-form" style="display: none;">
        <button id="call-terminate" type="button">Terminate</button>
    </form>
    <div id="subscribe_footer" style="display: none;">
        Call Event Subscriptions: <span id="subscriptions-list">None</span>
        <input id="subscribe-node" type="text" placeholder="Node:ID"/>
        <input id="subscribe-button" type="button" value="Subscribe to Call Events"/>
    </div>
    <div>Events: <span id="events"></span></div>
    <ul id="alerts"></ul>
</div>`;

function check(content, test) {
    return {
        content,
        trigger: "body",
        run: () => {
            const problem = test();
            if (problem) {
                throw new Error(`${content}: ${problem}`);
            }
        },
    };
}

function status(text, timeout = SIP_TIMEOUT) {
    return { content: `Status: ${text}`, trigger: `#status:contains(${text})`, timeout };
}

function click(selector) {
    return { content: `Click ${selector}`, trigger: selector, run: "click" };
}

function edit(selector, text) {
    return { content: `Type ${text}`, trigger: selector, run: `edit ${text}` };
}

function alerts() {
    return [...document.querySelectorAll("#alerts li")].map((li) => li.textContent);
}

registry.category("web_tour.tours").add("cti_connector_reference_client", {
    steps: () => [
        {
            content: "Add the reference-API client to the backend page, as an integrator would",
            trigger: ".o_main_navbar",
            run: () =>
                new Promise((resolve, reject) => {
                    document.body.insertAdjacentHTML("beforeend", PLATFORM_HTML);
                    const script = document.createElement("script");
                    script.src = "/cti_connector/static/tests/reference_client/cti_platform.js";
                    script.onload = resolve;
                    script.onerror = () => reject(new Error("the client did not load"));
                    document.head.appendChild(script);
                }),
        },
        status("Platform ready: Not connected.", 10000),
        check("The reference constants", () => {
            const { EVENT, DIRECTION, CALL_STATUS, CALL_CODE, TYPE } = window.Cti;
            const facts = [
                [EVENT.HANGUP, "HANGUP"],
                [EVENT.TWO_FACTOR_AUTH, "TWO_FACTOR_AUTH"],
                [EVENT.SUBSCRIBED, "SUBSCRIBED"],
                [DIRECTION.IN, "INBOUND"],
                [DIRECTION.OUT, "OUTBOUND"],
                [CALL_STATUS.HANGUP, "HANGUP"],
                [CALL_STATUS.ON_HOLD, "ON_HOLD"],
                [CALL_CODE.NO_ANSWER, 487],
                [CALL_CODE.UNREACHABLE, 408],
                [CALL_CODE.ACCEPTED, 200],
                [CALL_CODE.REJECTED.test("603"), true],
                [CALL_CODE.RINGING.test("180"), true],
                [TYPE.CHAT, "chat"],
            ];
            const wrong = facts.filter(([got, want]) => got !== want);
            return wrong.length && JSON.stringify(wrong);
        }),
        signal("start"),
        // login(user, password): the credentials are the server's, these are ignored
        edit("#username", "alice@example.com"),
        edit("#password", "not-a-sip-password"),
        click("#connect-with-username-password"),
        status("Available"),
        {
            content: "The client watches its own line, as the reference does",
            trigger: "#subscriptions-list:contains(1001@)",
        },
        click("#disconnect"),
        status("Platform ready: Not connected."),
        // login(apiKey)
        edit("#api_key", "1001:an-api-key"),
        click("#connect-with-api-key"),
        status("Available"),
        // subscribe
        edit("#subscribe-node", "user:x"),
        click("#subscribe-button"),
        { content: "A bad node is an ERROR", trigger: "#alerts li:contains(Invalid node_id format.)" },
        edit("#subscribe-node", "user:1002"),
        click("#subscribe-button"),
        { content: "Subscribed to a colleague", trigger: "#subscriptions-list:contains(1002@)" },
        // click-to-call
        edit("#phone_number", "089 555000"),
        click("#call-outbound"),
        status("Softphone ringing..."),
        signal("answer"),
        status("Connected (+4989555000)"),
        click("#call-terminate"),
        status("Available"),
        // an inbound call, answered with answer() and ended by the caller
        signal("ring"),
        status("Incoming call from +4930123456"),
        click("#call-answer"),
        {
            content: "answer() found the ringing call: the server says to pick the phone up",
            trigger: "#alerts li:contains(INFO: Your phone cannot be answered from Odoo)",
            timeout: SIP_TIMEOUT,
        },
        signal("answer"),
        status("Connected (Erika Mustermann)"),
        signal("screenshot"),
        status("Available"),
        check("Every event the client got, in order", () => {
            const events = document.querySelector("#events").textContent;
            const expected = [
                "LOGGED_IN SUBSCRIBED READY LOGGED_OUT LOGGED_IN SUBSCRIBED READY ERROR SUBSCRIBED",
                "INITIAL ACCEPTED RINGING CONNECTED HANGUP",
                "RINGING INFO CONNECTED HANGUP",
            ].join(" ");
            return events !== expected && `got "${events}", alerts ${JSON.stringify(alerts())}`;
        }),
        check("Nothing secret in the browser's storage", () => {
            const stored = JSON.stringify({ ...window.localStorage });
            return /l7_connector|not-a-sip-password|an-api-key|lab-secret/.test(stored) && stored;
        }),
    ],
});

registry.category("web_tour.tours").add("cti_connector_team_tab", {
    steps: () => [
        {
            content: "An integration watches the colleague through Cti.Connector",
            trigger: "body",
            run: () => {
                window.ctiTeamEvents = [];
                window.ctiTeamConnector = new window.Cti.Connector({
                    onMessage: (event) => window.ctiTeamEvents.push(event),
                });
            },
        },
        signal("start"),
        {
            content: "Open the softphone",
            trigger: ".o_menu_systray .o_cti_softphone_toggler",
            run: "click",
        },
        { content: "Log in", trigger: ".o_cti_softphone .o_cti_login", run: "click" },
        {
            content: "The session is ready",
            trigger: ".o_cti_softphone[data-status=ready]",
            timeout: SIP_TIMEOUT,
        },
        { content: "Open the Team tab", trigger: ".o_cti_tab_team", run: "click" },
        {
            content: "The colleague's line is free",
            trigger: ".o_cti_team_member[data-state=free]:has(.o_cti_team_name:contains(cti_tour_bob))",
            timeout: SIP_TIMEOUT,
        },
        {
            content: "Subscribe to the colleague",
            trigger: "body",
            run: () => window.ctiTeamConnector.subscribe("user:1002"),
        },
        check("SUBSCRIBED", () => {
            const subscribed = window.ctiTeamEvents.find((e) => e.name === "SUBSCRIBED" && e.uri.startsWith("1002@"));
            return !subscribed && JSON.stringify(window.ctiTeamEvents);
        }),
        {
            content: "Note when the colleague's row changes",
            trigger: "body",
            run: () => {
                // state -> when the row last turned to it
                window.ctiTeamSeen = {};
                let last = null;
                window.ctiTeamWatch = setInterval(() => {
                    const row = [...document.querySelectorAll(".o_cti_team_member")].find(
                        (r) => r.querySelector(".o_cti_team_name")?.textContent.startsWith("cti_tour_bob")
                    );
                    const state = row?.dataset.state;
                    if (state && state !== last) {
                        window.ctiTeamSeen[state] = Date.now();
                        last = state;
                    }
                }, 10);
            },
        },
        signal("colleague_call"),
        {
            content: "The colleague is on a call",
            trigger: ".o_cti_team_member[data-state=on_call]:has(.o_cti_team_name:contains(cti_tour_bob)) .o_cti_team_state:contains(On a call)",
            timeout: 15000,
        },
        signal("screenshot"),
        {
            content: "The colleague is free again",
            trigger: ".o_cti_team_member[data-state=free]:has(.o_cti_team_name:contains(cti_tour_bob))",
            timeout: SIP_TIMEOUT,
        },
        check("The subscribed connector got the colleague's call, read-only", () => {
            const calls = window.ctiTeamEvents.filter((e) => e.call);
            const names = calls.map((e) => e.name).join(" ");
            if (!names.endsWith("CONNECTED HANGUP") || calls[0].call.direction !== "INBOUND") {
                return JSON.stringify(window.ctiTeamEvents);
            }
            if (calls[0].call.source !== "+4930123456" || "partnerName" in calls[0].call) {
                return JSON.stringify(calls[0].call);
            }
        }),
        {
            content: "Report when the rows changed",
            trigger: "body",
            run: () => {
                clearInterval(window.ctiTeamWatch);
                console.log(`cti_tour:seen:${JSON.stringify(window.ctiTeamSeen)}`);
            },
        },
    ],
});
