"""The not-arrived job on a PostgreSQL of its own, sized for the data:
``python -m benchmarks.cluster [--runs 3] [--requests 1000000]
[--out docs/benchmarks/cluster.json]``.

The shared server on this machine keeps Debian's defaults (128 MB of shared buffers, 1 GB
of WAL between checkpoints) because CI and every other database use it. This benchmark
starts a cluster of its own with the machine's PostgreSQL binaries (``initdb`` and
``pg_ctl``, run as the ``postgres`` user when started as root), on its own port, with the
settings ``docs/operations.md`` recommends for a service of this size (``SIZED``), fills
it once with ``benchmarks.generate`` (kept in ``--datadir`` for the next run), and times
``requests_app.jobs.flag_not_arrived`` as ``benchmarks.flag_jobs`` does (a fresh process,
the job's foreign-key checks included, rolled back), cold: before each round the cluster
is restarted (its buffers empty) and, where the machine allows it, the operating system's
page cache dropped, so the job reads the table from disk.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "illdesk_bench"


def memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def sized_settings(memory: int) -> dict[str, str]:
    """The settings for a server that holds a million requests (2.7 GB) and runs beside
    the app: a quarter of memory for shared buffers (up to 8 GB), the planner told of the
    page cache, checkpoints far enough apart that a night's jobs do not force one, and
    autovacuum on, so the job's dead row versions are cleared and its pages keep room for
    HOT updates."""
    mb = memory // 2**20
    return {
        "shared_buffers": f"{min(mb // 4, 8192)}MB",
        "effective_cache_size": f"{mb // 2}MB",
        "work_mem": "32MB",
        "maintenance_work_mem": "1GB",
        "max_wal_size": "8GB",
        "min_wal_size": "1GB",
        "checkpoint_timeout": "15min",
        "checkpoint_completion_target": "0.9",
        "wal_buffers": "64MB",
        "wal_compression": "on",
        "autovacuum": "on",
        "jit": "off",
        "random_page_cost": "1.1",
    }


SIZED = sized_settings(memory_bytes())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bindir() -> Path:
    """The machine's PostgreSQL binaries (the newest, when several are installed)."""
    found = shutil.which("pg_config")
    if found:
        bindir = subprocess.run(  # noqa: S603 - the machine's pg_config
            [found, "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if (Path(bindir) / "initdb").exists():
            return Path(bindir)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts)
    if not versions:
        raise SystemExit("No PostgreSQL server binaries (initdb) on this machine.")
    return versions[-1].parent


class Cluster:
    """A PostgreSQL cluster in ``datadir`` on ``port``, as the user that may run it."""

    def __init__(self, datadir: Path, port: int, settings: dict[str, str]):
        self.datadir, self.port, self.settings = datadir, port, settings
        self.bindir = postgres_bindir()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, program: str, *args: str) -> None:
        command = [*self.as_user, str(self.bindir / program), *args]
        subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603

    def url(self, database: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create(self) -> None:
        """initdb, unless the folder already holds a cluster; the settings written anew."""
        if not (self.datadir / "PG_VERSION").exists():
            self.datadir.mkdir(parents=True, exist_ok=True)
            if self.as_user:  # the postgres user must reach the folder (a temporary one too)
                parent = self.datadir.parent
                parent.chmod(parent.stat().st_mode | 0o011)
                shutil.chown(self.datadir, "postgres", "postgres")
            self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        lines = [f"{name} = '{value}'" for name, value in self.settings.items()]
        lines += [f"port = {self.port}", "listen_addresses = '127.0.0.1'",
                  f"unix_socket_directories = '{self.datadir}'"]  # fmt: skip
        conf = self.datadir / "illdesk_bench.conf"
        conf.write_text("\n".join(lines) + "\n")
        main_conf = self.datadir / "postgresql.conf"
        include = "include = 'illdesk_bench.conf'"
        if include not in main_conf.read_text():
            with main_conf.open("a") as file:
                file.write(f"\n{include}\n")
        if self.as_user:
            shutil.chown(conf, "postgres", "postgres")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.datadir / "server.log"),
                  "-w", "-t", "120", "start")  # fmt: skip

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def show(self, database: str = "postgres") -> dict[str, str]:
        import psycopg2

        with psycopg2.connect(self.url(database)) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                (list(self.settings),),
            )
            return dict(cursor.fetchall())


