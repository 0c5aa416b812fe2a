"""docker-compose.yaml, Dockerfile and .env.example checked as files, without a Docker engine.

This machine (and CI) has no engine, so ``docker compose config`` cannot be the only guard:
these tests catch what it would (a missing service, an unset variable, a broken anchor) and
what it would not (an image on another Airflow than requirements.txt, a service without a
health check, a connection whose JSON breaks once variables are substituted). Where an engine
exists, ``docker compose config`` runs too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
REQUIREMENTS = REPO_ROOT / "requirements.txt"

AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
)
REQUIRED_SERVICES = ("postgres", "redis", *AIRFLOW_SERVICES, "graph-simulator")
#: ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?message}``, ``${VAR?message}``, ``$VAR``.
VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_]\w*))"
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    # safe_load resolves the anchors and "<<" merge keys the way compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def variables(text: str) -> list[tuple[str, str | None]]:
    """``(name, operator)`` for each substitution; ``$$`` is compose's escape for a literal ``$``."""
    found = []
    for match in VARIABLE.finditer(text.replace("$$", "")):
        found.append((match["braced"] or match["bare"], match["op"]))
    return found


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's substitution, enough to see what a container gets: a value, else the default."""

    def substitute(match: re.Match[str]) -> str:
        name = match["braced"] or match["bare"]
        if values.get(name):
            return values[name]
        if match["op"] in (":-", "-"):
            return match["arg"]
        raise AssertionError(f"${{{name}}} has no value and no default")

    return VARIABLE.sub(substitute, text.replace("$$", "\0")).replace("\0", "$")


def filled_env_example() -> dict[str, str]:
    """.env.example with its empty secrets filled the way its comments say to."""
    values = env_example()
    values.update(
        {
            key: Fernet.generate_key().decode() if "FERNET" in key else "generated-secret"
            for key, value in values.items()
            if not value
        }
    )
    return values


def test_every_service_is_there(services: dict[str, Any]) -> None:
    missing = [name for name in REQUIRED_SERVICES if name not in services]
    assert not missing, f"services missing from docker-compose.yaml: {missing}"


