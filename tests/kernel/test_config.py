"""Configuration: strict keys, errors that name the key, environment overrides, the shipped examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from command_center.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError, match="kafak: Extra inputs are not permitted"):
        parse_config({"kafak": {"bootstrap": "x"}}, env={})


def test_out_of_range_value_names_the_path() -> None:
    bad = {"cameras": [{"id": "cam-1", "name": "A", "url": "http://a/snap.jpg", "interval": 0}]}
    with pytest.raises(ConfigError, match=r"cameras\.0\.interval"):
        parse_config(bad, env={})


def test_duplicate_ids_are_refused() -> None:
    cam = {"id": "cam-1", "name": "A", "url": "http://a/snap.jpg"}
    with pytest.raises(ConfigError, match="duplicate camera id 'cam-1'"):
        parse_config({"cameras": [cam, cam]}, env={})


def test_routing_to_an_unknown_agency_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown agency 'dinas-x'"):
        parse_config({"routing": [{"agency": "dinas-x"}]}, env={})


def test_environment_overrides_kafka_and_redis() -> None:
    config = parse_config({"kafka": {"bootstrap": "a:9092"}},
                          env={"CC_KAFKA_BOOTSTRAP": "k1:9092,k2:9092", "CC_REDIS_URL": "redis://r:6379/1"})
    assert config.kafka.bootstrap == "k1:9092,k2:9092"
    assert config.redis.url == "redis://r:6379/1"


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_config(["a"], env={})


def test_the_deploy_example_is_valid_and_realistic() -> None:
    config = load_config(ROOT / "deploy" / "example.yaml", env={})
    assert len(config.cameras) >= 10 and len(config.apps) >= 7 and len(config.sensors) >= 5
    assert {t.role for t in config.tokens} == {"admin", "operator", "oncall", "police", "ingest"}


def test_bad_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("redis:\n  url: redis://x\n  poolsize: 3\n")
    result = subprocess.run([sys.executable, "-m", "command_center", "run", "api", "--config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "redis.poolsize" in result.stderr


def test_unparseable_yaml_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("kafka: [unclosed\n")
    result = subprocess.run([sys.executable, "-m", "command_center", "topics", "create", "--config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "not valid YAML" in result.stderr


def test_the_kernel_reads_only_its_own_sections_and_features_add_theirs() -> None:
    from pydantic import ValidationError

    from command_center.config import Config

    with pytest.raises(ValidationError, match="cameras"):
        Config.model_validate({"cameras": []})  # the kernel alone knows no camera
    config = parse_config({"cameras": [{"id": "cam-1", "name": "Tugu", "url": "http://a/s.jpg", "area": "jetis",
                                        "location": {"lat": -7.78, "long": 110.36}}],
                           "sensors": [{"id": "tma-1", "name": "TMA Code", "kind": "water_level", "unit": "cm"}]},
                          env={})
    camera, sensor = config.place("cam-1"), config.place("tma-1")
    assert camera is not None and (camera.source, camera.name, camera.area) == ("cctv", "Tugu", "jetis")
    assert camera.location is not None and camera.location.lat == -7.78
    assert sensor is not None and (sensor.source, sensor.kind) == ("sensors", "water_level")
    assert config.place("nothing") is None


def test_the_police_section_is_still_read_at_its_old_place() -> None:
    old = parse_config({"cctv": {"frame_ttl_s": 60, "police": {"url": "https://polisi.example/ev"}}}, env={})
    new = parse_config({"police": {"url": "https://polisi.example/ev"}}, env={})
    assert old.police == new.police and old.cctv.frame_ttl_s == 60  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="give it once"):
        parse_config({"police": {}, "cctv": {"police": {}}}, env={})


def _estate_on(topology: list[dict[str, object]], camera_on: list[str], app_on: tuple[str, ...] = ()) -> dict[str, object]:
    return {"topology": topology,
            "cameras": [{"id": "cam-1", "name": "Tugu", "url": "http://a/snap.jpg", "depends_on": camera_on}],
            "apps": [{"id": "lpse", "name": "LPSE", "depends_on": list(app_on),
                      "checks": [{"id": "web", "kind": "http", "target": "https://lpse.test/"}]}]}


NETWORK = [{"id": "sw-tugu", "name": "Switch Tugu", "kind": "switch", "depends_on": ["link-kota"]},
           {"id": "link-kota", "name": "Fiber kota", "kind": "link", "depends_on": ["site-dc", "power-pln"]},
           {"id": "site-dc", "name": "Data centre", "kind": "site", "depends_on": ["power-pln"]},
           {"id": "power-pln", "name": "PLN feed", "kind": "power"}]


def test_the_topology_is_a_graph_of_known_names_without_cycles() -> None:
    config = parse_config(_estate_on(NETWORK, ["sw-tugu"], ("site-dc",)), env={})
    assert config.dependencies("cam-1") == ["sw-tugu", "link-kota", "site-dc", "power-pln"]
    assert config.dependencies("lpse") == ["site-dc", "power-pln"] and config.dependencies("power-pln") == []
    with pytest.raises(ConfigError, match="cctv cam-1: depends_on 'sw-9' is not in the topology or the estate"):
        parse_config(_estate_on(NETWORK, ["sw-9"]), env={})
    with pytest.raises(ConfigError, match="topology site-dc: depends_on 'ups-1'"):
        parse_config(_estate_on([*NETWORK[:2], {**NETWORK[2], "depends_on": ["ups-1"]}, NETWORK[3]], []), env={})
    looped = [*NETWORK[:3], {**NETWORK[3], "depends_on": ["sw-tugu"]}]
    with pytest.raises(ConfigError, match="a dependency cycle: sw-tugu -> link-kota -> site-dc -> power-pln -> sw-tugu"):
        parse_config(_estate_on(looped, ["sw-tugu"]), env={})
    with pytest.raises(ConfigError, match="a dependency cycle: lpse -> lpse"):
        parse_config(_estate_on(NETWORK, [], ("lpse",)), env={})
    chain = [{"id": f"site-{i}", "name": f"Site {i}", "kind": "site", "depends_on": [f"site-{i + 1}"] if i < 2999 else []}
             for i in range(3000)]  # a long chain is no recursion limit
    assert len(parse_config(_estate_on(chain, ["site-0"]), env={}).dependencies("cam-1")) == 3000


def test_a_link_is_drawn_along_its_route_and_only_a_link_has_one() -> None:
    def app(**extra: object) -> dict[str, object]:
        return {"apps": [{"id": "vpn-1", "name": "VPN", "checks": [{"id": "p", "kind": "icmp", "target": "10.0.0.1"}],
                          **extra}]}
    route = [{"lat": -7.70, "long": 110.30}, {"lat": -7.60, "long": 110.50}]
    config = parse_config(app(kind="link", path=route), env={})
    place = config.place("vpn-1")
    assert place is not None and place.location is not None  # its incident is drawn at the route's middle
    assert (place.location.lat, place.location.long) == pytest.approx((-7.65, 110.40))
    with pytest.raises(ConfigError, match="a path is a link's route, two points at least"):
        parse_config(app(kind="link", path=route[:1]), env={})
    with pytest.raises(ConfigError, match="a path is a link's route"):
        parse_config(app(kind="switch", path=route), env={})
