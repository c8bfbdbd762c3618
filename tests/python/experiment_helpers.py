"""The 16-discussion experiment the tests and bench/bench_python.sh run
from Python and from the CLI: tiny model, few turns, short replies."""
import os
import re

import syndisco


def personas():
    return [{"username": "user%02d" % i, "age": 20 + i,
             "personality_characteristics": ["calm" if i % 2 else "curious"]}
            for i in range(8)]


def experiment(model, num_discussions=16, num_turns=2):
    users = [syndisco.Actor(model, p, context="An online forum about cities",
                            instructions="Reply in one short sentence",
                            name=p["username"]) for p in personas()]
    mod = syndisco.Actor(model, {"username": "mod"}, context="An online forum about cities",
                         instructions="Keep it civil", name="mod")
    return syndisco.DiscussionExperiment(
        users, seed_opinions=[["Bikes or buses?"], ["Should parks close at night?"]],
        moderator=mod, next_turn_manager=syndisco.RandomTurnManager(),
        history_ctx_len=3, num_turns=num_turns, num_active_users=3,
        num_discussions=num_discussions, seed=7)


def files(out_dir):
    """{relative path: bytes} of every file a run wrote."""
    got = {}
    for dp, _, fns in os.walk(out_dir):
        for fn in fns:
            p = os.path.join(dp, fn)
            with open(p, "rb") as f:
                got[os.path.relpath(p, out_dir)] = f.read()
    return got


_VOLATILE = re.compile(rb'("(?:id|timestamp|created|started|finished|source)": )"[^"]*"')


def masked(data):
    """A run's file with its per-run values (random id, wall-clock times,
    run.json's "source": the config file, from Python a temporary one)
    replaced: everything else must match byte for byte."""
    return _VOLATILE.sub(rb'\1"<masked>"', data)
