"""Probe verification: test a sample of predicted flows against the real dataplane (`netaudit verify`).

    plan.py     Analysis -> the probes worth running (pure)
    podspec.py  plan -> probe Pod manifests and the shell script they run (pure)
    run.py      the only module that talks to the cluster: create, wait, read logs, delete, signals
    collect.py  the probe pods' JSON-lines logs -> observations (tolerant of garbage)
    compare.py  predictions + observations -> VerificationReport (pure)
"""
