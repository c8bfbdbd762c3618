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
import os, signal, sys, time
sys.path[:0] = [%(py)r, %(here)r]
import syndisco
from experiment_helpers import experiment
out, model, how, at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sig = {"int": signal.SIGINT, "kill": signal.SIGKILL}.get(how)
def on_progress(p):
    # a counted point: the first report with `at` discussions done, while
    # others are in flight (SIGINT is Ctrl-C; SIGKILL is kill -9)
    global sig
    if sig and p["done"] >= at:
        s, sig = sig, None
        os.kill(os.getpid(), s)
        # SIGINT: Python runs the handler in the main thread, which polls
        # its join every 0.1 s; hold this report (the GIL is free while
        # sleeping) until the stop flag is set, so the stop lands here and
        # not a dozen short discussions later
        time.sleep(0.5)
exp = experiment(syndisco.LlamaModel(model, max_out_tokens=4))
try:
    exp.begin(out, parallel=4, progress=False, on_progress=on_progress)
except KeyboardInterrupt:
    print("interrupted")
    sys.exit(3)
"""


def run_child(out, model, how="none", at=0):
    code = CHILD % {"py": os.path.join(ROOT, "python"), "here": HERE}
    return subprocess.run([sys.executable, "-c", code, str(out), model, how,
                           str(at)], capture_output=True, text=True)


def logs_in(out):
    return [f for f in files(out) if f != "run.json"]


def test_ctrl_c_kill_9_then_rerun(python_run, tiny_model, tmp_path):
    """Ctrl-C at a counted point stops cleanly (KeyboardInterrupt, nothing
    partial); a rerun killed with -9 at a later counted point; a last
    rerun at parallel=4 completes: the files of the uninterrupted
    parallel=16 run."""
    whole, _ = python_run
    out = tmp_path / "out"
    p = run_child(out, tiny_model, "int", 2)
    assert p.returncode == 3 and p.stdout.strip() == "interrupted", p.stderr
    first = logs_in(out)
    assert 2 <= len(first) < 16, first
    p = run_child(out, tiny_model, "kill", len(first) + 3)
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr)
    second = logs_in(out)
    assert len(first) < len(second) < 16, second
    for f in files(out):  # complete logs only: no temp or partial file
        assert f.endswith(".json")
    p = run_child(out, tiny_model)
    assert p.returncode == 0, p.stderr
    a, b = files(whole), files(out)
    assert sorted(a) == sorted(b)
    for name in a:
        assert masked(a[name]) == masked(b[name]), name
    assert syndisco.run_status(out)["complete"] is True
