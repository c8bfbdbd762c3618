#!/usr/bin/env bash
# The Python package's overhead: the same 16-discussion experiment
# (tests/python/experiment_helpers.py: tiny model, 16 discussions of 3
# users, 2 turns, TOKENS-token replies (48), parallel 16) run from Python
# (DiscussionExperiment.begin) and from the CLI (`syndisco run` on the
# config Python writes), each a fresh process timed whole (start-up,
# model load, run), in interleaved rounds (py, cli, py, cli, ...) so that
# drift of a loaded machine hits both alike. Prints the medians of wall
# and CPU time and their ratios, python / cli (target <= 1.05).
#   bench/bench_python.sh [BUILD_DIR] [ROUNDS] [MODEL.gguf]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
rounds=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=${3:-$tmp/tiny.gguf}
[ -f "$model" ] || "$build/syndisco" make-test-model "$model" --seed 42 2>/dev/null
py=/usr/bin/python3
[ -x "$py" ] || py=python3
export SYNDISCO_LIBRARY=$build/libsyndisco.so PYTHONPATH=$root/python:$root/tests/python
# TOKENS: the replies' max tokens (48, as the other benches; the tests'
# experiment uses 4, where the interpreter's start-up of about 0.13 s is
# a tenth of the run)
export SD_BENCH_TOKENS=${TOKENS:-48}

cat >"$tmp/run.py" <<'PY'
import sys
import syndisco
from experiment_helpers import experiment
import os
exp = experiment(syndisco.LlamaModel(sys.argv[2],
                                     max_out_tokens=int(os.environ["SD_BENCH_TOKENS"])))
if sys.argv[1] == "--write-config":
    exp.write_config(sys.argv[3])
else:
    c = exp.begin(sys.argv[1], parallel=16, progress=False)
    assert c["done"] == 16, c
PY
"$py" "$tmp/run.py" --write-config "$model" "$tmp/config.json"

# each command in a fresh process: wall time, and CPU time (user + sys of
# the process and its threads), which a loaded machine disturbs less
"$py" - "$rounds" "$tmp" "$model" "$build/syndisco" <<'PY'
import os, resource, shutil, statistics, subprocess, sys, time
rounds, tmp, model, cli = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
cmds = {"python": [sys.executable, os.path.join(tmp, "run.py"), os.path.join(tmp, "py"), model],
        "cli": [cli, "run", os.path.join(tmp, "config.json"), "--out",
                os.path.join(tmp, "cli"), "--parallel", "16", "--quiet"]}
wall = {k: [] for k in cmds}
cpu = {k: [] for k in cmds}
def cpu_now():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
for r in range(1, rounds + 1):
    for name, cmd in cmds.items():  # interleaved: python, cli, python, ...
        shutil.rmtree(os.path.join(tmp, "py" if name == "python" else "cli"),
                      ignore_errors=True)
        c0, t0 = cpu_now(), time.monotonic()
        subprocess.run(cmd, check=True)
        wall[name].append(time.monotonic() - t0)
        cpu[name].append(cpu_now() - c0)
    print("round %d: python %.3f s (cpu %.3f s), cli %.3f s (cpu %.3f s)" % (
        r, wall["python"][-1], cpu["python"][-1], wall["cli"][-1], cpu["cli"][-1]),
        flush=True)
mw = {k: statistics.median(v) for k, v in wall.items()}
mc = {k: statistics.median(v) for k, v in cpu.items()}
print("median wall: python %.3f s, cli %.3f s, ratio python/cli %.3f (target <= 1.05)"
      % (mw["python"], mw["cli"], mw["python"] / mw["cli"]))
print("median cpu:  python %.3f s, cli %.3f s, ratio python/cli %.3f"
      % (mc["python"], mc["cli"], mc["python"] / mc["cli"]))
PY
