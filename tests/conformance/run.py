#!/usr/bin/env python3
"""Replay SynDisco conformance cases through syndisco's real code paths.

For each case file DIR/<version>/<case>.json: translate the case's input
into one of our configs (profile, personas or actors, scripted replies,
explicit speaker order, seed opinions), run `syndisco discuss` or
`syndisco annotate` on it, and compare byte for byte what SynDisco sent
to the model (each request's system and user prompt), what it printed
and the file it wrote. The translation only restates the input; nothing
here computes an expected output.

Usage: run.py SYNDISCO_BINARY [DIR...]
"""
import json
import os
import subprocess
import sys
import tempfile

# turn managers whose order follows from the input alone: replayed with
# our own round robin; the random ones replay the recorded order
ROUND_ROBIN = {"RoundRobbin", "RoundRobin", "QueueTurnManager"}


def model_fields(m):
    return m.get("name", "unknown"), m.get("remove_string_list") or []


def discussion_config(case, work):
    inp = case["input"]
    version = case["version"]
    rp = inp["resolved_params"]
    name, remove = model_fields(inp["model"])
    cfg = {
        "syndisco": version,
        "context": inp.get("context", ""),
        "instructions": inp.get("instructions", ""),
        "conv_len": rp["conv_len"],
        "history_ctx_len": rp["history_context_len"],
        "remove_strings": remove,
        "backend": {"type": "scripted", "model_name": name,
                    "replies": case["replies"] or [""]},
    }
    if "textwrap_len" in rp:
        cfg["textwrap_len"] = rp["textwrap_len"]
    if version == "2.2.1":
        actors = []
        for a in inp["actors"]:
            e = {"name": a.get("name"), "persona": a.get("persona")}
            if "instructions" in a:
                e["instructions"] = a["instructions"]
            if a.get("key") is not None:
                e["key"] = a["key"]
            actors.append(e)
        cfg["actors"] = actors
        if inp.get("users") is not None:
            cfg["users"] = inp["users"]
        names = [a["name"] if a["name"] is not None else "<Unnamed>"
                 for a in actors]
        seeds = zip(rp.get("seed_opinions") or [],
                    rp.get("seed_opinion_usernames") or [])
    else:
        if "personas_file_text" in inp:
            path = os.path.join(work, "personas.json")
            with open(path, "w", encoding="utf-8") as f:
                f.write(inp["personas_file_text"])
            cfg["personas_file"] = path
            names = [p["username"] for p in json.loads(inp["personas_file_text"])]
        else:
            cfg["personas"] = inp["personas"]
            names = [p["username"] for p in inp["personas"]]
        if version == "seed":
            seeds = [(rp["seed_opinion"], rp["seed_opinion_user"])]
        else:
            users = rp.get("seed_opinion_usernames")
            if users is None:
                users = (case.get("random_draws") or {}).get(
                    "seed_opinion_usernames") or []
            seeds = zip(rp.get("seed_opinions") or [], users)
    cfg["seed_opinions"] = [{"username": u, "text": t} for t, u in seeds]
    mod = inp.get("moderator")
    if mod:
        m = {"persona": mod["persona"], "instructions": mod.get("instructions", "")}
        if inp.get("moderator_in_users"):
            m["in_users"] = True
            names.append(mod["persona"]["username"])
        if inp.get("moderator_model"):
            mname, mremove = model_fields(inp["moderator_model"])
            m["model_name"] = mname
            m["remove_strings"] = mremove
        cfg["moderator"] = m
    tm = inp["turn_manager"]
    deterministic = tm["kind"] in ROUND_ROBIN and not tm.get("params", {}).get(
        "randomize_first_speaker")
    if deterministic:
        # a queue over the users list as given: our round robin
        cfg["turn_manager"] = "round_robin"
    else:
        cfg["turn_manager"] = {"type": "order", "order": case["speaker_order"]}
    return cfg


def annotation_config(case, work):
    inp = case["input"]
    version = case["version"]
    rp = inp["resolved_params"]
    name, remove = model_fields(inp["model"])
    ann = inp["annotator"]
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    path = os.path.join(logs, "discussion.json")
    if "conv_log_file_text" in inp:
        text = inp["conv_log_file_text"]
    elif "discussion_log_file_text" in inp:
        text = inp["discussion_log_file_text"]
    else:
        entries = [{"name": e["name"], "text": e["text"],
                    "model": e.get("model", "hardcoded"),
                    "prompt": e.get("prompt", "")}
                   for e in inp["discussion_log_entries"]]
        text = json.dumps({"logs": entries})
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    # "name" names our output directory; actor_name is SynDisco's
    a = {"name": "annotator",
         "persona": ann.get("persona"),
         "context": ann.get("context", ""),
         "instructions": ann.get("instructions", "")}
    if version != "2.0.8":
        a["actor_name"] = ann["name"] if ann.get("name") is not None else "<Unnamed>"
    cfg = {
        "syndisco": version,
        "discussions": [path],
        "history_ctx_len": rp["history_ctx_len"],
        "remove_strings": remove,
        "annotators": [a],
        "backend": {"type": "scripted", "model_name": name,
                    "replies": case["replies"] or [""]},
    }
    if "include_moderator_comments" in rp:
        cfg["include_moderator"] = rp["include_moderator_comments"]
    if "textwrap_len" in rp:
        cfg["textwrap_len"] = rp["textwrap_len"]
    return cfg


