#!/usr/bin/env python3
"""SynDisco's "Creating a Discussion" guide (the seed profile), step by
step, with the Python package: the model, personas from a file, actors
named by their usernames, a moderator that is also one of the users (as
the guide does), a round-robin turn manager, five turns, the comments
printed as the guide prints them, and the log saved in the guide's
format. examples/guide.c is the same in C.

    python3 examples/guide.py MODEL.gguf PERSONAS.json OUT.json [MAX_TOKENS]
"""
import sys

import syndisco


def main(model_path, personas_path, out_path, max_tokens="32"):
    # 1. the model (TransformersModel(..., max_out_tokens=100)); 32 tokens
    # keep the example quick on a CPU, and the prompts do not depend on it
    model = syndisco.LlamaModel(model_path, name="test_model",
                                max_out_tokens=int(max_tokens))

    # 2. personas from a file (LlmPersona.from_json_file)
    personas = syndisco.Persona.from_json_file(personas_path)
    moderator_persona = syndisco.Persona(
        username="Moderator", age=41, sex="male", education_level="PhD",
        sexual_orientation="Pansexual", demographic_group="White",
        current_employment="Moderator", special_instructions="",
        personality_characteristics=["strict", "neutral", "just"])

    # 3. actors: LLMActor(model, name, attributes, context, instructions)
    context = "You are taking part in an online conversation"
    users = [syndisco.LLMActor(model=model, name=p["username"], persona=p,
                               context=context,
                               instructions="Act like a human would")
             for p in personas[:2]]
    moderator = syndisco.LLMActor(
        model=model, name="Moderator", persona=moderator_persona,
        context=context,
        instructions="You are a moderator. Oversee the discussion")

    # 4. the turn manager and the discussion; the guide lists the
    # moderator among the users too
    with syndisco.Discussion(syndisco.RoundRobbin(), users + [moderator],
                             history_context_len=5, conv_len=5,
                             moderator=moderator, profile="seed") as d:
        # 5. begin (verbose) and save the log
        d.begin(verbose=True)
        d.to_json_file(out_path)
    model.close()
    print("wrote", out_path, file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: guide.py MODEL.gguf PERSONAS.json OUT.json [MAX_TOKENS]")
    main(*sys.argv[1:])
