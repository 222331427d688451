/** @odoo-module **/

import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/**
 * A number of seconds as people read a call's length: 0:06, 4:28, 1:02:03.
 *
 * @param {number|false} value seconds (an average may have decimals)
 * @returns {string}
 */
export function formatDuration(value) {
    if (value === false || value === null || value === undefined) {
        return "";
    }
    const total = Math.round(Math.abs(value));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = String(total % 60).padStart(2, "0");
    const sign = value < 0 ? "-" : "";
    return hours
        ? `${sign}${hours}:${String(minutes).padStart(2, "0")}:${seconds}`
        : `${sign}${minutes}:${seconds}`;
}

/** Read-only: call durations are measured, never typed. */
export class DurationField extends Component {
    static template = "cti_connector.DurationField";
    static props = { ...standardFieldProps };

    get formattedValue() {
        return formatDuration(this.props.record.data[this.props.name]);
    }
}

registry.category("formatters").add("cti_duration", formatDuration);
registry.category("fields").add("cti_duration", {
    component: DurationField,
    displayName: _t("Duration (seconds)"),
    supportedTypes: ["integer", "float"],
});
