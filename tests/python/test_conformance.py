"""Every SynDisco 2.2.1 conformance case replayed through the Python API
(scripted replies, the recorded speaker order for random managers) gives
SynDisco's prompts, yielded entries, printed text and file bytes."""
import json
import os

import pytest

import syndisco
from conftest import shared_dir
from run import ROUND_ROBIN, mask, strip_extras  # tests/conformance/run.py

CASES_DIR = shared_dir("conformance", "fixtures", "2.2.1")
CASES = sorted(f[:-5] for f in os.listdir(CASES_DIR) if f.endswith(".json")) \
    if CASES_DIR else []


def load_case(name):
    with open(os.path.join(CASES_DIR, name + ".json"), encoding="utf-8") as f:
        return json.load(f)


def model_of(case):
    m = case["input"]["model"]
    return syndisco.ScriptedModel(case["replies"] or [""],
                                  name=m.get("name", "unknown"),
                                  remove_string_list=m.get("remove_string_list"))


def check_file(text, want_obj, want_text):
    text, why = strip_extras(text, list(want_obj.keys()))
    assert why is None, why
    ours = json.loads(text)
    for key in ("id", "timestamp"):
        if want_obj.get(key) == "<%s>" % key and key in ours:
            text = mask(text, key, ours[key])
    assert text == want_text


def run_discussion(case, tmp_path, capsys):
    inp = case["input"]
    rp = inp["resolved_params"]
    model = model_of(case)
    actors = [syndisco.Actor(model, a.get("persona"), inp.get("context", ""),
                             a.get("instructions", inp.get("instructions", "")),
                             name=a.get("name"))
              for a in inp["actors"]]
    users = actors
    if inp.get("users") is not None:  # keys or names into actors
        by = {}
        for a, spec in zip(actors, inp["actors"]):
            by.setdefault(spec.get("key") or spec.get("name"), a)
        users = [by[u] for u in inp["users"]]
    tm = inp["turn_manager"]
    if tm["kind"] in ROUND_ROBIN and not tm.get("params", {}).get(
            "randomize_first_speaker"):
        manager = syndisco.QueueTurnManager()
    else:
        manager = syndisco.OrderTurnManager(case["speaker_order"])
    requests = []
    d = syndisco.Discussion(
        manager, users, history_context_len=rp["history_context_len"],
        conv_len=rp["conv_len"], seed_opinions=rp.get("seed_opinions"),
        seed_opinion_usernames=rp.get("seed_opinion_usernames"),
        textwrap_len=rp.get("textwrap_len", 900000),
        on_request=lambda *r: requests.append(r))
    yielded = []
    with d:
        for entry in d:
            yielded.append(entry)
            # what begin(verbose=True) prints for it
            if entry["text"]:
                d._print_new()
        out = tmp_path / "log.json"
        d.to_json_file(out)
    printed = capsys.readouterr().out
    return requests, yielded, printed, out.read_text(encoding="utf-8")


def run_annotation(case, tmp_path, capsys):
    inp = case["input"]
    rp = inp["resolved_params"]
    path = tmp_path / "discussion.json"
    entries = [{"name": e["name"], "text": e["text"],
                "model": e.get("model", "hardcoded"), "prompt": e.get("prompt", "")}
               for e in inp["discussion_log_entries"]]
    path.write_text(json.dumps({"logs": entries}), encoding="utf-8")
    ann = inp["annotator"]
    annotator = syndisco.Actor(model_of(case), ann.get("persona"),
                               ann.get("context", ""), ann.get("instructions", ""),
                               is_annotator=True, name=ann.get("name"))
    requests = []
    a = syndisco.Annotation(annotator, str(path),
                            history_ctx_len=rp["history_ctx_len"],
                            textwrap_len=rp.get("textwrap_len", 900000),
                            on_request=lambda *r: requests.append(r))
    with a:
        a.begin(verbose=True)
        out = tmp_path / "ann.json"
        a.to_json_file(out)
    printed = capsys.readouterr().out
    return requests, None, printed, out.read_text(encoding="utf-8")


@pytest.mark.skipif(not CASES, reason="no conformance fixtures")
@pytest.mark.parametrize("name", CASES)
def test_case(name, tmp_path, capsys):
    case = load_case(name)
    exp = case["expected"]
    if case["kind"] == "discussion":
        requests, yielded, printed, text = run_discussion(case, tmp_path, capsys)
        assert yielded == exp["yielded"]
        want_obj, want_text = exp["log"], exp["log_file_text"]
    else:
        requests, yielded, printed, text = run_annotation(case, tmp_path, capsys)
        want_obj, want_text = exp["annotation_file"], exp["annotation_file_text"]
    want = exp["requests"]
    assert len(requests) == len(want)
    for i, (got, w) in enumerate(zip(requests, want)):
        if case["kind"] == "discussion":
            assert (got[0], got[1]) == (w["speaker"], w["role"]), i
        assert got[2] == w["system"], i
        assert got[3] == w["user"], i
    assert printed == exp["printed"]
    check_file(text, want_obj, want_text)


def test_all_cases_found():
    assert CASES_DIR and len(CASES) >= 10
