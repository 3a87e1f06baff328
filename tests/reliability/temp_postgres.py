"""A PostgreSQL server of the test's own, in a temporary directory on a free port, to stop and start at will.

Outage tests never touch the shared server (COMMON rules): they run `initdb` and
`pg_ctl` themselves. `initdb` refuses to run as root, so as root every command runs
as the `postgres` system user (`runuser`), which owns the data directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")


def find_bin_dir() -> Path | None:
    """Where `initdb` and `pg_ctl` are, or None."""
    for candidate in BIN_DIRS:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def unavailable_reason() -> str | None:
    """Why a private server cannot be started here (None: it can)."""
    if find_bin_dir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql-15)"
    if os.geteuid() == 0 and not (shutil.which("runuser") and _user_exists("postgres")):
        return "running as root, and initdb refuses root: no `postgres` user and `runuser` to run it as"
    return None


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class TempPostgres:
    """`initdb` + `pg_ctl` in a temporary directory; `stop()`/`start()` make an outage."""

    def __init__(self) -> None:
        bin_dir = find_bin_dir()
        assert bin_dir is not None, unavailable_reason()
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="modeldesk-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start")

    def stop(self) -> None:
        """Stop at once (`-m fast`: open connections are closed, as in a restart or a failover)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')

    def count(self, sql: str, database: str) -> int:
        import psycopg

        with psycopg.connect(self.url(database)) as connection:
            return connection.execute(sql).fetchone()[0]

    def destroy(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.root, ignore_errors=True)
