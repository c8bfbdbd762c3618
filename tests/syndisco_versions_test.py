#!/usr/bin/env python3
"""Every discussion log and annotation file of every SynDisco version loads
in export, stats, report and annotate: the conformance cases (seed, 2.0.8,
2.2.1: each case's log_file_text, annotation_file_text and the discussion
files its annotation cases read) and the real logs of the authors'
experiments. `syndisco export` has one row per comment.

    syndisco_versions_test.py SYNDISCO_BIN SOURCE_DIR [CONFORMANCE_DIR]

One Python process drives the binary: a Python start costs a third of a
second on the test machines, where the binary starts in 20 ms, and the
shell version of this test started Python 114 times.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

BIN, SRC = sys.argv[1], sys.argv[2]
CONF = sys.argv[3] if len(sys.argv) > 3 else ""
FX = os.path.join(SRC, "tests", "fixtures")
TMP = tempfile.mkdtemp()


def fail(msg):
    print(f"FAIL: {msg}")
    shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(1)


def run(*args, expect_ok=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    if expect_ok and p.returncode != 0:
        fail(f"syndisco {' '.join(args)}: {p.stderr.strip()}")
    return p


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def json_files(*dirs):
    out = []
    for d in dirs:
        for root, _, names in os.walk(d):
            out += [os.path.join(root, n) for n in names if n.endswith(".json")]
    return sorted(out)


def comments(files):
    return sum(len(load(f)["logs"]) for f in files)


# the cases: the shared ones when this machine has them, else our copies
cases_src = os.path.join(CONF, "fixtures") if CONF and os.path.isdir(
    os.path.join(CONF, "fixtures")) else os.path.join(FX, "conformance")
cases = os.path.join(TMP, "cases")
n = 0
for version in sorted(os.listdir(cases_src)):
    for name in sorted(os.listdir(os.path.join(cases_src, version))):
        case = load(os.path.join(cases_src, version, name))
        cname, exp, inp = case["case"], case["expected"], case["input"]

        def put(kind, text):
            d = os.path.join(cases, version, kind)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, cname + ".json"), "w", encoding="utf-8") as f:
                f.write(text)

        if "log_file_text" in exp:
            put("logs", exp["log_file_text"])
            n += 1
        if "annotation_file_text" in exp:
            put("annotations", exp["annotation_file_text"])
            n += 1
        for k in ("conv_log_file_text", "discussion_log_file_text"):
            if k in inp:
                put("annotated", inp[k])
                n += 1
        if "discussion_log_entries" in inp:
            # a Logs() built in memory: the file 2.2.1 would have written
            logs = [dict({"model": "hardcoded", "prompt": ""}, **e)
                    for e in inp["discussion_log_entries"]]
            put("annotated", json.dumps({"timestamp": "<timestamp>", "logs": logs},
                                        indent=4))
            n += 1
print(f"{n} files from {cases_src}")
versions = [os.path.join(cases, v) for v in sorted(os.listdir(cases))]


def check_logs(*dirs):
    """export rows = comments, in CSV and JSON lines; stats and report agree"""
    files = json_files(*dirs)
    want = comments(files)
    x_csv, x_jsonl = os.path.join(TMP, "x.csv"), os.path.join(TMP, "x.jsonl")
    run("export", *dirs, "-o", x_csv)
    got = len(csv_rows(x_csv))
    if got != want:
        fail(f"export {dirs}: {got} CSV rows for {want} comments")
    run("export", *dirs, "--format", "jsonl", "-o", x_jsonl)
    got = len(jsonl(x_jsonl))
    if got != want:
        fail(f"export --format jsonl {dirs}: {got} rows for {want} comments")
    out = run("stats", *dirs, "--json").stdout
    got = [json.loads(line) for line in out.splitlines() if line.strip()][-1]["comments"]
    if got != want:
        fail(f"stats {dirs}: {got} comments for {want}")
    run("report", *dirs, "-o", os.path.join(TMP, "r.html"))
    print(f"ok: {want} comments in {len(files)} logs: {' '.join(dirs)}")


for v in versions:
    check_logs(os.path.join(v, "logs"))
    check_logs(os.path.join(v, "annotated"))
check_logs(os.path.join(FX, "syndisco-logs"))

# annotation files of every version join to their discussions: each
# annotation of the case's file lands on a comment
for v in versions:
    ann = json_files(os.path.join(v, "annotations"))
    want = comments(ann)
    a_jsonl = os.path.join(TMP, "a.jsonl")
    run("export", os.path.join(v, "annotated"), "--annotations",
        os.path.join(v, "annotations"), "--format", "jsonl", "-o", a_jsonl)
    got = sum(r.get("annotations_annotation") is not None for r in jsonl(a_jsonl))
    if got != want:
        fail(f"{v}: {got} of {want} annotations joined")
    # a directory holding both logs and annotations: annotations are passed by
    mixed = os.path.join(TMP, "mixed")
    os.makedirs(mixed)
    discussions = json_files(os.path.join(v, "annotated"))
    for f in discussions:
        shutil.copy(f, mixed)
    for f in ann:
        shutil.copy(f, os.path.join(mixed, "ann-" + os.path.basename(f)))
    m_csv = os.path.join(TMP, "m.csv")
    run("export", mixed, "-o", m_csv)
    got = len(csv_rows(m_csv))
    if got != comments(discussions):
        fail(f"mixed directory {v}: {got} rows")
    shutil.rmtree(mixed)
    print(f"ok: {want} annotations joined: {v}")

# annotate (scripted backend: no model) reads every version's logs, and
# passes by annotation files lying among them
ann_cfg = os.path.join(TMP, "ann.json")
with open(ann_cfg, "w") as f:
    json.dump({"seed": 1, "history_ctx_len": 2, "backend": {"type": "scripted"},
               "annotators": [{"name": "echo", "instructions": "Rate it."}]}, f)
all_annotations = [f for v in versions for f in json_files(os.path.join(v, "annotations"))]
sources = ([os.path.join(v, "logs") for v in versions]
           + [os.path.join(v, "annotated") for v in versions]
           + [os.path.join(FX, "syndisco-logs")])
for d in sources:
    inp, out = os.path.join(TMP, "in"), os.path.join(TMP, "out")
    shutil.rmtree(inp, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    # the cases share the id "<id>": one directory per file
    subs = []
    for i, f in enumerate(json_files(d)):
        sub = os.path.join(inp, str(i + 1))
        os.makedirs(sub)
        shutil.copy(f, sub)
        subs.append(sub)
    for f in all_annotations:
        shutil.copy(f, os.path.join(subs[0], "ann-" + os.path.basename(f)))
    for k, sub in enumerate(subs):
        o = os.path.join(out, str(k))
        run("annotate", ann_cfg, sub, "--out", o, "--quiet")
        logs = [f for f in os.listdir(sub) if not f.startswith("ann-")]
        outs = os.listdir(os.path.join(o, "echo"))
        if not len(outs) == len(logs) == 1:
            fail(f"annotate {sub} ({d}): {logs} -> {outs}")
        disc = load(os.path.join(sub, logs[0]))
        a = load(os.path.join(o, "echo", outs[0]))
        if len(a["logs"]) != len(disc["logs"]):
            fail(f"annotate {sub} ({d}): {len(a['logs'])} of {len(disc['logs'])}")
        # SynDisco 2.2.1's layout (the default profile): entry i annotates comment i
        if [e["name"] for e in a["logs"]] != [c["name"] for c in disc["logs"]]:
            fail(f"annotate {sub} ({d}): names out of order")
        if [m["message_order"] for m in a["annotation_meta"]] != list(range(len(disc["logs"]))):
            fail(f"annotate {sub} ({d}): message_order")
        if not disc.get("id") and not (a["conv_id"].startswith("sd-")
                                       and len(a["conv_id"]) == 35):
            fail(f"annotate {sub} ({d}): conv_id {a['conv_id']}")
        # and the annotations it wrote join back in export
        j = os.path.join(TMP, "j.jsonl")
        run("export", sub, "--annotations", o, "--format", "jsonl", "-o", j)
        if not all(r["echo_annotation"] is not None for r in jsonl(j)):
            fail(f"annotate's output does not join ({sub})")
    print(f"ok: annotate over {len(subs)} logs of {d}")

# an annotation file named as a discussion to annotate is refused, clearly
for f in all_annotations:
    p = run("annotate", ann_cfg, f, "--out", os.path.join(TMP, "refused"), "--quiet",
            expect_ok=False)
    if p.returncode == 0:
        fail(f"annotate took the annotation file {f}")
    if "an annotation file, not a discussion log" not in p.stderr:
        fail(f"unclear refusal: {p.stderr}")
print("ok: annotation files named as discussions are refused")
shutil.rmtree(TMP, ignore_errors=True)
print("all SynDisco versions load")
