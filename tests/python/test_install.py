"""The package installs offline into a venv with Debian's tools and finds
the library it carries; SYNDISCO_LIBRARY comes first; a missing library
is a clear error."""
import os
import shutil
import subprocess
import sys

import pytest

import syndisco
from conftest import ROOT

USE = r"""
import syndisco
m = syndisco.ScriptedModel(["Hello there."])
a = syndisco.Actor(m, {"username": "a"}, name="a")
b = syndisco.Actor(m, {"username": "b"}, name="b")
with syndisco.Discussion(syndisco.QueueTurnManager(), [a, b], conv_len=2) as d:
    print(len(list(d)), syndisco.library_path())
"""


def test_venv_install(tmp_path):
    if subprocess.run([sys.executable, "-c", "import venv, ensurepip"]).returncode:
        pytest.skip("python3-venv is not installed")
    pkg = tmp_path / "pkg"
    shutil.copytree(os.path.join(ROOT, "python"), pkg,
                    ignore=shutil.ignore_patterns("_lib", "__pycache__", "*.egg-info", "build"))
    (pkg / "syndisco" / "_lib").mkdir()
    shutil.copy(os.path.realpath(syndisco.library_path()),
                pkg / "syndisco" / "_lib" / "libsyndisco.so.0")
    v = tmp_path / "v"
    env = {k: x for k, x in os.environ.items()
           if k not in ("SYNDISCO_LIBRARY", "PYTHONPATH", "PIP_FIND_LINKS")}
    # venv and pip never load the library: in a sanitizer build they need
    # not run on its preloaded runtime (which doubled their time)
    tools = {k: x for k, x in env.items()
             if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(v)],
                   check=True, env=tools)
    p = subprocess.run([str(v / "bin" / "pip"), "install", "--no-index",
                        "--no-build-isolation", "-q", str(pkg)],
                       env=tools, capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    p = subprocess.run([str(v / "bin" / "python"), "-c", USE], env=env,
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    n, where = p.stdout.split()
    assert n == "2" and where.startswith(str(v)) and "/_lib/" in where


def test_library_lookup_order(tmp_path):
    code = "import syndisco; print(syndisco.library_path())"
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"),
               SYNDISCO_LIBRARY=os.path.realpath(syndisco.library_path()))
    p = subprocess.run([sys.executable, "-c", code], env=env,
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.stdout.strip() == env["SYNDISCO_LIBRARY"], p.stderr
    env["SYNDISCO_LIBRARY"] = str(tmp_path / "nope.so")
    p = subprocess.run([sys.executable, "-c", code], env=env,
                       capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode != 0
    assert "LibraryNotFound" in p.stderr and "SYNDISCO_LIBRARY" in p.stderr
