"""docker-compose.yml runs the app against PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_runs_the_app_on_postgres() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app, db = compose["services"]["app"], compose["services"]["db"]
    assert app["build"] == "." and (ROOT / "Dockerfile").exists()
    assert app["environment"]["DISCLOSURE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert db["image"].startswith("postgres:")
    assert "8000:8000" in app["ports"]