def strip_extras(text, expected_keys):
    """Our file less the top-level fields after SynDisco's own ones."""
    obj = json.loads(text, object_pairs_hook=list)
    keys = [k for k, _ in obj]
    n = len(expected_keys)
    if keys[:n] != expected_keys:
        return None, "top-level keys %s, want %s first" % (keys, expected_keys)
    if len(keys) > n:
        cut = text.find('\n    "%s": ' % keys[n].replace('"', '\\"'))
        # the first extra key: the line before it ends with its comma
        if cut < 1 or text[cut - 1] != ",":
            return None, "cannot find our first extra field %r" % keys[n]
        # keep the object's own end, and anything after it, as written
        text = text[:cut - 1] + text[text.rindex("\n}"):]
    return text, None


def mask(text, key, value):
    needle = '"%s": %s' % (key, json.dumps(value))
    return text.replace(needle, '"%s": "<%s>"' % (key, key), 1)


def run_case(binary, path):
    with open(path, encoding="utf-8") as f:
        case = json.load(f)
    exp = case["expected"]
    with tempfile.TemporaryDirectory(prefix="sdconf-") as work:
        cfgpath = os.path.join(work, "config.json")
        trace = os.path.join(work, "trace.jsonl")
        if case["kind"] == "discussion":
            cfg = discussion_config(case, work)
            out = os.path.join(work, "log.json")
            cmd = [binary, "discuss", cfgpath, "--out", out,
                   "--trace-requests", trace]
            want_obj, want_text = exp["log"], exp["log_file_text"]
        else:
            cfg = annotation_config(case, work)
            outdir = os.path.join(work, "ann")
            cmd = [binary, "annotate", cfgpath, "--out", outdir, "--quiet",
                   "--print", "--trace-requests", trace]
            want_obj = exp["annotation_file"]
            want_text = exp["annotation_file_text"]
        with open(cfgpath, "w", encoding="utf-8") as f:
            json.dump(cfg, f, indent=1)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode != 0:
            return "exit %d: %s" % (p.returncode,
                                    p.stderr.decode("utf-8", "replace").strip()[-400:])
        problems = []
        with open(trace, encoding="utf-8") as f:
            got = [json.loads(l) for l in f if l.strip()]
        want = exp["requests"]
        if len(got) != len(want):
            problems.append("%d requests, want %d" % (len(got), len(want)))
        for i, (g, w) in enumerate(zip(got, want)):
            for k in ("speaker", "role", "system", "user"):
                if g.get(k) != w[k]:
                    problems.append("request %d: %s %r, want %r"
                                    % (i, k, g.get(k), w[k]))
                    break
            if len(problems) > 3:
                break
        printed = p.stdout.decode("utf-8", "replace")
        if printed != exp["printed"]:
            k = next((i for i, (a, b) in enumerate(zip(printed, exp["printed"]))
                      if a != b), min(len(printed), len(exp["printed"])))
            problems.append("printed differs at %d: %r, want %r"
                            % (k, printed[k:k + 60], exp["printed"][k:k + 60]))
        if case["kind"] == "discussion":
            files = [out]
        else:
            files = [os.path.join(dp, fn) for dp, _, fns in os.walk(outdir)
                     for fn in fns if fn.endswith(".json")
                     and fn not in ("run.json", "annotate.json")]
        if len(files) != 1:
            problems.append("%d output files, want 1" % len(files))
        else:
            with open(files[0], encoding="utf-8") as f:
                text = f.read()
            text, why = strip_extras(text, list(want_obj.keys()))
            if why:
                problems.append(why)
            else:
                ours = json.loads(text)
                for key in ("id", "timestamp"):
                    if want_obj.get(key) == "<%s>" % key and key in ours:
                        text = mask(text, key, ours[key])
                if text != want_text:
                    k = next((i for i, (a, b) in enumerate(zip(text, want_text))
                              if a != b), min(len(text), len(want_text)))
                    problems.append("file differs at %d: %r, want %r"
                                    % (k, text[k - 20:k + 60],
                                       want_text[k - 20:k + 60]))
        return "; ".join(problems) if problems else None


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    binary = sys.argv[1]
    dirs = sys.argv[2:] or [os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
        "shared", "conformance", "fixtures")]
    cases = []
    for d in dirs:
        for version in sorted(os.listdir(d)):
            vd = os.path.join(d, version)
            if not os.path.isdir(vd):
                continue
            for fn in sorted(os.listdir(vd)):
                if fn.endswith(".json"):
                    cases.append(os.path.join(vd, fn))
    passed = failed = 0
    for c in cases:
        label = os.path.join(os.path.basename(os.path.dirname(c)),
                             os.path.basename(c)[:-5])
        try:
            why = run_case(binary, c)
        except Exception as e:  # a broken case must not hide the others
            why = "%s: %s" % (type(e).__name__, e)
        if why:
            failed += 1
            print("FAIL %s: %s" % (label, why))
        else:
            passed += 1
            print("ok   %s" % label)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
