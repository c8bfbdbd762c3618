#!/usr/bin/env python3
"""Check `syndisco export` output against the JSON it came from.

An independent re-implementation of docs/export.md: every field of every
row is recomputed from the discussion logs and annotation files and
compared with what the C code wrote.

    export_check.py (--csv|--jsonl) FILE --logs PATH... [--annotations DIR...]
"""
import argparse
import csv
import hashlib
import json
import math
import os
import sys


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def discussion_key(log):
    if isinstance(log.get("config_digest"), str) and isinstance(log.get("cell"), str) \
            and isinstance(log.get("index"), int) and not isinstance(log.get("index"), bool):
        return "%s/%s/%d" % (log["config_digest"], log["cell"], log["index"])
    return log.get("id", "")


def derived_id(log):
    """The id of a log without one (SynDisco 2.1+): docs/logs.md."""
    m = hashlib.md5()
    for s in ["syndisco-log-v1", log.get("timestamp", "")] + \
            [x for c in log["logs"] for x in (c["name"], c["text"])]:
        m.update(s.encode("utf-8") + b"\0")
    return "sd-" + m.hexdigest()


def syndisco_ids(log):
    """SynDisco's postprocessing: md5(conv_id + "_" + text), and an order
    from 1 that a repeated comment does not advance."""
    ids, orders = [], []
    for c in log["logs"]:
        h = hashlib.md5((log["id"] + "_" + c["text"]).encode("utf-8")).hexdigest()
        orders.append(1 if not ids else orders[-1] + (h != ids[-1]))
        ids.append(h)
    return ids, orders


def prompt_info(prompt):
    """(persona, instructions) of a system prompt."""
    if not isinstance(prompt, str) or not prompt:
        return None, None
    if not prompt.startswith("{"):
        t = prompt.find(" Your traits: ")
        i = prompt.find(" Your instructions: ", max(t, 0))
        return None, (prompt[i + len(" Your instructions: "):] if i >= 0 else None)
    try:
        o = json.loads(prompt)
    except ValueError:
        return None, None
    if not isinstance(o, dict):
        return None, None
    p, i = o.get("persona"), o.get("instructions")
    return (p if isinstance(p, dict) else None), (i if isinstance(i, str) else None)


def is_annotation(d):
    if "conv_id" in d or "annotator_prompt" in d:
        return True
    for c in d.get("logs", []):
        if isinstance(c, dict) and isinstance(c.get("prompt"), str) and c["prompt"]:
            return prompt_info(c["prompt"]) != (None, None) and \
                json.loads(c["prompt"]).get("type") == "annotator"
    return False


def message_id(log, order):
    return "%016x" % fnv1a64(discussion_key(log) + "\n" + str(order))


