"""The Kubernetes manifests (deploy/k8s), checked offline against the real API schemas.

Every object of the base, the example overlay and the Secret template is validated against
the Kubernetes JSON schemas that `kubernetes-validate` bundles (strict: unknown fields fail),
for the oldest supported version (1.30) and the newest bundled one. Then each Deployment is
held against its service: probes on /health and /livez at the port the service listens on,
env names that are fields of the service's Settings (so a renamed setting breaks this test), the
configuration actually parsing into Settings, and the topics Job running the real command
with the variables it reads. The topic ConfigMap and docs table must match libs/contracts.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import os
import secrets
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import ValidationError

from aduan_contracts.topics import ALL_TOPICS, DAY_MS, dead_letter

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"
SECRETS_TEMPLATE = K8S / "secrets.template.yaml"
PLACEHOLDER = "REPLACE_ME"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what a container must listen on
KUBERNETES_VERSIONS = ["1.30", kubernetes_validate.utils.latest_version()]
CLUSTER_SCOPED = {"Namespace"}
# The kustomize features the manifests use; the renderer below implements exactly these, so
# a kustomization that starts using another one fails here instead of being half-checked.
KUSTOMIZE_KEYS = {"apiVersion", "kind", "namespace", "resources", "images", "replicas"}

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Service:
    name: str
    module: str
    settings: Any


def workspace_services() -> list[Service]:
    services = []
    for pyproject in sorted((ROOT / "services").glob("*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text())
        (package_dir,) = data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
        module = Path(package_dir).name
        settings = importlib.import_module(f"{module}.config").Settings
        services.append(Service(settings.model_fields["service_name"].default, module, settings))
    return services


SERVICES = workspace_services()


def _split_image(image: str) -> tuple[str, str]:
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    return name, tag


def _containers(obj: Manifest) -> list[Manifest]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def render(directory: Path) -> list[Manifest]:
    """A kustomize build of the subset in KUSTOMIZE_KEYS (cross-checked against
    `kubectl kustomize` when these manifests were written; see docs/deploy.md)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KUSTOMIZE_KEYS
    assert not unknown, f"{directory}: kustomize features this test does not render: {unknown}"
    objects: list[Manifest] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        if path.is_dir():
            objects += render(path)
        else:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    namespace = kustomization.get("namespace")
    for obj in objects:
        if namespace and obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace
    for image in kustomization.get("images", []):
        hits = 0
        for obj in objects:
            for container in _containers(obj):
                name, tag = _split_image(container["image"])
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
                    hits += 1
        assert hits, f"{directory}: image {image['name']} is used nowhere"
    for replicas in kustomization.get("replicas", []):
        (target,) = [
            o
            for o in objects
            if o["kind"] == "Deployment" and o["metadata"]["name"] == replicas["name"]
        ]
        target["spec"]["replicas"] = replicas["count"]
    keys = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys)), f"duplicate objects in {directory}"
    return objects


def secret_template() -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(SECRETS_TEMPLATE.read_text()) if doc]


def find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def secret_data(secret: Manifest) -> dict[str, str]:
    return dict(secret.get("stringData", {}))


@pytest.fixture(scope="module")
def base() -> list[Manifest]:
    return render(BASE)


@pytest.fixture(scope="module")
def overlay() -> list[Manifest]:
    return render(OVERLAY)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment: a developer's ADUAN_* must not change the result."""
    for key in list(os.environ):
        if key.startswith("ADUAN_") or key == "KAFKA_BOOTSTRAP_SERVERS":
            monkeypatch.delenv(key)


# --- schemas ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("source", ["base", "overlay", "secrets-template"])
def test_every_object_is_valid_against_the_kubernetes_schema(source: str, version: str) -> None:
    objects = {
        "base": lambda: render(BASE),
        "overlay": lambda: render(OVERLAY),
        "secrets-template": secret_template,
    }[source]()
    assert objects
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {error.message}")


