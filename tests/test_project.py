"""Project-wide checks: migrations match the models, the schema is valid, the admin is branded."""

import re
from pathlib import Path

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_openapi_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/units/{id}/transition/" in (tmp_path / "schema.yaml").read_text()


@pytest.mark.django_db
def test_admin_login_page_carries_the_project_name(client):
    page = client.get("/admin/login/").content.decode()
    assert "refurb" in page and "Django administration" not in page


@pytest.mark.django_db
def test_swagger_ui_is_served_without_a_cdn(admin_user, client):
    client.force_login(admin_user)
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page and "cdn.jsdelivr.net" not in page and "unpkg.com" not in page



def test_nothing_reads_outside_the_repository():
    """A clone anywhere must build, run and test: no file of ours reaches for the workspace's shared folder beside
    the repository (the RFC 8785 vectors were copied into tests/data/jcs for that reason)."""
    root = Path(__file__).resolve().parent.parent
    skipped = {".venv", "var", "media", ".git", "node_modules", "data"}
    outside = re.compile(r"\.\./shared|[\"']shared[\"']\s*/|parents\[[3-9]\]")
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and path != Path(__file__).resolve()
        and not skipped.intersection(path.relative_to(root).parts)
        and (path.suffix in {".py", ".sh", ".toml", ".cfg", ".ini"} or path.name in {"Makefile", "run"})
        and outside.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert offenders == [], f"these files reach outside the repository: {offenders}"
