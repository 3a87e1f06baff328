"""The systems under test: fake upstreams, ModelDesk, LiteLLM and a bare Django floor.

All on 127.0.0.1 with free ports; our servers run with production settings
(DEBUG=false, real SECRET_KEY and Fernet key, API-key auth, the request log).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import Config
from bench.measure import Target
from bench.servers import PYTHON, ROOT, VAR, Server, fake_upstream, free_port

LITELLM_VENV = VAR / "litellm-venv"
LITELLM_MASTER_KEY = "sk-bench-litellm-master"
UPSTREAM_MODEL = "bench-model"
#: name → fake upstream options; the provider slug in our DB and the model name in LiteLLM's config.
UPSTREAMS = {
    "bench-fast": {},
    "bench-slow": {"delay_ms": 100},
    "bench-chunky": {"chunk_delay_ms": 50, "chunks": 10},
}


def _secret(name: str, make) -> str:
    """A value kept in var/bench so the benchmark database stays readable across runs."""
    path = VAR / name
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def product_env(config: Config, database_url: str, settings: str = "configsite.settings") -> dict[str, str]:
    import secrets

    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": settings,
        "DEBUG": "false",
        "SECRET_KEY": _secret("secret_key", lambda: secrets.token_urlsafe(50)),
        "FIELD_ENCRYPTION_KEYS": _secret("fernet_key", lambda: Fernet.generate_key().decode()),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DATABASE_URL": database_url,
        "CACHE_URL": config.cache_url,
        "LOG_LEVEL": "WARNING",
        "PUBLIC_REGISTRY": "false",
        "LOG_CHAT_CONTENT": "false",
        "PYTHONPATH": str(ROOT),
    }


def manage(env: dict[str, str], *args: str, module: str | None = None) -> str:
    cmd = [PYTHON, "-m", module, *args] if module else [PYTHON, "manage.py", *args]
    proc = subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=900, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    return proc.stdout


def uvicorn_server(name: str, env: dict[str, str], workers: int, app: str = "configsite.asgi:application") -> Server:
    port = free_port()
    cmd = [
        str(Path(PYTHON).parent / "uvicorn"),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--lifespan",
        "off",
        "--log-level",
        "warning",
        # Workers that are still importing on a busy machine must not be killed and restarted.
        "--timeout-worker-healthcheck",
        "120",
    ]
    return Server(name, cmd, port, env=env, ready_path="/healthz")


def ensure_litellm(config: Config, log) -> Path | None:
    """The LiteLLM CLI in its throwaway virtualenv, installing it when asked; None to skip."""
    cli = LITELLM_VENV / "bin" / "litellm"
    if config.litellm in ("0", "no", "false", "off"):
        return None
    if cli.exists():
        return cli
    if config.litellm != "install":
        log("LiteLLM: var/bench/litellm-venv absent, skipped (BENCH_LITELLM=install to create it)")
        return None
    log(f"LiteLLM: installing {config.litellm_spec} into {LITELLM_VENV} (once) ...")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True, timeout=300)
        subprocess.run(
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", config.litellm_spec],
            check=True,
            timeout=900,
            stdout=subprocess.DEVNULL,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        log(f"LiteLLM: install failed ({exc}); continuing without it")
        return None
    return cli if cli.exists() else None


def litellm_version() -> str | None:
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        return None
    proc = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stdout.strip() or None


def litellm_server(cli: Path, upstreams: dict[str, Server], workers: int) -> Server:
    lines = ["model_list:"]
    for name, server in upstreams.items():
        lines += [
            f"  - model_name: {name}",
            "    litellm_params:",
            f"      model: openai/{UPSTREAM_MODEL}",
            f"      api_base: {server.base}/v1",
            "      api_key: sk-bench-upstream-key",
            "      max_retries: 0",
        ]
    lines += [
        "litellm_settings:",
        "  telemetry: false",
        "  drop_params: true",
        "  num_retries: 0",
        "general_settings:",
        f"  master_key: {LITELLM_MASTER_KEY}",
    ]
    cfg = VAR / "litellm.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    port = free_port()
    cmd = [str(cli), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--num_workers", str(workers)]
    # LiteLLM imports for tens of seconds on a busy machine: uvicorn's 5 s worker health check
    # would kill and restart its workers forever.
    cmd += ["--timeout_worker_healthcheck", "120"]
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR"}
    return Server("litellm", cmd, port, env=env, ready_path="/health/liveliness")


@dataclass
class Stack:
    """Running servers and how to address each system for a given upstream."""

    config: Config
    upstreams: dict[str, Server] = field(default_factory=dict)
    ours: Server | None = None
    litellm: Server | None = None
    floor: Server | None = None
    key: str = ""
    ours_env: dict[str, str] = field(default_factory=dict)

    def targets(self, upstream: str = "bench-fast", floor: bool = False) -> list[Target]:
        """upstream alone, ours, LiteLLM (when running), the bare Django floor (when asked)."""
        up = self.upstreams[upstream]
        found = [Target("upstream", f"{up.base}/v1/chat/completions", UPSTREAM_MODEL, server=up)]
        if self.ours is not None:
            found.append(
                Target(
                    "modeldesk",
                    f"{self.ours.base}/v1/chat/completions",
                    f"{upstream}/{UPSTREAM_MODEL}",
                    self.key,
                    server=self.ours,
                )
            )
        if self.litellm is not None:
            found.append(
                Target(
                    "litellm",
                    f"{self.litellm.base}/v1/chat/completions",
                    upstream,
                    LITELLM_MASTER_KEY,
                    server=self.litellm,
                )
            )
        if floor and self.floor is not None and upstream == "bench-fast":
            found.append(
                Target("django-floor", f"{self.floor.base}/bench/passthrough", UPSTREAM_MODEL, server=self.floor)
            )
        return found

    def start_upstreams(self) -> None:
        for name, options in UPSTREAMS.items():
            self.upstreams[name] = fake_upstream(f"upstream-{name}", **options).start()

    def prepare_chat_db(self) -> dict[str, str]:
        env = product_env(self.config, self.config.database_url)
        manage(env, "migrate", "--noinput")
        args = ["chat", "--key-file", str(VAR / "chat.key")]
        for name, server in self.upstreams.items():
            args += ["--upstream", f"{name}={server.base}/v1"]
        manage(env, *args, module="bench.setup_data")
        self.key = (VAR / "chat.key").read_text().strip()
        self.ours_env = env
        return env

    def start_ours(self, name: str = "modeldesk") -> Server:
        return uvicorn_server(name, self.ours_env, self.config.workers).start()

    def start_floor(self) -> Server:
        env = {
            **product_env(self.config, self.config.database_url, "bench.settings"),
            "BENCH_UPSTREAM_URL": f"{self.upstreams['bench-fast'].base}/v1/chat/completions",
        }
        self.floor = uvicorn_server("django-floor", env, self.config.workers).start()
        return self.floor