def test_the_validator_rejects_a_broken_deployment(base: list[Manifest]) -> None:
    """Proof that the schema check bites: a typo'd field and a wrong type both fail."""
    deployment = copy.deepcopy(find(base, "Deployment", "workflow"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30", strict=True)
    deployment = copy.deepcopy(find(base, "Deployment", "workflow"))
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30", strict=True)


def test_base_has_the_expected_objects(base: list[Manifest]) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in base}
    assert ("Namespace", "aduan") in kinds
    assert ("Job", "aduan-topics") in kinds and ("ConfigMap", "aduan-topics") in kinds
    for service in SERVICES:
        for kind in ("Deployment", "Service", "ConfigMap"):
            name = service.name if kind != "ConfigMap" else f"aduan-{service.name}"
            assert (kind, name) in kinds
    # No Secret in the base: it would put a value in git and overwrite the real one on apply.
    assert not [o for o in base if o["kind"] == "Secret"]
    assert all(o["metadata"].get("namespace") == "aduan" for o in base if o["kind"] != "Namespace")


# --- each service's Deployment ------------------------------------------------------------


def container_of(base: list[Manifest], service: Service) -> Manifest:
    deployment = find(base, "Deployment", service.name)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def resolved_env(
    base: list[Manifest], service: Service, secrets_by_name: dict[str, dict[str, str]]
) -> dict[str, str]:
    """The environment the container gets: envFrom first, then env (which wins)."""
    container = container_of(base, service)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(find(base, "ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            env.update(secrets_by_name[source["secretRef"]["name"]])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]
        if "configMapKeyRef" in ref:
            data = find(base, "ConfigMap", ref["configMapKeyRef"]["name"])["data"]
            env[item["name"]] = data[ref["configMapKeyRef"]["key"]]
        else:
            secret = secrets_by_name[ref["secretKeyRef"]["name"]]
            env[item["name"]] = secret[ref["secretKeyRef"]["key"]]
    return env


def template_secrets(fill: bool) -> dict[str, dict[str, str]]:
    """The Secret template's data; `fill` replaces each placeholder with a strong random value."""
    result = {}
    for secret in secret_template():
        data = secret_data(secret)
        if fill:
            data = {k: v.replace(PLACEHOLDER, secrets.token_urlsafe(40)) for k, v in data.items()}
        result[secret["metadata"]["name"]] = data
    return result


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_probes_hit_health_on_the_service_port(base: list[Manifest], service: Service) -> None:
    container = container_of(base, service)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    listen = service.settings.model_fields["port"].default
    assert ports["http"] == listen
    # Readiness (and startup) on /health, which checks PostgreSQL, Redis and Kafka;
    # liveness on /livez, which does not: an outage must not restart every replica.
    wanted = {"startupProbe": "/health", "readinessProbe": "/health", "livenessProbe": "/livez"}
    for probe, path in wanted.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        port = ports[get["port"]] if isinstance(get["port"], str) else get["port"]
        assert port == listen, probe
    # The Service reaches the same named ports.
    svc = find(base, "Service", service.name)
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= set(ports)
    assert (
        svc["spec"]["selector"]
        == find(base, "Deployment", service.name)["spec"]["selector"]["matchLabels"]
    )


def test_intake_publishes_its_smtp_port(base: list[Manifest], clean_env: None) -> None:
    intake = next(s for s in SERVICES if s.name == "intake")
    ports = {p["name"]: p["containerPort"] for p in container_of(base, intake)["ports"]}
    assert ports["smtp"] == intake.settings(environment="development").smtp_bind_port == 2525
    assert "smtp" in {p["name"] for p in find(base, "Service", "intake")["spec"]["ports"]}


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_env_names_are_settings_of_the_service(base: list[Manifest], service: Service) -> None:
    prefix = service.settings.model_config["env_prefix"]
    env = resolved_env(base, service, template_secrets(fill=False))
    fields = set(service.settings.model_fields)
    for name in env:
        assert name.startswith(prefix), f"{name} is not read by {service.name} ({prefix}*)"
        assert name.removeprefix(prefix).lower() in fields, f"{name}: no such setting"
    for needed in ("environment", "host", "database_url", "kafka_bootstrap_servers", "redis_url"):
        assert f"{prefix}{needed.upper()}" in env, f"{service.name} lacks {needed}"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_configuration_parses_into_production_settings(
    base: list[Manifest], service: Service, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in resolved_env(base, service, template_secrets(fill=True)).items():
        monkeypatch.setenv(name, value)
    settings = service.settings()
    assert settings.environment == "production"
    assert settings.host == ALL_INTERFACES
    assert settings.port == service.settings.model_fields["port"].default
    assert settings.consumer_group == service.name  # one group, shared by every replica
    if hasattr(settings, "blob_root"):
        assert settings.blob_root == "/data/blobs"
    # A default that points at this machine (the local infrastructure, the local sinks, the
    # gateway on :8000) means nothing in a cluster: every one must be set in the ConfigMap.
    for field, value in settings.model_dump(mode="json").items():
        text = str(value)
        assert "127.0.0.1" not in text and "localhost" not in text, (
            f"{service.name}: {field} = {text!r} is a loopback default; set "
            f"{service.settings.model_config['env_prefix']}{field.upper()} in "
            f"deploy/k8s/base/{service.name}.yaml"
        )


@pytest.mark.parametrize("service", ["intake", "gateway"])
def test_a_forgotten_placeholder_secret_is_refused(
    base: list[Manifest], service: str, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = next(s for s in SERVICES if s.name == service)
    for name, value in resolved_env(base, target, template_secrets(fill=False)).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        target.settings()


def test_secret_template_holds_only_placeholders() -> None:
    for secret in secret_template():
        assert secret["metadata"]["namespace"] == "aduan"
        assert "data" not in secret, "base64 data could hide a real value"
        for key, value in secret_data(secret).items():
            assert PLACEHOLDER in value, f"{secret['metadata']['name']}/{key} is not a placeholder"


def test_every_referenced_secret_and_config_key_exists(base: list[Manifest]) -> None:
    secrets_by_name = template_secrets(fill=False)
    for obj in base:
        for container in _containers(obj):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets_by_name
                else:
                    find(base, "ConfigMap", source["configMapRef"]["name"])
            for item in container.get("env", []):
                ref = item.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    assert (
                        ref["secretKeyRef"]["key"] in secrets_by_name[ref["secretKeyRef"]["name"]]
                    )
                if "configMapKeyRef" in ref:
                    data = find(base, "ConfigMap", ref["configMapKeyRef"]["name"])["data"]
                    assert ref["configMapKeyRef"]["key"] in data


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_pods_are_locked_down_and_sized(base: list[Manifest], service: Service) -> None:
    pod = find(base, "Deployment", service.name)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    # The same numeric user as the image's USER.
    dockerfile = (ROOT / "deploy" / "docker" / f"{service.name}.Dockerfile").read_text()
    assert f"USER {pod['securityContext']['runAsUser']}:" in dockerfile
    container = container_of(base, service)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # The root filesystem is read-only: /tmp is an emptyDir.
    assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}  # noqa: S108
    resources = container["resources"]

    def mib(quantity: str) -> float:
        units = {"Mi": 1, "Gi": 1024}
        return float(quantity[:-2]) * units[quantity[-2:]]

    def cores(quantity: str) -> float:
        return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)

    assert 0 < mib(resources["requests"]["memory"]) <= mib(resources["limits"]["memory"])
    assert 0 < cores(resources["requests"]["cpu"]) <= cores(resources["limits"]["cpu"])
    # Each service holds ~110-130 MiB resident (measured, docs/deploy.md).
    assert mib(resources["limits"]["memory"]) >= 256


@pytest.mark.parametrize("name", ["workflow", "notifier"])
def test_consumers_scale_out_with_a_disruption_budget(
    base: list[Manifest], overlay: list[Manifest], name: str
) -> None:
    deployment = find(base, "Deployment", name)
    assert deployment["spec"]["replicas"] >= 2
    budget = find(base, "PodDisruptionBudget", name)
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    assert 1 <= budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    # Replicas beyond the partition count of every topic the group consumes would sit idle.
    # What it consumes: the receive operations of its AsyncAPI snapshot (tests/contract).
    spec = json.loads(
        (ROOT / "tests" / "contract" / "snapshots" / f"{name}.asyncapi.json").read_text()
    )
    addresses = [
        spec["channels"][op["channel"]["$ref"].rsplit("/", 1)[-1]]["address"]
        for op in spec["operations"].values()
        if op["action"] == "receive"
    ]
    partitions = {t.name: t.partitions for t in ALL_TOPICS}
    assert addresses and set(addresses) <= set(partitions)
    ceiling = max(partitions[a] for a in addresses)
    assert find(overlay, "Deployment", name)["spec"]["replicas"] <= ceiling


def test_overlay_retags_every_image(overlay: list[Manifest]) -> None:
    for obj in overlay:
        for container in _containers(obj):
            assert container["image"].startswith("registry.example.org/aduan/"), obj["metadata"]


# --- topics -------------------------------------------------------------------------------


def test_topics_job_runs_the_real_command_with_the_variables_it_reads(
    base: list[Manifest], clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = find(base, "Job", "aduan-topics")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "aduan_kit.topics"]
    image, _ = _split_image(container["image"])
    assert image in {f"aduan/{s.name}" for s in SERVICES}
    shared = find(base, "ConfigMap", "aduan-shared")["data"]
    for item in container["env"]:
        ref = item["valueFrom"]["configMapKeyRef"]
        monkeypatch.setenv(item["name"], find(base, "ConfigMap", ref["name"])["data"][ref["key"]])

    topics_cli = importlib.import_module("aduan_kit.topics")
    seen: dict[str, Any] = {}

    async def record(bootstrap: str, namespace: str, specs: Any, replication: int) -> list[str]:
        seen.update(bootstrap=bootstrap, namespace=namespace, specs=specs, rf=replication)
        return []

    monkeypatch.setattr(topics_cli, "ensure_topics", record)
    monkeypatch.setattr(sys, "argv", ["aduan_kit.topics"])
    topics_cli.main()
    assert seen["bootstrap"] == shared["kafka-bootstrap-servers"]
    assert seen["rf"] == int(shared["topic-replication"]) >= 3
    assert seen["namespace"] == ""  # production topic names
    assert seen["specs"] == ALL_TOPICS


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("aduan_deploy_topics", K8S / "topics.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_topic_configmap_matches_the_contracts(base: list[Manifest]) -> None:
    listed = yaml.safe_load(find(base, "ConfigMap", "aduan-topics")["data"]["topics.yaml"])
    by_name = {t["name"]: t for t in listed["topics"]}
    wanted = [s for spec in ALL_TOPICS for s in (spec, dead_letter(spec))]
    hint = "run `uv run python deploy/k8s/topics.py`"
    assert set(by_name) == {s.name for s in wanted}, hint
    for spec in wanted:
        entry = by_name[spec.name]
        assert entry["partitions"] == spec.partitions, hint
        assert entry["cleanup_policy"] == spec.cleanup_policy, hint
        assert entry["configs"] == spec.configs(), hint
        if spec.cleanup_policy == "delete":
            assert entry["retention_days"] * DAY_MS == spec.retention_ms, hint
    # ... and the files are byte for byte what the generator writes (docs table included).
    generator = _generator()
    assert (BASE / "topics.yaml").read_text() == generator.render_configmap(), hint
    docs = (ROOT / "docs" / "deploy.md").read_text()
    assert generator.docs_with_table(docs) == docs, hint


# --- network policies -----------------------------------------------------------------------

PUBLIC_PORTS = {"gateway": {"http"}, "intake": {"http", "smtp"}, "portal": {"http"}}


def allowed_sources(base: list[Manifest], service: Service, port_name: str) -> list[Any]:
    """The `from` clauses of every NetworkPolicy rule that lets a connection reach
    `port_name` of `service`'s Pods ([] when denied; a None entry: from anywhere)."""
    labels = find(base, "Deployment", service.name)["spec"]["template"]["metadata"]["labels"]
    sources: list[Any] = []
    for policy in (o for o in base if o["kind"] == "NetworkPolicy"):
        wanted = policy["spec"]["podSelector"].get("matchLabels", {})
        if any(labels.get(k) != v for k, v in wanted.items()):
            continue
        for rule in policy["spec"].get("ingress", []):
            ports = {p["port"] for p in rule.get("ports", [])}
            if not rule.get("ports") or port_name in ports:
                sources.append(rule.get("from"))
    return sources


def test_ingress_is_denied_by_default(base: list[Manifest]) -> None:
    deny = find(base, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_network_policies_open_only_what_each_service_serves(
    base: list[Manifest], service: Service
) -> None:
    """Public services are reachable from anywhere on their own ports; workflow and the
    notifier only from the monitoring namespaces (metrics); no port of a Pod that its
    container does not declare is opened."""
    container = container_of(base, service)
    for port in container["ports"]:
        sources = allowed_sources(base, service, port["name"])
        scrape = {"namespaceSelector": {"matchLabels": {"aduan.io/scrape": "true"}}}
        if port["name"] in PUBLIC_PORTS.get(service.name, set()):
            assert None in sources, (service.name, port["name"], sources)
        else:
            assert sources and None not in sources, (service.name, port["name"], sources)
            assert all(src == [scrape] for src in sources), sources
    declared = {p["name"] for p in container["ports"]}
    for policy in (o for o in base if o["kind"] == "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            assert {p["port"] for p in rule.get("ports", [])} <= {"http", "smtp"}, policy
    assert PUBLIC_PORTS.get(service.name, set()) <= declared


def test_autoscalers_target_http_deployments_with_cpu_requests(overlay: list[Manifest]) -> None:
    """CPU utilization is relative to the request: a target without one never scales."""
    scalers = [o for o in overlay if o["kind"] == "HorizontalPodAutoscaler"]
    assert {s["metadata"]["name"] for s in scalers} == {"gateway", "intake", "portal"}
    for scaler in scalers:
        target = scaler["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment"
        deployment = find(overlay, "Deployment", target["name"])
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["resources"]["requests"]["cpu"], target
        assert 1 <= scaler["spec"]["minReplicas"] <= scaler["spec"]["maxReplicas"]
