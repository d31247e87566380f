"""Small estates for tests and benchmarks: enough configuration to exercise one feature end to end."""

from __future__ import annotations


def complaint_estate(**complaints: object) -> dict:  # type: ignore[type-arg]
    """A small regency for complaint tests: two districts, three agencies with heads, four services."""
    from command_center.api.auth import demo_api_keys, demo_tokens, hash_token

    tokens = [t.model_dump() for t in demo_tokens()]
    tokens.append({"name": "desk-dlh", "role": "operator", "sha256": hash_token("desk-dlh"), "agency": "dlh"})
    return {
        "site": {"timezone": "Asia/Jakarta", "public_url": "http://cc.test",
                 "bounds": {"south": -7.86, "west": 110.12, "north": -7.54, "east": 110.56}},  # Sleman
        "webhook_secret": "test-webhook-secret",
        "tokens": tokens,
        "areas": [{"id": "depok", "name": "Depok", "center": {"lat": -7.765, "long": 110.400}, "radius_km": 4},
                  {"id": "mlati", "name": "Mlati", "polygon": [{"lat": -7.70, "long": 110.32}, {"lat": -7.70, "long": 110.37},
                                                                {"lat": -7.76, "long": 110.37}, {"lat": -7.76, "long": 110.32}]}],
        "agencies": [{"id": "dpupkp", "name": "Dinas PUPKP", "head": "kadis-pu"},
                     {"id": "dlh", "name": "Dinas Lingkungan Hidup", "head": "kadis-dlh"},
                     {"id": "diskominfo", "name": "Diskominfo"}],
        "contacts": [{"id": "kadis-pu", "name": "Kepala Dinas PU"}, {"id": "kadis-dlh", "name": "Kepala DLH"}],
        "services": [
            {"code": "jalan-rusak", "name": "Jalan rusak", "group": "infrastruktur", "keywords": ["jalan", "berlubang"],
             "service_notice": "Petugas akan meninjau lokasi."},
            {"code": "sampah", "name": "Sampah", "keywords": ["sampah", "tps"], "response_minutes": 30,
             "feedback_minutes": 720},
            {"code": "layanan-ktp", "name": "Layanan KTP-el", "keywords": ["ktp"], "attributes": [
                {"code": "jenis", "description": "Jenis layanan", "datatype": "singlevaluelist", "required": True,
                 "values": [{"key": "ktp", "name": "KTP-el"}, {"key": "kk", "name": "Kartu Keluarga"}]},
                {"code": "antrean", "description": "Nomor antrean", "datatype": "number"}]},
            {"code": "lainnya", "name": "Lainnya"}],
        "routing": [{"agency": "dpupkp", "service_codes": ["jalan-rusak"]},
                    {"agency": "dlh", "service_codes": ["sampah"]}],
        "complaints": {"jurisdiction_id": "slemankab.go.id", "api_keys": [k.model_dump() for k in demo_api_keys()],
                       "default_service": "lainnya", "default_agency": "diskominfo", **complaints},
    }
