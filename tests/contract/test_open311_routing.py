"""The one Open311 root is reachable as deployed (docs/decisions.md D15): in Kubernetes,
every public host's `/open311` goes to the portal, and the portal's upstreams name the
intake and gateway Services on their ports; in the local stack (`make up`,
deploy/scripts/services.sh) the portal's default upstreams are the ports that script gives
intake and the gateway. (The conformance suite next to this file drives the root itself.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from aduan_portal.config import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _service_port(name: str, port_name: str = "http") -> int:
    for doc in _docs(K8S / "base" / f"{name}.yaml"):
        if doc["kind"] == "Service" and doc["metadata"]["name"] == name:
            (port,) = [p for p in doc["spec"]["ports"] if p["name"] == port_name]
            return int(port["port"])
    raise AssertionError(f"no Service {name}")


def test_every_public_host_sends_open311_to_the_portal() -> None:
    (ingress,) = [
        d for d in _docs(K8S / "overlays" / "example" / "ingress.yaml") if d["kind"] == "Ingress"
    ]
    for rule in ingress["spec"]["rules"]:
        paths = rule["http"]["paths"]
        # nginx picks the longest matching prefix: /open311 wins over / on every host.
        (open311,) = [p for p in paths if p["path"] == "/open311"]
        assert open311["pathType"] == "Prefix", rule["host"]
        assert open311["backend"]["service"] == {"name": "portal", "port": {"name": "http"}}


def test_the_portal_forwards_to_intake_and_the_gateway_services() -> None:
    (config,) = [d for d in _docs(K8S / "base" / "portal.yaml") if d["kind"] == "ConfigMap"]
    for service, key in (
        ("intake", "ADUAN_PORTAL_INTAKE_URL"),
        ("gateway", "ADUAN_PORTAL_GATEWAY_URL"),
    ):
        url = urlsplit(config["data"][key])
        assert (url.hostname, url.port) == (service, _service_port(service)), key


def test_the_local_stack_defaults_meet() -> None:
    script = (ROOT / "deploy" / "scripts" / "services.sh").read_text()
    ports = dict(re.findall(r'"(\w+) aduan_\w+(?:\.\w+)? ADUAN_\w+_PORT (\d+)"', script))
    # The code's defaults (not this process's environment).
    default = {name: field.default for name, field in Settings.model_fields.items()}
    assert urlsplit(default["intake_url"]).port == int(ports["intake"])
    assert urlsplit(default["gateway_url"]).port == int(ports["gateway"])
    assert int(ports["portal"]) == default["port"]  # the root: http://127.0.0.1:8080/open311/v2
