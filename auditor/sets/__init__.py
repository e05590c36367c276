"""Value types every layer computes with: integer interval sets, port sets per protocol, IP address sets.

They sit at the bottom of the package: `policy/`, `engine/`, `findings/` and `report/` import them, and they import
nothing of netaudit's. Like Python's `ipaddress`, they are immutable, hashable values in canonical form with exact set
operations (`|`, `&`, `-`, `<=`), so equal sets compare equal and can key caches.
"""
