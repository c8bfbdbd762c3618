"""The seed guide written with the package (examples/guide.py) runs on the
tiny model and writes a log that SynDisco's format rules accept
(tests/guide_check.py: the guide's users, moderator and user_prompts byte
for byte, the seed's file layout); and it prints what the C guide prints."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, shared_dir

CASE = shared_dir("conformance", "fixtures", "seed", "guide_with_moderator.json")


@pytest.mark.skipif(CASE is None, reason="no conformance fixtures")
def test_guide(tiny_model, tmp_path):
    out = tmp_path / "guide.json"
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "guide.py"),
                        tiny_model, os.path.join(ROOT, "examples", "personas.json"),
                        str(out), "4"], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    check = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "guide_check.py"),
                            str(out), CASE], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert p.stdout.count(" \n\n") >= 5  # every comment printed, guide style
    guide_c = os.environ.get("SYNDISCO_GUIDE")
    if guide_c:  # the C guide prints the same comments (greedy, 32 tokens)
        p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "guide.py"),
                            tiny_model, os.path.join(ROOT, "examples", "personas.json"),
                            str(out)], env=env, capture_output=True, text=True)
        c = subprocess.run([guide_c, tiny_model,
                            os.path.join(ROOT, "examples", "personas.json"),
                            str(tmp_path / "c.json")], capture_output=True, text=True)
        assert c.returncode == 0, c.stderr
        assert c.stdout == p.stdout
