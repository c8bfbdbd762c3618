#!/usr/bin/env python3
"""The seed guide's log (examples/guide.c or examples/guide-seed.json) has
the guide's users, moderator and user_prompts, byte for byte, as recorded
in the conformance case seed/guide_with_moderator; and the file is written
as the seed writes it (indent 4, ASCII, no final newline, SynDisco's keys
first).  usage: guide_check.py LOG.json CASE.json"""
import json
import sys

log_text = open(sys.argv[1], encoding="utf-8").read()
case = json.load(open(sys.argv[2], encoding="utf-8"))
want = case["expected"]["log"]
log = json.loads(log_text, object_pairs_hook=dict)
keys = list(json.loads(log_text, object_pairs_hook=lambda p: [k for k, _ in p]))
assert keys[:8] == list(want.keys()), keys
for k in ("users", "moderator", "user_prompts", "moderator_prompt", "ctx_length"):
    assert log[k] == want[k], (k, log[k], want[k])
assert not log_text.endswith("\n") and log_text.isascii()
assert all(set(c) == {"name", "text", "model"} for c in log["logs"])
print("guide log matches the guide's prompts")
