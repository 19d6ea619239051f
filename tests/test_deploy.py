"""deploy/: the Kubernetes manifests validate against the Kubernetes schemas (offline, the ones
kubernetes-validate ships), agree with each other and with the Dockerfile (health check path,
port), and the HAProxy configuration is the generator's output and passes `haproxy -c`."""

import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from deploy import haproxy
from deploy.cluster import haproxy_binary
from tests.test_deploy_cluster import REQUIRED

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.37.0"  # the newest schemas kubernetes-validate ships
EXAMPLE = ["127.0.0.1:8601", "127.0.0.1:8602", "127.0.0.1:8603"]  # deploy/haproxy.cfg's servers


def manifests() -> dict[str, dict]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


def test_every_manifest_validates_strictly_against_the_kubernetes_schemas():
    docs = manifests()
    assert sorted(docs) == ["Deployment", "HorizontalPodAutoscaler", "Ingress", "Service"]
    for kind, doc in docs.items():
        assert kubernetes_validate.validate(doc, KUBERNETES, strict=True), kind


def test_the_validator_rejects_a_misspelt_field():  # so the test above can fail
    hpa = manifests()["HorizontalPodAutoscaler"]
    hpa["spec"]["minReplica"] = hpa["spec"].pop("minReplicas")
    with pytest.raises(kubernetes_validate.ValidationError, match="minReplica"):
        kubernetes_validate.validate(hpa, KUBERNETES, strict=True)


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def test_probes_use_the_dockerfile_health_check_path_and_port():
    text = dockerfile()
    check = text[text.index("HEALTHCHECK") :].split("CMD [", 2)[1]
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]+)", check)
    port, path = int(url.group(1)), url.group(2)
    assert path == haproxy.HEALTH == "/_stcore/health"
    assert f"EXPOSE {port}" in text and f"--server.port={port}" in text
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert (get["path"], ports[get["port"]]) == (path, port), probe
    assert pod["securityContext"]["runAsUser"] == int(re.search(r"--uid (\d+)", text).group(1))


def test_the_manifests_point_at_each_other():
    docs = manifests()
    deployment, service, ingress, hpa = (
        docs[k] for k in ("Deployment", "Service", "Ingress", "HorizontalPodAutoscaler")
    )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (svc_port,) = service["spec"]["ports"]
    assert svc_port["targetPort"] == "http"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": service["metadata"]["name"], "port": {"name": svc_port["name"]}}
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2  # one pod may die without taking the class down
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"]["cpu"] == "1000m"  # one process, one core


def test_the_ingress_pins_visitors_and_keeps_websockets_open():
    notes = manifests()["Ingress"]["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert notes[prefix + "affinity"] == "cookie"
    assert notes[prefix + "affinity-mode"] == "persistent"
    assert notes[prefix + "session-cookie-name"]
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(notes[prefix + timeout]) >= 3600


def test_the_committed_haproxy_cfg_is_the_generators_output():
    assert (ROOT / "deploy" / "haproxy.cfg").read_text() == haproxy.config(EXAMPLE)


def test_the_haproxy_config_has_affinity_health_checks_and_limits():
    text = haproxy.config(["127.0.0.1:1", "127.0.0.1:2"], maxconn=7)
    assert "cookie SERVERID insert indirect nocache" in text
    assert "option httpchk GET /_stcore/health" in text
    assert re.search(r"^\s+timeout tunnel \d+h$", text, re.M)
    assert "default-server inter 2s fall 2 rise 2 maxconn 7 " in text
    servers = re.findall(r"^\s+server (\S+) (\S+) check cookie (\S+)$", text, re.M)
    assert servers == [("r0", "127.0.0.1:1", "r0"), ("r1", "127.0.0.1:2", "r1")]
    with pytest.raises(ValueError):
        haproxy.config([])


def test_haproxy_accepts_the_config():
    binary = haproxy_binary()
    if binary is None:
        if REQUIRED:
            pytest.fail("haproxy is not installed: required in CI")
        pytest.skip("haproxy is not installed (apt-get install -y haproxy)")
    run = subprocess.run(
        [binary, "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    broken = haproxy.config(EXAMPLE).replace("timeout tunnel 2h", "timeout tunnel 2 hours")
    run = subprocess.run(
        [binary, "-c", "-f", "/dev/stdin"], input=broken.encode(), capture_output=True
    )
    assert run.returncode != 0