def test_airflow_services_run_the_provider_image(services: dict[str, Any]) -> None:
    images = {services[name]["image"] for name in (*AIRFLOW_SERVICES, "graph-simulator")}
    assert len(images) == 1, f"the Airflow services and the simulator should share one image: {images}"
    for name in (*AIRFLOW_SERVICES, "graph-simulator"):
        build = services[name]["build"]
        assert (REPO_ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE, name
    for name in ("postgres", "redis"):
        image = services[name]["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name} should pin a tag: {image}"


def test_every_long_running_service_has_a_health_check(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name == "airflow-init":
            continue
        check = service.get("healthcheck", {}).get("test")
        assert check and check[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
        assert service.get("restart") == "always", f"{name} should come back after a crash"


def test_init_is_a_one_shot_that_every_airflow_service_waits_for(services: dict[str, Any]) -> None:
    """A one-shot's health is its exit status: dependents wait for ``service_completed_successfully``."""
    init = services["airflow-init"]
    assert "restart" not in init
    script = "\n".join(init["command"])
    assert "/entrypoint airflow version" in script  # the image's entrypoint: db migrate + admin user
    assert "whatsapp-fleet migrate" in script
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert init["environment"]["_AIRFLOW_WWW_USER_CREATE"] == "true"
    for name in AIRFLOW_SERVICES:
        if name != "airflow-init":
            condition = services[name]["depends_on"]["airflow-init"]["condition"]
            assert condition == "service_completed_successfully", name


def test_depends_on_only_healthy_or_completed_services(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert "profiles" not in services[dependency], f"{name} depends on optional {dependency}"
            if dependency != "airflow-init":
                assert spec["condition"] == "service_healthy", (name, dependency)


def test_celery_workers_scale_and_the_triggerer_exists(services: dict[str, Any]) -> None:
    worker = services["airflow-worker"]
    assert worker["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker["command"] == "celery worker"
    broker = worker["environment"]["AIRFLOW__CELERY__BROKER_URL"]
    assert broker.startswith("redis://") and "redis:6379" in broker, broker
    # `--scale airflow-worker=N` fails on a fixed container name or a published host port.
    assert "container_name" not in worker and "ports" not in worker
    assert services["airflow-triggerer"]["command"] == "triggerer"
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/"), (
            name
        )


def test_volumes_are_declared_and_mounted_paths_exist(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source, target = interpolate(mount, env_example()).split(":")[:2]
            if source.startswith((".", "/")):
                path = REPO_ROOT / source
                assert path.exists(), f"{name} mounts missing {path}"
            else:
                assert source in declared, f"{name} mounts undeclared volume {source}"
            assert target.startswith("/"), (name, mount)
    assert "postgres-db-volume" in declared
    # No plugins mount: the plugin loads from the provider's entry point and would load twice.
    for name in AIRFLOW_SERVICES:
        assert all("/opt/airflow/plugins" not in m for m in services[name].get("volumes", [])), name


def test_store_database_is_created_by_the_postgres_init_script(services: dict[str, Any]) -> None:
    postgres = services["postgres"]
    assert "./deploy/postgres:/docker-entrypoint-initdb.d:ro" in postgres["volumes"]
    script = REPO_ROOT / "deploy" / "postgres" / "10-create-whatsapp-store.sh"
    assert script.stat().st_mode & stat.S_IXUSR, "the postgres image only runs executable *.sh files"
    assert "CREATE DATABASE" in script.read_text() and "WHATSAPP_STORE_DB" in script.read_text()
    assert "WHATSAPP_STORE_DB" in postgres["environment"]


def test_connections_are_valid_json_once_interpolated(services: dict[str, Any]) -> None:
    values = filled_env_example()
    env = services["airflow-worker"]["environment"]
    graph = json.loads(interpolate(env["AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT"], values))
    assert graph["conn_type"] == "whatsapp_graph"
    assert graph["host"] == values["WHATSAPP_GRAPH_URL"] == "http://graph-simulator:8765"
    assert set(graph["extra"]) == {"api_version", "callback_url"}
    store = json.loads(interpolate(env["AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT"], values))
    assert store["conn_type"] == "postgres" and store["host"] == "postgres"
    assert store["schema"] == interpolate(services["postgres"]["environment"]["WHATSAPP_STORE_DB"], values)
    # Without .env's WHATSAPP_GRAPH_URL the DAGs talk to Meta.
    meta = json.loads(
        interpolate(env["AIRFLOW_CONN_WHATSAPP_GRAPH_DEFAULT"], {**values, "WHATSAPP_GRAPH_URL": ""})
    )
    assert meta["host"] == "https://graph.facebook.com"


def test_simulator_is_an_optional_profile(services: dict[str, Any]) -> None:
    simulator = services["graph-simulator"]
    assert simulator["profiles"] == ["simulator"]
    assert simulator["entrypoint"][:3] == ["python", "-m", "include.graph_simulator"]
    assert "0.0.0.0" in simulator["command"], "the simulator must listen beyond the container's loopback"
    assert (REPO_ROOT / "include" / "graph_simulator" / "__main__.py").exists()


def test_every_variable_has_a_default_or_is_in_env_example() -> None:
    listed = env_example()
    found = variables(COMPOSE_FILE.read_text())
    assert found, "no ${VAR} found: the pattern is broken"
    undeclared = sorted({name for name, op in found if op not in (":-", "-") and name not in listed})
    assert not undeclared, f"set a default (${{VAR:-x}}) or list these in .env.example: {undeclared}"
    unused = sorted(set(listed) - {name for name, _ in found})
    assert not unused, f".env.example lists variables docker-compose.yaml never uses: {unused}"


def test_secrets_have_no_default() -> None:
    """A default Fernet key or JWT secret would be the same on every deployment: compose must stop."""
    operators = dict(variables(COMPOSE_FILE.read_text()))
    for name in ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "WHATSAPP_APP_SECRET"):
        assert operators[name] == ":?", f"{name} must be required (${{{name}:?message}})"
    for name in ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY"):
        assert env_example()[name] == "", f".env.example must not ship a value for {name}"


def airflow_pin() -> str:
    (pin,) = [
        line.split("==", 1)[1].strip()
        for line in REQUIREMENTS.read_text().splitlines()
        if line.startswith("apache-airflow==")
    ]
    return pin


def test_dockerfile_is_on_the_airflow_of_requirements_txt() -> None:
    text = DOCKERFILE.read_text()
    (base,) = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    match = re.fullmatch(r"apache/airflow:(?P<airflow>[\d.]+)-python(?P<python>[\d.]+)", base)
    assert match, f"unexpected base image {base}"
    assert match["airflow"] == airflow_pin(), f"Dockerfile {base} vs requirements.txt {airflow_pin()}"
    # pip must not move Airflow off the image's version while installing the requirements.
    assert f'"apache-airflow=={airflow_pin()}"' in text
    assert "-r /opt/airflow/build/requirements.txt" in text
    assert "-c /opt/airflow/build/constraints.txt" in text


def test_dockerignore_keeps_secrets_and_the_venv_out() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git"} <= set(ignored)


def test_docker_compose_config_validates(tmp_path: Path) -> None:
    """The real validator, where a Docker engine exists (compose resolves the build context)."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip(
            "no docker client: `docker compose config` not run (the YAML-level tests above still ran)"
        )
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        pytest.skip("no Docker engine (`docker info` failed): `docker compose config` not run")
    if subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("Docker engine but no compose plugin: `docker compose config` not run")
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in filled_env_example().items()))
    for profile in ([], ["--profile", "simulator"]):
        result = subprocess.run(
            [
                docker,
                "compose",
                "--env-file",
                str(env_file),
                *profile,
                "-f",
                str(COMPOSE_FILE),
                "config",
                "-q",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO_ROOT,
            env={
                k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WHATSAPP", "POSTGRES"))
            },
        )
        assert result.returncode == 0, result.stderr


def test_compose_uses_the_celery_settings_the_end_to_end_test_proves(services: dict[str, Any]) -> None:
    """tests/e2e/test_celery.py runs two workers on exactly these settings (tests/e2e/stack.py)."""
    from sqlalchemy.engine import make_url

    from tests.e2e.stack import CELERY_BROKER_URL, CELERY_EXECUTOR, CELERY_RESULT_BACKEND_SCHEME

    proven_broker = make_url(CELERY_BROKER_URL)
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == CELERY_EXECUTOR, name
        broker = make_url(env["AIRFLOW__CELERY__BROKER_URL"])
        assert (broker.drivername, broker.port, broker.database) == (
            proven_broker.drivername,
            proven_broker.port,
            proven_broker.database,
        ), name
        backend = env["AIRFLOW__CELERY__RESULT_BACKEND"]
        assert backend.startswith(f"{CELERY_RESULT_BACKEND_SCHEME}://"), name
        # Results in the metadata database, as in the test.
        meta = make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert make_url(backend.removeprefix("db+")).database == meta.database, name
        # The store is PostgreSQL: the embedded SQLite default is refused under Celery.
        assert json.loads(env["AIRFLOW_CONN_WHATSAPP_STORE_DEFAULT"])["conn_type"] == "postgres", name
    pins = REQUIREMENTS.read_text()
    assert re.search(r"^apache-airflow-providers-celery==", pins, re.M), "the image lacks the Celery provider"
