"""A short run of ``bench/fuzz_long.py`` (the long one tries 1,000,000+ inputs): 20,000
mutated SIP and dialog-info inputs through parsing and the tracker, no crash, no hang."""

from bench import fuzz_long


def test_twenty_thousand_mutated_inputs():
    target = fuzz_long.run_mutator(20_000, seed=8, hang_ms=100, progress=False)
    assert target.inputs == 20_000
    assert [trace for _data, trace in target.crashes[:3]] == []
    assert target.hangs == []
    assert target.accepted_sip > 0 and target.accepted_xml > 0  # the seeds still parse
