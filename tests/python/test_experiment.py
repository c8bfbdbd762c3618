"""Experiments from Python: 16 discussions with parallel=16 write the very
files `syndisco run` writes for the same config; a kill -9 mid-run (at a
counted point) and a rerun give the same files as an uninterrupted run."""
import os
import signal
import subprocess
import sys

import pytest

import syndisco
from conftest import HERE, ROOT
from experiment_helpers import experiment, files, masked


@pytest.fixture(scope="module")
def python_run(tiny_model, tmp_path_factory):
    """The experiment run once from Python, parallel=16: (out dir, experiment)."""
    model = syndisco.LlamaModel(tiny_model, max_out_tokens=4)
    exp = experiment(model)
    out = tmp_path_factory.mktemp("py") / "out"
    counts = exp.begin(out, parallel=16, progress=False)
    assert counts["done"] == 16 and counts["failed"] == 0
    yield out, exp
    model.close()


def test_parallel_16_same_files_as_cli(cli, python_run, tmp_path):
    py_out, exp = python_run
    cli_out = tmp_path / "cli"
    cfg = tmp_path / "config.json"
    exp.write_config(cfg)
    p = subprocess.run([cli, "run", str(cfg), "--out", str(cli_out),
                        "--parallel", "16", "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    a, b = files(py_out), files(cli_out)
    assert sorted(a) == sorted(b) and len(a) == 17  # 16 logs + run.json
    for name in a:
        assert masked(a[name]) == masked(b[name]), name
    # a second begin() finds everything done (resume)
    again = exp.begin(py_out, parallel=16, progress=False)
    assert again["skipped"] == 16 and again["done"] == 0


CHILD = r"""
import os, signal, sys
sys.path[:0] = [%(py)r, %(here)r]
import syndisco
from experiment_helpers import experiment
out, model, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
def on_progress(p):
    # a counted point: the first report with kill_at discussions done,
    # while others are in flight
    if kill_at and p["done"] >= kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
exp = experiment(syndisco.LlamaModel(model, max_out_tokens=4))
exp.begin(out, parallel=4, progress=False, on_progress=on_progress)
"""


def run_child(out, model, kill_at):
    code = CHILD % {"py": os.path.join(ROOT, "python"), "here": HERE}
    return subprocess.run([sys.executable, "-c", code, str(out), model,
                           str(kill_at)], capture_output=True, text=True)


def test_kill_9_then_rerun(python_run, tiny_model, tmp_path):
    """Killed at a counted point, rerun, at parallel=4: the same files as
    the uninterrupted parallel=16 run."""
    whole, _ = python_run
    killed = tmp_path / "killed"
    p = run_child(killed, tiny_model, 3)
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr)
    done = [f for f in files(killed) if f != "run.json"]
    assert 3 <= len(done) < 16, done  # stopped part way
    assert all(f.endswith(".json") for f in done)  # no temp file left
    p = run_child(killed, tiny_model, 0)
    assert p.returncode == 0, p.stderr
    a, b = files(whole), files(killed)
    assert sorted(a) == sorted(b)
    for name in a:
        assert masked(a[name]) == masked(b[name]), name
    assert syndisco.run_status(killed)["complete"] is True
