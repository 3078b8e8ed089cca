"""The sized PostgreSQL of ``benchmarks.cluster``: its own cluster, made with the machine's
binaries on its own port, runs with the settings docs/operations.md recommends."""

import shutil
import tempfile
from pathlib import Path

import pytest

from benchmarks import cluster


def test_the_settings_follow_the_machines_memory():
    small = cluster.sized_settings(24 * 2**30)
    assert small["shared_buffers"] == "6144MB"  # a quarter
    assert small["effective_cache_size"] == "12288MB"  # a half
    assert small["autovacuum"] == "on"
    assert cluster.sized_settings(128 * 2**30)["shared_buffers"] == "8192MB"  # at most 8 GB


def test_operations_recommends_the_settings_the_benchmark_measured():
    guide = (Path(cluster.ROOT) / "docs" / "operations.md").read_text()
    for name in cluster.SIZED:
        assert f"`{name}`" in guide, name


@pytest.fixture
def folder():
    parent = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="illdesk-cluster-test-"))
    parent.chmod(0o755)  # the postgres user, which runs the cluster, must reach it
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


def test_a_cluster_of_its_own_starts_with_its_settings(folder):
    try:
        cluster.postgres_bindir()
    except SystemExit:
        pytest.skip("no PostgreSQL server binaries on this machine")
    settings = {"shared_buffers": "64MB", "max_wal_size": "2GB", "autovacuum": "on"}
    server = cluster.Cluster(folder / "data", cluster.free_port(), settings)
    server.create()
    server.start()
    try:
        assert server.show() == settings
        server.restart()
        assert server.show() == settings
    finally:
        server.stop()
    assert not (folder / "data" / "postmaster.pid").exists()
