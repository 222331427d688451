/*
 * A CTI client written against VoIPstudio's CTI Connector API exactly as its example
 * "Cti.Platform" (examples/js/cti-platform.js and scripts.js of VoIPstudio/cti-connector)
 * uses it: Cti.log, Cti.EVENT, Cti.DIRECTION, login(user, password) and login(apiKey),
 * answer() without an argument, terminate(callId), subscribe("user:ID") and
 * getSubscriptionURIs(). A plain script, no Odoo module: the reference client tour adds it
 * to a backend page with a <script> tag, as an integrator would.
 *
 * Written for the tests, without jQuery: what the example shows in its page is shown in
 * #cti-platform, and what it would alert() is listed in #alerts.
 */
var connector;

(function () {
    function el(id) {
        return document.getElementById(id);
    }

    function show(id, visible) {
        el(id).style.display = visible ? "" : "none";
    }

    function status(text, label) {
        el("status").textContent = text;
        el("status").className = "label " + label;
    }

    function alertMessage(text) {
        var item = document.createElement("li");
        item.textContent = text;
        el("alerts").appendChild(item);
    }

    var CALL_KEYS = ["id", "cid", "cause", "direction", "destination", "destinationName",
        "source", "sourceName", "status"];

    Cti.Platform = function () {
        Cti.log("Loading connector");
        status("Loading connector...", "label-warning");
        connector = new Cti.Connector({ onMessage: this.onMessage });
    };

    Cti.Platform.prototype = {
        username: null,
        run: function () {
            if (!connector.isConnected()) {
                document.title = "Ready";
                status("Platform ready: Not connected.", "label-info");
            }
        },
        login: function () {
            var username = arguments[0];
            status("Authentication " + username + "...", "label-warning");
            this.username = username;
            connector.login.apply(connector, arguments);
        },
        logout: function () {
            this.username = null;
            connector.logout();
        },
        answer: function () {
            document.title = "Answering";
            connector.answer();
        },
        call: function (destination) {
            document.title = "Connecting";
            connector.call(destination);
        },
        terminate: function (callId) {
            document.title = "Terminating";
            status("Terminating...", "label-warning");
            connector.terminate(callId);
        },
        subscribe: function () {
            connector.subscribe.apply(connector, arguments);
        },
        onMessage: function (event) {
            Cti.log(event);
            var events = el("events");
            events.textContent = (events.textContent + " " + event.name).trim();
            if (event.call) {
                for (var i = 0; i < CALL_KEYS.length; i++) {
                    if (!(CALL_KEYS[i] in event.call)) {
                        alertMessage("call object without " + CALL_KEYS[i]);
                    }
                }
            }

            if (event.name === Cti.EVENT.READY) {
                document.title = "Available";
                status("Available", "label-success");
                show("login-form", false);
                show("disconnect", true);
                show("outboundcall-form", true);
                show("subscribe_footer", true);
            }
            if (event.name === Cti.EVENT.INITIAL) {
                status("Softphone ringing...", "label-warning");
            }
            if (event.name === Cti.EVENT.ACCEPTED) {
                status("Softphone accepted...", "label-warning");
            }
            if (event.name === Cti.EVENT.RINGING) {
                if (event.call.direction === Cti.DIRECTION.IN) {
                    document.title = "Incoming";
                    show("call-answer", true);
                    status("Incoming call from " + event.call.source, "label-warning");
                } else {
                    status("Connecting to " + event.call.destination + "...", "label-warning");
                }
            }
            if (event.name === Cti.EVENT.CONNECTED) {
                document.title = "Connected";
                if (event.call.direction === Cti.DIRECTION.IN) {
                    status("Connected (" + event.call.sourceName + ")", "label-success");
                } else {
                    status("Connected (" + event.call.destination + ")", "label-success");
                }
                show("toolbar-form", true);
                show("outboundcall-form", false);
                show("call-answer", false);
                el("call-terminate").setAttribute("call-id", event.call.id);
            }
            if (event.name === Cti.EVENT.ON_HOLD) {
                status("On hold", "label-info");
            }
            if ([Cti.EVENT.HANGUP, Cti.EVENT.CANCEL].indexOf(event.name) !== -1) {
                document.title = "Available";
                status("Available", "label-success");
                show("toolbar-form", false);
                show("outboundcall-form", true);
                show("call-answer", false);
                el("call-terminate").removeAttribute("call-id");
                if (event.name === Cti.EVENT.CANCEL && event.call.cause) {
                    alertMessage(event.call.cause);
                }
            }
            if ([Cti.EVENT.ERROR, Cti.EVENT.INFO].indexOf(event.name) !== -1) {
                document.title = "Error";
                status("Error", "label-danger");
                alertMessage(event.name + ": " + event.message);
            }
            if (event.name === Cti.EVENT.LOGGED_OUT) {
                document.title = "Ready";
                status("Platform ready: Not connected.", "label-info");
                show("login-form", true);
                show("disconnect", false);
                show("outboundcall-form", false);
                show("subscribe_footer", false);
            }
            if (event.name === Cti.EVENT.SUBSCRIBED) {
                el("subscriptions-list").textContent = connector.getSubscriptionURIs().join(" | ");
            }
        },
    };

    var platform = new Cti.Platform();
    platform.run();

    el("connect-with-username-password").onclick = function () {
        platform.login(el("username").value, el("password").value);
    };
    el("connect-with-api-key").onclick = function () {
        platform.login(el("api_key").value);
    };
    el("disconnect").onclick = function () {
        platform.logout();
    };
    el("call-outbound").onclick = function () {
        platform.call(el("phone_number").value);
    };
    el("call-answer").onclick = function () {
        platform.answer();
    };
    el("call-terminate").onclick = function () {
        platform.terminate(this.getAttribute("call-id"));
    };
    el("subscribe-button").onclick = function () {
        platform.subscribe(el("subscribe-node").value);
        el("subscribe-node").value = "";
    };
})();
