"""A throwaway PostgreSQL server for the tests: Debian's own binaries, started in a temporary folder.

``initdb`` and ``pg_ctl`` run as the ``postgres`` user when the tests run as root (PostgreSQL refuses
to run as root, and CI runs as root). The server listens on a Unix socket in its own folder, where it
trusts every connection (the tests' URLs: ``postgresql://postgres@/DB?host=FOLDER&port=PORT``), and on a
free port of 127.0.0.1, where a role must give its password (``tcp_url``: the tests of passwords and
``~/.pgpass``). It is stopped, and its folder deleted, at the end.

When no server can be started the tests that need one skip with the reason, unless
``PROVENANCE_TEST_POSTGRES=required`` (set by ``tests/run.sh``): then they fail, so CI never skips them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

REQUIRED_ENV = "PROVENANCE_TEST_POSTGRES"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running test server; ``url(db)`` is the archive location of database ``db`` on it."""

    folder: Path
    port: int
    pg_ctl: str
    as_user: list[str]
    user: str = "postgres"

    def url(self, database: str) -> str:
        """The ``postgresql://`` URL of ``database`` on this server, over its Unix socket (trusted)."""
        return f"postgresql://{self.user}@/{database}?host={self.folder}&port={self.port}"

    def tcp_url(self, database_url: str, user: str, password: str | None = None) -> str:
        """The URL of the database of ``database_url`` over TCP on 127.0.0.1, as ``user`` (with ``password``
        in the URL when given), where the server asks for the role's password."""
        name = database_url.split("/", 3)[3].split("?", 1)[0]
        secret = f":{password}" if password is not None else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{name}"

    def new_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def sql(self, database_url: str, statement: str) -> None:
        """Run one statement as the server's superuser (for tests that set up roles or damage tables)."""
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(statement)

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "stop"],
                       capture_output=True, check=False, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


def start_server(*, durable: bool = False) -> PostgresServer | str:
    """Start a server; the reason as a string when one cannot be started. Unless ``durable`` (a benchmark's
    server), it does not flush to disk: the tests need no durability across a machine's crash."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        return "PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'psycopg[binary]')"
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="provenance-pg-"))
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            return "running as root without runuser to start PostgreSQL as the postgres user"
        as_user = [runuser, "-u", "postgres", "--"]
        shutil.chown(folder, user="postgres")
    data = folder / "data"
    made = subprocess.run([*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth-local=trust",
                           "--auth-host=scram-sha-256", "--no-sync",
                           "-E", "UTF8", "--locale=C.UTF-8"], capture_output=True, text=True, check=False, timeout=120)
    if made.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        return f"initdb failed: {made.stderr.strip()[-300:]}"
    for _attempt in range(3):  # another process may take the free port first
        port = _free_port()
        fast = "" if durable else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 {fast}-c max_connections=200"
        started = subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w",
                                  "-t", "60", "start"], capture_output=True, text=True, check=False, timeout=120)
        if started.returncode == 0:
            break
    if started.returncode != 0:
        log = (folder / "log").read_text(errors="replace")[-300:] if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        return f"pg_ctl start failed: {started.stderr.strip()[-300:]} {log}"
    return PostgresServer(folder, port, pg_ctl, as_user)


def required() -> bool:
    """True when the tests must fail rather than skip without a server (CI)."""
    return os.environ.get(REQUIRED_ENV, "") == "required"