def flatten(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "; ".join(flatten(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return str(v)


def persona_of(prompt):
    try:
        p = json.loads(prompt).get("persona")
    except (TypeError, ValueError, AttributeError):
        return None
    return p if isinstance(p, dict) else None


def json_files(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                out += [os.path.join(root, f) for f in files
                        if f.endswith(".json") and not f.startswith(".")]
        else:
            out.append(p)
    return out


def load(paths, annot_dirs):
    logs = {}
    for f in json_files(paths):
        if os.path.basename(f) == "run.json":
            continue
        d = json.load(open(f, encoding="utf-8"))
        if not isinstance(d, dict) or is_annotation(d) \
                or not isinstance(d.get("logs"), list):
            continue
        if not d.get("id"):
            d["id"] = derived_id(d)
        d["_path"] = os.path.realpath(f)
        assert d["id"] not in logs, "duplicate id in test data: " + d["id"]
        logs[d["id"]] = d
    by_mid = {}
    for log in logs.values():
        for i in range(len(log["logs"])):
            by_mid[message_id(log, i)] = (log["id"], i)
    # (conv_id, order) -> {annotator: (annotation, label)}
    annots = {}
    for f in sorted(json_files(annot_dirs)):
        a = json.load(open(f, encoding="utf-8"))
        if not isinstance(a, dict):
            continue
        loaded = any(l["_path"] == os.path.realpath(f) for l in logs.values())
        if not is_annotation(a) and ("id" in a or loaded):
            continue
        name = a.get("annotator") or os.path.basename(os.path.dirname(os.path.abspath(f)))
        nxt = 0
        if a["logs"] and isinstance(a["logs"][0], dict) and "message_id" not in a["logs"][0]:
            # SynDisco 2.2.1: by conv_id, else the one discussion with these
            # speakers in this order (a log of the same file name first)
            names = [e["name"] for e in a["logs"]]
            if "conv_id" in a:
                cands = [logs[a["conv_id"]]] if a["conv_id"] in logs else []
            else:
                cands = [l for l in logs.values() if [c["name"] for c in l["logs"]] == names]
                same = [l for l in cands if os.path.basename(l["_path"]) == os.path.basename(f)]
                cands = same if len(same) == 1 else cands
            if len(cands) != 1:
                continue
            log = cands[0]
            for j, e in enumerate(a["logs"]):
                if j < len(log["logs"]) and log["logs"][j]["name"] == e["name"]:
                    annots.setdefault((log["id"], j), {}).setdefault(name, (e["text"], None))
            continue
        for e in a["logs"]:
            if isinstance(e, dict):
                hit = by_mid.get(e["message_id"])
                if hit:
                    annots.setdefault(hit, {}).setdefault(
                        name, (e.get("annotation"), e.get("label")))
            else:
                log = logs.get(a["conv_id"])
                if not log:
                    continue
                texts = [c["text"] for c in log["logs"]]
                j = next((k for k in range(nxt, len(texts)) if texts[k] == e[0]), None)
                if j is None:
                    continue
                nxt = j + 1
                annots.setdefault((log["id"], j), {}).setdefault(name, (e[1], None))
    return logs, annots


def main():
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--csv")
    g.add_argument("--jsonl")
    ap.add_argument("--logs", nargs="+", required=True)
    ap.add_argument("--annotations", nargs="*", default=[])
    ap.add_argument("--expect-annotators", nargs="*")
    ap.add_argument("--expect-joined", type=int)
    args = ap.parse_args()
    logs, annots = load(args.logs, args.annotations)

    if args.csv:
        raw = open(args.csv, "rb").read()
        assert raw.endswith(b"\r\n"), "CSV lines must end with CRLF"
        raw.decode("utf-8")  # strict
        with open(args.csv, newline="", encoding="utf-8") as f:
            table = list(csv.reader(f, strict=True))
        header, body = table[0], table[1:]
        rows = [dict(zip(header, r)) for r in body]
        assert all(len(r) == len(header) for r in body), "ragged CSV rows"
    else:
        rows = []
        header = None
        with open(args.jsonl, encoding="utf-8") as f:
            for line in f:
                o = json.loads(line)
                if header is None:
                    header = list(o.keys())
                assert list(o.keys()) == header, "JSONL rows differ in columns"
                rows.append(o)
    typed = args.jsonl is not None
    assert len(set(header)) == len(header), "duplicate columns"

    fixed = ["conv_id", "cell", "condition", "discussion_index", "message_id",
             "message_order", "syndisco_message_id", "syndisco_message_order",
             "user", "is_moderator", "model", "instructions", "text"]
    nf = len(fixed)
    assert header[:nf] == fixed, header[:nf]
    pcols = [c for c in header if c.startswith("persona_")]
    assert header[nf:nf + len(pcols)] == pcols
    assert header[nf + len(pcols)] == "seed"
    acols = header[nf + 1 + len(pcols):]
    names = [c[: -len("_annotation")] for c in acols[0::2]]
    assert [n + s for n in names for s in ("_annotation", "_label")] == acols, acols
    assert names == sorted(names), "annotators must be sorted"
    if args.expect_annotators is not None:
        assert names == args.expect_annotators, names

    # one row per comment, in log order
    total = sum(len(l["logs"]) for l in logs.values())
    assert len(rows) == total, "%d rows for %d comments" % (len(rows), total)
    seen = {}
    for r in rows:
        seen.setdefault(r["conv_id"], []).append(int(r["message_order"]))
    for cid, orders in seen.items():
        assert orders == list(range(len(logs[cid]["logs"]))), cid

    # persona columns: the union of fields, in first-seen order
    personas, instructions = {}, {}
    for cid, log in logs.items():
        speakers = list(zip(log.get("users", []), log.get("user_prompts", [])))
        if log.get("moderator"):
            speakers.append((log["moderator"], log.get("moderator_prompt")))
        personas[cid], instructions[cid] = {}, {}
        for u, p in speakers:
            per, ins = prompt_info(p)
            if per is not None:
                personas[cid][u] = per
            if ins is not None:
                instructions[cid][u] = ins

    def speaker(log, c):
        """persona, instructions: the entry's own system prompt first."""
        per, ins = prompt_info(c.get("prompt"))
        if per is None:
            per = personas[log["id"]].get(c["name"])
        if ins is None:
            ins = instructions[log["id"]].get(c["name"])
        return per, ins

    union = []
    for r in rows:
        log = logs[r["conv_id"]]
        p = speaker(log, log["logs"][int(r["message_order"])])[0] or {}
        union += [k for k in p if k not in union]
    assert pcols == ["persona_" + k for k in union], (pcols, union)

    def want(v, kind):
        """The expected cell: typed for JSONL, text for CSV."""
        if typed:
            return v
        if v is None:
            return ""
        if kind == "bool":
            return "true" if v else "false"
        if kind == "label":
            return flatten(v)
        return str(v)

    # discussions in export order; a log without "index" gets its position
    position = {}
    for r in rows:
        position.setdefault(r["conv_id"], len(position))
    filled = 0
    annotated = 0
    for n, r in enumerate(rows):
        log = logs[r["conv_id"]]
        order = int(r["message_order"])
        c = log["logs"][order]
        where = "row %d (%s #%d)" % (n + 1, r["conv_id"], order)
        mod = c.get("is_moderator", log.get("moderator") == c["name"])
        has_index = isinstance(log.get("index"), int)
        sids, sorders = syndisco_ids(log)
        p, ins = speaker(log, c)
        exp = {
            "conv_id": log["id"],
            "cell": want(log.get("cell"), "str"),
            "condition": os.path.basename(os.path.dirname(log["_path"])),
            "message_id": message_id(log, order),
            "message_order": want(order, "int"),
            "syndisco_message_id": sids[order],
            "syndisco_message_order": want(sorders[order], "int"),
            "user": c["name"],
            "is_moderator": want(mod, "bool"),
            "model": c.get("model", "unknown"),
            "instructions": want(ins, "str"),
            "text": c["text"],
            "seed": want(log.get("seed"), "int"),
        }
        exp["discussion_index"] = want(log["index"] if has_index
                                       else position[log["id"]], "int")
        for k in union:
            v = flatten(p[k]) if p and k in p else None
            exp["persona_" + k] = want(v, "str")
            filled += v is not None and v != ""
        a = annots.get((log["id"], order), {})
        for name in names:
            ann, label = a.get(name, (None, None))
            exp[name + "_annotation"] = want(None if ann is None else flatten(ann), "str")
            if typed:
                exp[name + "_label"] = label
            else:
                exp[name + "_label"] = want(label, "label")
            annotated += ann is not None
        for k, v in exp.items():
            got = r[k]
            if typed and isinstance(v, float):
                ok = isinstance(got, float) and math.isclose(got, v)
            else:
                ok = got == v and type(got) is type(v)
            assert ok, "%s: column %s is %r, expected %r" % (where, k, got, v)
    if personas and any(personas.values()):
        assert filled > 0, "no persona column was filled"
    if args.expect_joined is not None:
        assert annotated == args.expect_joined, "%d annotations joined, expected %d" % (
            annotated, args.expect_joined)
    print("ok: %d rows, %d columns, %d persona cells filled, %d annotations joined"
          % (len(rows), len(header), filled, annotated))
    return annotated


if __name__ == "__main__":
    main()
