"""Read an Odoo test-run log: print "passed failed skipped" and report unwanted log lines.

A WARNING/ERROR/CRITICAL line from this module, from view validation or from asset bundling
counts as one failure: the install must be clean, not merely pass its tests.
"""

import re
import sys

LINE = re.compile(r"^\S+ \S+ \d+ (?P<level>[A-Z]+) (?P<db>\S+) (?P<logger>\S+): (?P<msg>.*)$")
STRICT_LOGGERS = (
    "odoo.addons.cti_connector",
    "odoo.addons.base.models.ir_ui_view",
    "odoo.addons.base.models.assetsbundle",
    "odoo.addons.base.models.ir_asset",
    "odoo.addons.base.models.ir_qweb",
    "odoo.tools.convert",
)
FINAL = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")


def main(path):
    total = failures = None
    bad = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for raw in log:
            match = LINE.match(raw.rstrip("\n"))
            if not match:
                continue
            final = FINAL.search(match["msg"])
            if final:
                failures = int(final[1]) + int(final[2])
                total = int(final[3])
            if match["level"] in ("WARNING", "ERROR", "CRITICAL") and (
                match["logger"].startswith(STRICT_LOGGERS) or "cti_connector" in match["msg"]
            ):
                bad.append(raw.rstrip())
    for line in bad:
        print("unwanted log line:", line, file=sys.stderr)
    if total is None:
        print("no test summary in the Odoo log", file=sys.stderr)
        print(0, 1, 0)
        return
    if total == 0:
        print("the Odoo run executed no test", file=sys.stderr)
    passed = total - failures
    print(passed, failures + len(bad) + (total == 0), 0)


if __name__ == "__main__":
    main(sys.argv[1])
