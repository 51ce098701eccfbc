"""Settings come from the environment: production values pass Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "-production-secret-from-the-environment-0123456789",
    "ALLOWED_HOSTS": "refurb.example.com",
    "DATABASE_URL": "postgres://refurb:pw@db.internal:5432/refurb",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
}


def run_manage(*args, env_overrides=None, tmp_path=None):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    env.update(env_overrides or {})
    if tmp_path is not None:
        env["REFURB_VAR_DIR"] = str(tmp_path)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_is_clean_with_production_environment(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV,
                        tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_an_unhardened_environment(tmp_path):
    # The same check must be able to fail: without the production values it warns.
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides={"DEBUG": "1"},
                        tmp_path=tmp_path)
    assert result.returncode != 0
    assert "security.W004" in result.stderr or "security.W004" in result.stdout


def test_settings_read_the_environment(tmp_path):
    code = ("from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.DEBUG, "
            "s.CELERY_TASK_ALWAYS_EAGER, s.ALLOWED_HOSTS, s.MEDIA_ROOT)")
    embedded = run_manage("shell", "-c", code, env_overrides={"DATABASE_URL": "", "CELERY_BROKER_URL": ""},
                          tmp_path=tmp_path)
    assert embedded.returncode == 0, embedded.stderr
    assert embedded.stdout.splitlines()[-1].split()[:3] == ["django.db.backends.sqlite3", "False", "True"]
    production = run_manage("shell", "-c", code, env_overrides={**PRODUCTION_ENV, "MEDIA_ROOT": "/srv/media"},
                            tmp_path=tmp_path)
    assert production.returncode == 0, production.stderr
    assert production.stdout.splitlines()[-1].split() == ["django.db.backends.postgresql", "False", "False",
                                         "['refurb.example.com']", "/srv/media"]


def test_secret_key_is_generated_once_and_kept_when_not_given(tmp_path):
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first, second = (
        run_manage("shell", "-c", code, env_overrides={"SECRET_KEY": ""}, tmp_path=tmp_path).stdout.splitlines()[-1]
        for _ in range(2)
    )
    assert len(first) >= 50 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("name, value", [("DEBUG", "maybe"), ("SECURE_HSTS_SECONDS", "a year")])
def test_bad_environment_values_fail_with_a_clear_message(tmp_path, name, value):
    result = run_manage("check", env_overrides={name: value}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"{name}={value!r}" in result.stderr
