"""SP4N-LAPOR!, the national complaint system (Sistem Pengelolaan Pengaduan Pelayanan Publik Nasional), as an
upstream: everything specific to it is here, and nothing else in the code knows it.

LAPOR! publishes its integration API only to registered developers, so the wire format is Open311 GeoReport
v2 (what a regional connector, or a province's own instance, speaks); what LAPOR! needs beyond it is mapped
here: its categories (from `service_map`, our service code to its category code), the institution (instansi)
that must follow the complaint up (from `institution_map`, our agency to its institution code, sent as
`attribute[instansi]`), and our tracking number (`attribute[ref]`) so its officers can quote it. Its own
targets are counted in working days: forwarded within 3, followed up within 5, closed after 10 (the site's
services say so with `feedback_working_days`, command_center/worktime.py counts them).
"""

from __future__ import annotations

from processors.upstream.config import UpstreamConfig


def fields(upstream: UpstreamConfig, service_code: str, agency: str, token: str) -> dict[str, str]:
    """The form fields LAPOR! takes beyond GeoReport v2's own."""
    out = {"service_code": upstream.service_map.get(service_code, service_code)}
    if agency in upstream.institution_map:
        out["attribute[instansi]"] = upstream.institution_map[agency]
    if token:
        out["attribute[ref]"] = token
    return out
