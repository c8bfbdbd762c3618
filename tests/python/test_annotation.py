"""Annotations from Python: one discussion with a label spec, and an
annotation experiment whose labels syndisco.load() joins to the comments."""
import json
import os
import shutil

import syndisco
from conftest import ROOT

LOGS = os.path.join(ROOT, "tests", "fixtures", "syndisco-logs")


def test_annotation_with_label(tmp_path):
    m = syndisco.ScriptedModel(["3", "not a number", "5"])
    log = os.path.join(LOGS, sorted(os.listdir(LOGS))[0])
    ann = syndisco.Actor(m, {"username": "rater"}, instructions="Rate toxicity 1-5",
                         is_annotator=True, name="rater")
    with syndisco.Annotation(ann, log, label={"range": [1, 5]}) as a:
        a.begin(verbose=False)
        a.to_json_file(tmp_path / "a.json")
    got = json.loads((tmp_path / "a.json").read_text())
    meta = got["annotation_meta"]
    assert meta and all(x["label_status"] in ("ok", "unparsed") for x in meta)
    assert any(x["label"] in (3, 5) for x in meta)


def test_annotation_experiment_then_load(tmp_path):
    logs = tmp_path / "logs"
    shutil.copytree(LOGS, logs)
    m = syndisco.ScriptedModel(["2"])
    raters = [syndisco.Actor(m, {"username": n}, instructions="Rate 1-5",
                             is_annotator=True, name=n) for n in ("r1", "r2")]
    exp = syndisco.AnnotationExperiment(raters, history_ctx_len=2,
                                        labels=[{"range": [1, 5]}, None])
    out = tmp_path / "ann"
    counts = exp.begin(logs, out, parallel=4, progress=False)
    assert counts["failed"] == 0 and counts["done"] == 2 * len(os.listdir(LOGS))
    assert sorted(os.listdir(out)) == ["annotate.json", "r1", "r2"]
    again = exp.begin(logs, out, parallel=4, progress=False)  # resumes: nothing to do
    assert again["done"] == 0 and again["skipped"] == counts["done"]
    rows = syndisco.load(logs, annotations=out, as_pandas=False)
    cols = list(rows[0])
    assert any("r1" in c for c in cols) and any("r2" in c for c in cols)
    assert any(r.get(c) == 2 for r in rows for c in cols if "r1" in c)
