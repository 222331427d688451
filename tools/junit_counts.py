"""Print "passed failed skipped" from a pytest JUnit XML report written by this test run."""

import sys
import xml.etree.ElementTree as ET  # noqa: S405 - the file is pytest's own output of this run


def main(path):
    root = ET.parse(path).getroot()  # noqa: S314
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    tests = failures = errors = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0))
        errors += int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    failed = failures + errors
    print(tests - failed - skipped, failed, skipped)


if __name__ == "__main__":
    main(sys.argv[1])
