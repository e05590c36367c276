"""Reading probe pods' logs: every well-formed record counts, anything else is skipped and counted."""

from __future__ import annotations

from auditor.probe.collect import Observation, observations_by_id, parse_log

GOOD = ('{"id":"p0","dst":"db/db-0","ip":"10.0.0.9","protocol":"TCP","port":5432,"result":"connected","tries":1,'
        '"attempts":["connected"],"detail":""}')


def test_a_complete_log():
    log = parse_log('{"netaudit":"probe-start","probes":1}\n' + GOOD + '\n{"netaudit":"probe-done","probes":1}\n',
                    "netaudit-probe-x-0")
    assert log.started and log.done and log.expected == 1 and log.garbage == 0
    assert log.observations == [Observation("p0", "db/db-0", "10.0.0.9", "TCP", 5432, "connected", 1,
                                            ("connected",), "", "netaudit-probe-x-0")]


def test_garbage_lines_are_counted_and_skipped():
    text = "\n".join([
        "Welcome to the probe image!",  # a banner
        '{"netaudit":"probe-start","probes":9}',
        GOOD,
        "2024-05-01T10:00:00.000Z stdout F " + GOOD.replace("p0", "p1"),  # a runtime prefix: the record still counts
        '{"id":"p2","port":80,"result":"connected"',  # cut in the middle (the pod was killed while writing)
        '{"id":"p3","port":80,"result":"maybe","tries":1}',  # not a result we know
        '{"id":"p4","port":"80","result":"timeout","tries":1}',  # port not a number
        '{"id":"p5","port":true,"result":"timeout","tries":1}',  # a boolean is not a port
        '{"id":"p6","port":80,"result":"timeout","tries":0}',  # tries must be at least 1
        '{"port":80,"result":"timeout","tries":1}',  # no id: cannot be matched to a probe
        '["p7", 80]',  # JSON, but not an object
        "",
        "   ",
        '{"id":"p8","port":70000,"result":"timeout","tries":1}',  # not a port
    ])
    log = parse_log(text, "pod")
    assert [o.probe_id for o in log.observations] == ["p0", "p1"]
    assert log.garbage == 9  # the banner, p2 to p6, the record without an id, the array, p8; blank lines are not
    assert log.started and not log.done


def test_attempts_default_to_the_result_when_missing_or_bad():
    log = parse_log('{"id":"p0","port":80,"result":"timeout","tries":3}\n'
                    '{"id":"p1","port":80,"result":"refused","tries":2,"attempts":["timeout","bogus"]}\n')
    assert [o.attempts for o in log.observations] == [("timeout",), ("refused",)]
    assert log.observations[0].tries == 3


def test_an_empty_log():
    log = parse_log("", "pod")
    assert log.observations == [] and log.garbage == 0 and not log.started and not log.done


def test_observations_by_id_warns_about_duplicates_garbage_and_cut_logs():
    complete = parse_log('{"netaudit":"probe-start","probes":1}\n' + GOOD + '\n{"netaudit":"probe-done"}\n', "a")
    cut = parse_log('{"netaudit":"probe-start","probes":2}\nnoise\n'
                    + GOOD.replace("connected", "timeout") + "\n", "b")
    silent = parse_log("", "c")
    found, warnings = observations_by_id([complete, cut, silent])
    assert list(found) == ["p0"] and found["p0"].result == "connected" and found["p0"].pod == "a"
    assert warnings == [
        "b: probe p0 reported twice; the first report counts",
        "b: 1 log line(s) were not probe results and were skipped",
        "b: its log ends before the probes finished (deadline reached or pod killed)",
        "c: its log shows no probe run (the container did not start the script)",
    ]
