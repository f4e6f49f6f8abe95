"""Installable like a tool: the sdist holds everything a build needs, a wheel built from it
installs into a fresh venv with an ``arbscan`` command, and that command, run outside the
repository, replays the recorded emulator session to the same opportunity events as
``run.py``. No network: the build uses this venv's setuptools (no isolation, no index) and the
fresh venv takes the runtime dependencies from this venv through a ``.pth`` file."""

from __future__ import annotations

import email.parser
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import orjson
import pytest

from arbscan import cli

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CAPTURE = FIXTURES / "emulated_binance_okx.ndjson.gz"
GOLDEN = FIXTURES / "emulated_binance_okx.events.ndjson"
SYMBOLS = "BTC/USDT,ETH/USDT"
OPPORTUNITY_TYPES = frozenset({"opened", "updated", "closed"})
TIMEOUT_S = 60

PACKAGE_DATA = (
    "feeds/_book.pyi",
    "feeds/py.typed",
    "scanner/events.schema.json",
    "scanner/py.typed",
    "scanner/web/index.html",
    "scanner/web/app.js",
    "scanner/web/state.js",
    "scanner/web/view.js",
    "scanner/web/style.css",
    "emulator/py.typed",
    "arbscan/py.typed",
)
"""Files besides the Python modules that an installed copy needs."""


def _run(
    args: list[str | Path], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def _source_tree(dest: Path) -> Path:
    """The project's files (tracked or not ignored) copied to ``dest``: the build never
    writes into the worktree, and a file the packaging does not declare is left behind."""
    listed = _run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    return dest


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in requirements}


@pytest.mark.skipif(
    not (ROOT / ".git").exists() or sys.platform == "win32", reason="a POSIX git checkout"
)
def test_sdist_and_wheel_install_an_arbscan_command(tmp_path: Path) -> None:
    src = _source_tree(tmp_path / "src")
    dist = tmp_path / "dist"
    build_sdist = (
        "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])"
    )
    _run([sys.executable, "-c", build_sdist, dist], cwd=src)
    (sdist,) = dist.glob("arbscan-*.tar.gz")
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        in_sdist = {name.removeprefix(top + "/") for name in tar.getnames()}
    assert {"feeds/_book.c", "run.py", "pyproject.toml", *PACKAGE_DATA} <= in_sdist

    # The wheel is built from the sdist alone: whatever the sdist lacks, the wheel lacks.
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--disable-pip-version-check",
        "--no-input",
        "--no-cache-dir",
    ]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, sdist],
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("arbscan-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        in_wheel = set(whl.namelist())
        (metadata,) = [n for n in in_wheel if n.endswith(".dist-info/METADATA")]
        meta = email.parser.Parser().parsestr(whl.read(metadata).decode())
        (entry_points,) = [n for n in in_wheel if n.endswith(".dist-info/entry_points.txt")]
        assert "arbscan = arbscan.cli:entry" in whl.read(entry_points).decode()
    assert {
        "arbscan/cli.py",
        "arbscan/scan.py",
        "arbscan/replay.py",
        "arbscan/options.py",
        "emulator/venues/binance.py",
        "feeds/venues/kraken_v1.py",
    } <= in_wheel
    assert set(PACKAGE_DATA) <= in_wheel
    assert any(re.fullmatch(r"feeds/_book\..*(so|pyd)", n) for n in in_wheel), "no compiled book"
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in in_wheel)
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    requires = meta.get_all("Requires-Dist") or []
    runtime = [r for r in requires if "extra ==" not in r]
    assert (
        _names(runtime)
        == _names(declared)
        == {
            "picows",
            "websockets",
            "uvloop",
            "orjson",
            "numpy",
            "httpx",
            "rich",
            "prometheus-client",
        }
    )

    # A fresh venv holding only the wheel; its dependencies come from this venv.
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    env_python = env_dir / "bin" / "python"
    _run([*pip, "--python", env_python, "install", "--no-deps", "--no-index", wheel], cwd=tmp_path)
    purelib = _run(
        [env_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=tmp_path,
    ).stdout.strip()
    here = sysconfig.get_paths()
    (Path(purelib) / "arbscan_test_dependencies.pth").write_text(
        f"{here['purelib']}\n{here['platlib']}\n"
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    where = _run(
        [
            env_python,
            "-c",
            "import arbscan.cli, feeds._book; print(arbscan.cli.__file__, feeds._book.__file__)",
        ],
        cwd=outside,
        env=env,
    ).stdout.split()
    assert all(Path(p).is_relative_to(env_dir) for p in where), where

    arbscan = env_dir / "bin" / "arbscan"
    assert _run([arbscan, "--help"], cwd=outside, env=env).stdout.startswith("usage: arbscan ")
    replayed = _run([arbscan, "replay", CAPTURE, "--symbols", SYMBOLS], cwd=outside, env=env)
    lines = replayed.stdout.encode().splitlines(keepends=True)
    opportunities = [line for line in lines if orjson.loads(line)["type"] in OPPORTUNITY_TYPES]
    assert b"".join(opportunities) == GOLDEN.read_bytes()


def test_errors_name_the_program(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--duration", "0"], prog="arbscan") == 2
    assert (
        capsys.readouterr().err
        == "arbscan: --duration: must be a finite number of seconds > 0, got 0\n"
    )
    # an error found while starting (opening --out) names the program too
    assert cli.main(["--out", "/proc/no-such-file", "--json"], prog="arbscan") == 2
    assert capsys.readouterr().err == (
        "arbscan: --out: cannot open /proc/no-such-file: No such file or directory\n"
    )
    # so do the summary lines at exit
    assert cli.main(["replay", str(CAPTURE), "--symbols", SYMBOLS], prog="arbscan") == 0
    assert capsys.readouterr().err == (f"arbscan: replayed 333 of 333 records of {CAPTURE.name}\n")
    assert cli.main(["--venues", "okx", "--json", "--duration", "0.2"], prog="arbscan") == 0
    assert capsys.readouterr().err.splitlines()[-1].startswith("arbscan: venue okx: ")
    assert cli.main(["--duration", "0"]) == 2
    assert (
        capsys.readouterr().err
        == "run.py: --duration: must be a finite number of seconds > 0, got 0\n"
    )
