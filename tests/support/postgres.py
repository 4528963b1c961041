"""A throwaway PostgreSQL server for the test session: initdb into a temp dir, start, stop, delete.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the `postgres`
system user, which then owns the temp dir (in /dev/shm when there is one). The server listens on
127.0.0.1 only, on a free port, with its unix socket inside the temp dir, and without fsync:
nothing in it needs to survive.
"""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

SERVER_BINARIES = ("initdb", "pg_ctl")
SERVER_USER = "postgres"
SERVER_OPTIONS = "-F -c full_page_writes=off -c synchronous_commit=off"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server could not be set up or did not start."""


MISSING_SERVER_BINARIES = (
    "PostgreSQL server binaries (initdb, pg_ctl) were found neither under /usr/lib/postgresql/*/bin "
    "nor on PATH. Run `make install` to install them, point AI_IMPLEMENT_TEST_POSTGRES_URL at a "
    "server, or set AI_IMPLEMENT_TEST_SKIP_POSTGRES=1 to run the store tests on SQLite only."
)


def find_server_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: the newest Debian cluster version, else the PATH."""
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_of, reverse=True):
        if all((Path(directory) / binary).is_file() for binary in SERVER_BINARIES):
            return Path(directory)
    on_path = [shutil.which(binary) for binary in SERVER_BINARIES]
    if all(on_path):
        return Path(str(on_path[0])).parent
    return None


@contextmanager
def throwaway_postgres_server(binaries: Path) -> Iterator[str]:
    """Run a private server until the block ends; yield the URL of its `postgres` database."""
    run_as = _command_prefix_for_server_user()
    workdir = Path(tempfile.mkdtemp(prefix="ai-implement-postgres-", dir=_memory_backed_directory()))
    data, sockets, log = workdir / "data", workdir / "sockets", workdir / "server.log"
    sockets.mkdir()
    if run_as:
        account = pwd.getpwnam(SERVER_USER)
        for path in (workdir, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = _free_port()
    pg_ctl = [*run_as, str(binaries / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        with _stopping_on_sigterm():
            initdb_options = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]
            _run([*run_as, str(binaries / "initdb"), "-D", str(data), *initdb_options], what="initdb")
            started = True
            options = f"{SERVER_OPTIONS} -h 127.0.0.1 -p {port} -k {sockets}"
            _run(
                [*pg_ctl, "-l", str(log), "-o", options, "-w", "-t", "30", "start"],
                what="pg_ctl start",
                log=log,
            )
            yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True, check=False)
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def _stopping_on_sigterm() -> Iterator[None]:
    """Treat SIGTERM (a CI timeout) like Ctrl-C: pytest stops the run and still tears fixtures down."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _memory_backed_directory() -> str | None:
    """/dev/shm when there is one: CREATE DATABASE per test is several times faster off the disk."""
    shared_memory = Path("/dev/shm")
    return str(shared_memory) if shared_memory.is_dir() and os.access(shared_memory, os.W_OK) else None


def _command_prefix_for_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError as error:
        raise PostgresUnavailable(
            f"the tests run as root and PostgreSQL refuses root, but there is no {SERVER_USER!r} user "
            "to run it as; run `make install` or run the tests as an ordinary user"
        ) from error
    return ["runuser", "-u", SERVER_USER, "--"]


def _run(command: list[str], *, what: str, log: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        server_log = log.read_text(errors="replace") if log and log.exists() else ""
        raise PostgresUnavailable(
            f"{what} failed with exit code {result.returncode}:\n{result.stdout}{result.stderr}{server_log}"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _version_of(directory: str) -> float:
    try:
        return float(Path(directory).parent.name)
    except ValueError:
        return 0.0
