"""The deployable stack: docker-compose.yml and the Dockerfile, as a force's IT team runs them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_migrates_once_then_runs_the_app_on_postgres() -> None:
    services = compose()["services"]
    db, migrate, app = services["db"], services["migrate"], services["app"]
    assert db["image"].startswith("postgres:")
    assert "pgdata:/var/lib/postgresql/data" in db["volumes"] and "pgdata" in compose()["volumes"]
    assert migrate["command"] == ["disclosure", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["depends_on"] == {"db": {"condition": "service_healthy"},
                                 "migrate": {"condition": "service_completed_successfully"}}
    # The app leaves the schema to the migration, so many app processes never race to migrate.
    assert app["command"][:2] == ["disclosure", "serve"] and "--no-migrate" in app["command"]
    assert "8000:8000" in app["ports"]
    assert app["build"] == migrate["build"] == "." and app["image"] == migrate["image"]
    assert any("/readyz" in part for part in app["healthcheck"]["test"])


def test_compose_keeps_passwords_and_the_trail_key_in_secret_files() -> None:
    stack = compose()
    services = stack["services"]
    assert {name: spec["file"] for name, spec in stack["secrets"].items()} == {
        "db_password": "./secrets/db_password", "trail_key": "./secrets/trail_key",
    }
    assert services["db"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert "POSTGRES_PASSWORD" not in services["db"]["environment"]
    for name in ("migrate", "app"):
        env = services[name]["environment"]
        url = make_url(env["DISCLOSURE_DATABASE_URL"])
        assert url.drivername == "postgresql+asyncpg" and url.password is None
        assert env["DISCLOSURE_DATABASE_PASSWORD_FILE"] == "/run/secrets/db_password"
        assert env["DISCLOSURE_TRAIL_KEY_FILE"] == "/run/secrets/trail_key"
        assert set(services[name]["secrets"]) == {"db_password", "trail_key"}


def test_the_image_is_built_in_stages_from_the_lock_file_and_runs_as_a_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", dockerfile, flags=re.M)
    assert len(stages) == 2 and stages[0][1] == "build"
    build, final = dockerfile.split("\nFROM ", 2)[1:]
    assert "--require-hashes" in build and "requirements.lock" in build
    assert "COPY --from=build /opt/disclosure /opt/disclosure" in final
    assert "pip uninstall" in final and "apt-get install" not in final
    [user] = re.findall(r"^USER (\S+)", final, flags=re.M)
    assert user not in {"root", "0"}
    assert "HEALTHCHECK" in final and "/healthz" in final
