"""Deployment: `check --deploy` is clean with production settings, startup fails fast without secrets,
and the pinned requirements have no known vulnerability (when the advisory service can be reached).

Each case runs a real process with an environment built from scratch, as an operator's would be
(no test settings, no developer `.env` values for the variables set here).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **changes: str | None) -> dict[str, str]:
    """What a production operator sets (see .env.example), with `changes` applied (None removes a variable)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
        "ALLOWED_HOSTS": "modeldesk.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CSRF_TRUSTED_ORIGINS": "https://modeldesk.example.com",
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
        "SECURE_HSTS_PRELOAD": "true",
        "BEHIND_PROXY": "true",
    }
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return done, time.monotonic() - started


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    done, _ = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_flags_a_missing_hsts(tmp_path):
    """The control: the same check does complain when a production knob is left out."""
    done, _ = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                  production_env(tmp_path, SECURE_HSTS_SECONDS=None))  # fmt: skip
    assert done.returncode != 0
    assert "security.W004" in done.stderr


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "dev-only-insecure-secret-key-do-not-use-in-production"}, "SECRET_KEY is not set"),
        ({"FIELD_ENCRYPTION_KEYS": None}, "FIELD_ENCRYPTION_KEYS is not set"),
        ({"FIELD_ENCRYPTION_KEYS": ""}, "FIELD_ENCRYPTION_KEYS is not set"),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-fernet-key"}, "key number 1 is not a Fernet key"),
    ],
    ids=["no-secret-key", "empty-secret-key", "dev-secret-key", "no-encryption-keys", "empty-encryption-keys",
         "malformed-encryption-key"],
)  # fmt: skip
@pytest.mark.parametrize("entry", ["manage.py", "asgi"])
def test_startup_without_secrets_fails_fast_with_a_clear_message(tmp_path, changes, message, entry):
    env = production_env(tmp_path, **changes)
    args = ["manage.py", "check"] if entry == "manage.py" else ["-c", "import configsite.asgi"]
    done, elapsed = run(args, {**env, "DJANGO_SETTINGS_MODULE": "configsite.settings"})
    assert done.returncode != 0
    last_line = done.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line and message in last_line, done.stderr[-500:]
    assert elapsed < 20  # at import, before serving anything (the bound is for a loaded CI machine)
    assert env.get("SECRET_KEY", "") == "" or env["SECRET_KEY"] not in done.stderr


def test_pinned_requirements_have_no_known_vulnerability(tmp_path):
    """pip-audit on requirements.txt; skipped when the tool is absent or cannot reach the advisory service."""
    tool = shutil.which("pip-audit", path=str(Path(sys.executable).parent))
    if tool is None:
        pytest.skip("pip-audit is not installed (requirements-dev.txt pins it)")
    try:
        done = subprocess.run(
            [tool, "-r", str(ROOT / "requirements.txt"), "--no-deps", "--disable-pip", "--progress-spinner", "off",
             "--timeout", "10", "--format", "json", "--cache-dir", str(tmp_path / "cache")],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.skip("pip-audit: the vulnerability service did not answer within 90 s")
    try:
        report = json.loads(done.stdout)
    except ValueError:
        pytest.skip(f"pip-audit could not reach the vulnerability service: {done.stderr.strip()[-300:]}")
    audited = [dep for dep in report["dependencies"] if "skip_reason" not in dep]
    if not audited:
        reasons = {dep["skip_reason"].split(":")[0] for dep in report["dependencies"]}
        pytest.skip(f"pip-audit could audit no pin ({'; '.join(sorted(reasons))}): the registry is unreachable here")
    vulnerable = {dep["name"]: [v["id"] for v in dep["vulns"]] for dep in audited if dep.get("vulns")}
    assert not vulnerable, f"known vulnerabilities in pinned requirements: {vulnerable}"
