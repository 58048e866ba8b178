"""docker-compose.yml as ``docker compose up`` reads it, checked without a Docker engine.

Every ``${VAR}`` has a default (so no hand-made .env is needed) and is documented; with the
defaults Paceline's own settings accept the environment in development and refuse it in
production; the services name images or builds that exist, wait for what they need, and
run commands the ``paceline`` CLI accepts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from paceline.cli.main import main
from paceline.shared.settings import DEV_ONLY_MARK, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
PACELINE_SERVICES = ("migrate", "ingest", "scoring", "api")
HOST_PORTS = {"ingest": 8001, "scoring": 8002, "api": 8003}
REAL_SECRETS = {  # what the .env of docs/OPERATIONS.md section 4 holds
    "PACELINE_ENVIRONMENT": "production",
    "PACELINE_BOOTSTRAP_API_KEY": "pl_admin_" + "a" * 43,
    "PACELINE_SECRET_KEY": "s" * 43,
    "POSTGRES_PASSWORD": "0123456789abcdef" * 3,
}


def compose_text() -> str:
    """The file as committed."""
    return COMPOSE.read_text()


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation for the forms this file uses (``$$`` is a literal ``$``)."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match[1], match[2], match[3] or ""
        value = env.get(name)
        if operator == ":-":
            return value if value else argument
        if operator == "-":
            return value if value is not None else argument
        if operator in (":?", "?"):
            if not value:
                raise LookupError(f"required variable {name} is missing a value: {argument}")
            return value
        if operator == ":+":
            return argument if value else ""
        return value or ""

    return VARIABLE.sub(one, text.replace("$$", "\0")).replace("\0", "$")


def rendered(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The compose model after interpolation with ``env`` (nothing set by default)."""
    data = yaml.safe_load(interpolate(compose_text(), env or {}))
    assert isinstance(data, dict)
    return data


def settings_of(service: dict[str, Any]) -> Settings:
    """Paceline's settings from a service's environment, as the container would read them."""
    values = {
        key.removeprefix("PACELINE_").lower(): str(value)
        for key, value in service["environment"].items()
        if key.startswith("PACELINE_")
    }
    return Settings(**values)


def test_every_variable_has_a_default_and_is_documented() -> None:
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    found = VARIABLE.findall(compose_text())
    assert found
    for name, operator, _argument in found:
        assert operator in (":-", "-"), f"${{{name}}} has no default: `docker compose up` needs it"
        assert f"`{name}`" in operations, f"{name} is not documented in docs/OPERATIONS.md"


def test_the_defaults_run_in_development_and_production_refuses_them() -> None:
    services = rendered()["services"]
    for name in PACELINE_SERVICES:
        settings = settings_of(services[name])
        assert settings.environment == "development"
        assert settings.database_url is not None
        assert settings.database_url.startswith("postgresql+asyncpg://")
        assert settings.kafka_bootstrap == "kafka:9092"
        assert settings.secret_key is not None  # one key shared by every container
    env = services["api"]["environment"]
    for value in (
        env["PACELINE_BOOTSTRAP_API_KEY"],
        env["PACELINE_SECRET_KEY"],
        services["postgres"]["environment"]["POSTGRES_PASSWORD"],
    ):
        assert DEV_ONLY_MARK in value  # development-only secrets say so
    with pytest.raises(ValueError, match=DEV_ONLY_MARK):
        settings_of(rendered({"PACELINE_ENVIRONMENT": "production"})["services"]["migrate"])


@pytest.mark.parametrize(
    ("left_at_default", "named"),
    [
        ("PACELINE_BOOTSTRAP_API_KEY", "PACELINE_BOOTSTRAP_API_KEY"),
        ("PACELINE_SECRET_KEY", "PACELINE_SECRET_KEY"),
        ("POSTGRES_PASSWORD", "PACELINE_DATABASE_URL"),
    ],
)
def test_production_refuses_each_development_secret(left_at_default: str, named: str) -> None:
    env = {k: v for k, v in REAL_SECRETS.items() if k != left_at_default}
    with pytest.raises(ValueError, match=f"{named} holds a development-only secret"):
        settings_of(rendered(env)["services"]["migrate"])


def test_production_with_real_secrets_is_accepted() -> None:
    env = REAL_SECRETS
    services = rendered(env)["services"]
    for name in PACELINE_SERVICES:
        settings = settings_of(services[name])
        assert settings.environment == "production"
        assert settings.database_url is not None
        assert f":{env['POSTGRES_PASSWORD']}@postgres:5432/" in settings.database_url
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == env["POSTGRES_PASSWORD"]


def test_images_builds_and_dependencies_exist() -> None:
    services = rendered()["services"]
    healthy = {name for name, s in services.items() if "test" in s.get("healthcheck", {})}
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        build = service.get("build")
        if build is not None:
            context = ROOT / build["context"]
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, f"{name} waits for unknown {target}"
            if condition["condition"] == "service_healthy":
                assert target in healthy, f"{name} waits for {target}, which has no healthcheck"
    for name in ("ingest", "scoring", "api"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    for name in PACELINE_SERVICES:
        assert services[name]["image"] == "paceline:local"
        assert services[name]["environment"] == services["migrate"]["environment"]


def _parse(args: list[str]) -> click.Context:
    """Parse ``paceline ARGS`` as the CLI would, down to the command, without running it."""
    parent = click.Context(main, info_name="paceline")
    command = main.get_command(parent, args[0])
    assert command is not None, f"paceline has no command {args[0]!r}"
    return command.make_context(args[0], list(args[1:]), parent=parent)


def test_the_commands_are_valid_paceline_commands() -> None:
    services = rendered()["services"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["paceline"]' in dockerfile
    assert "EXPOSE 8000" in dockerfile
    for name in PACELINE_SERVICES:
        command = services[name]["command"]
        ctx = _parse(command)
        assert ctx.command.name == name
        if name != "migrate":
            assert ctx.params["port"] == 8000
            assert services[name]["ports"] == [f"127.0.0.1:{HOST_PORTS[name]}:8000"]
            probe = " ".join(services[name]["healthcheck"]["test"])
            assert "http://127.0.0.1:8000/readyz" in probe
    for name in ("kafka", "postgres", "migrate"):
        assert "ports" not in services[name], name
    with pytest.raises(click.UsageError):
        _parse(["ingest", "--prot", "8000"])  # the check itself catches a typo