def drop_page_cache() -> bool:
    """Empty the operating system's page cache, where this process may (root, no
    read-only /proc); False where it may not."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
    except OSError:
        return False
    return True


def ensure_data(cluster: Cluster, requests: int) -> None:
    import psycopg2

    connection = psycopg2.connect(cluster.url("postgres"))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{DATABASE}"')
    connection.close()
    env = dict(os.environ, DATABASE_URL=cluster.url())
    command = [sys.executable, "-m", "benchmarks.generate", "--requests", str(requests)]
    with psycopg2.connect(cluster.url()) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('requests_app_borrowingrequest') IS NOT NULL")
        if cursor.fetchone()[0]:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM requests_app_borrowingrequest)")
            if cursor.fetchone()[0]:
                command.append("--reuse")
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603 - our own module


def job_round(cluster: Cluster, *, from_disk: bool) -> dict:
    """One cold round of the not-arrived job, as benchmarks.flag_jobs measures it: the
    cluster restarted (its buffers empty) and, ``from_disk``, the page cache dropped too."""
    from benchmarks import flag_jobs

    cluster.restart()
    # The restart's checkpoint leaves gigabytes for the kernel to write back; flushed now,
    # they are not written while the job runs (a night's job does not follow a restart).
    os.sync()
    dropped = drop_page_cache() if from_disk else False
    options = argparse.Namespace(runs=1, per_row_sample=0, later=0)
    env = flag_jobs.worker_environment(cluster.url())
    figures = flag_jobs.spawn("flag_not_arrived", options, env)
    figures["page_cache_dropped"] = dropped
    return figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument(
        "--datadir",
        type=Path,
        default=Path("/var/tmp/illdesk-bench-cluster"),  # noqa: S108 - kept between runs
        help="the cluster's folder, kept (with its data) for the next run",
    )
    parser.add_argument("--keep-running", action="store_true", help="leave the cluster up")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "cluster.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    cluster = Cluster(options.datadir, free_port(), SIZED)
    cluster.create()
    started = time.time()
    try:
        cluster.start()
        ensure_data(cluster, options.requests)
        rounds: dict[str, list[dict]] = {"restarted": [], "from_disk": []}
        for number in range(options.runs):
            for kind in rounds:
                figures = job_round(cluster, from_disk=kind == "from_disk")
                cold = figures["cold"]
                print(f"round {number + 1}, {kind}: {cold['seconds']:.2f} s, "
                      f"{cold['rows']:,} flagged", flush=True)  # fmt: skip
                rounds[kind].append(figures)
        shown = cluster.show()
    finally:
        if not options.keep_running:
            cluster.stop()

    def median(kind: str, figure) -> float:
        return round(statistics.median(figure(f) for f in rounds[kind]), 2)

    first = rounds["restarted"][0]
    report = {
        "command": " ".join(["python", "-m", "benchmarks.cluster", *(argv or sys.argv[1:])]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "postgres_bindir": str(cluster.bindir),
        "settings": shown,
        "memory_gb": round(memory_bytes() / 2**30, 1),
        "runs": options.runs,
        "median_seconds": {kind: median(kind, lambda f: f["cold"]["seconds"]) for kind in rounds},
        "median_commit_seconds": {
            kind: median(kind, lambda f: f.get("commit_seconds") or 0) for kind in rounds
        },
        "flagged": first["cold"]["rows"],
        "statements": first["cold"]["statements"],
        "peak_rss_mb": round(max(f["peak_rss_mb"] for r in rounds.values() for f in r), 1),
        "page_cache_dropped": all(f["page_cache_dropped"] for f in rounds["from_disk"]),
        "rounds": rounds,
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_of(report))


def markdown_of(report: dict) -> str:
    settings = ", ".join(f"`{name}` {value}" for name, value in sorted(report["settings"].items()))
    dropped = "dropped" if report["page_cache_dropped"] else "not droppable here, so kept"
    lines = [
        "### The not-arrived job on a PostgreSQL sized for the data",
        "",
        f"`{report['command']}`, {report['when']}: a cluster of its own "
        f"({report['postgres_bindir']}) on a machine of {report['memory_gb']} GB, "
        f"{report['runs']} rounds of each; settings: {settings}.",
        "",
        "| job, cold | flagged | statements | seconds, median (each round) | commit s "
        "| peak RSS MB |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
    ]
    words = {
        "restarted": "cluster restarted (buffers empty), page cache as the machine left it",
        "from_disk": f"cluster restarted and the page cache {dropped}: read from disk",
    }
    for kind, label in words.items():
        seconds = ", ".join(f"{f['cold']['seconds']:.2f}" for f in report["rounds"][kind])
        lines.append(
            f"| not arrived, {label} | {report['flagged']:,} | {report['statements']} | "
            f"**{report['median_seconds'][kind]:.2f}** ({seconds}) | "
            f"{report['median_commit_seconds'][kind]:.2f} | {report['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
