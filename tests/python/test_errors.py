"""Bad input raises clear exceptions (file, field, message), never a
crash; handles are freed by close(), context managers and the GC."""
import gc
import json

import pytest

import syndisco
from syndisco import SynDiscoError


def test_missing_persona_field(tmp_path):
    p = tmp_path / "personas.json"
    p.write_text(json.dumps([{"username": "a"}, {"age": 3}]))
    with pytest.raises(SynDiscoError) as e:
        syndisco.Persona.from_json_file(p)
    assert e.value.source == str(p)
    assert e.value.field == "[1].username"
    assert "username" in str(e.value) and str(p) in str(e.value)


def test_malformed_persona_file(tmp_path):
    p = tmp_path / "personas.json"
    p.write_text('[{"username": "a",}]')
    with pytest.raises(SynDiscoError) as e:
        syndisco.Persona.from_json_file(p)
    assert e.value.kind == "EPARSE" and e.value.line == 1 and e.value.column > 0


def test_seed_profile_needs_username():
    m = syndisco.ScriptedModel(["x"])
    a = syndisco.Actor(m, {"age": 3}, name="a")  # fine for 2.2.1
    b = syndisco.Actor(m, {"username": "b"}, name="b")
    with pytest.raises(SynDiscoError) as e:
        syndisco.Discussion(syndisco.RoundRobin(), [a, b], profile="2.0.8")
    assert e.value.field == "username"


def test_wrong_types():
    m = syndisco.ScriptedModel(["x"])
    with pytest.raises(TypeError, match="persona must be a dict"):
        syndisco.Actor(m, persona=["not", "a", "dict"])
    with pytest.raises(TypeError, match="persona is not JSON"):
        syndisco.Actor(m, persona={"username": "a", "x": object()})
    with pytest.raises(TypeError, match="model must be a syndisco model"):
        syndisco.Actor(model="gpt")
    with pytest.raises(TypeError, match="context must be a string"):
        syndisco.Actor(m, context=3)
    a = syndisco.Actor(m, {"username": "a"}, name="a")
    with pytest.raises(TypeError, match="conv_len must be an int"):
        syndisco.Discussion(syndisco.QueueTurnManager(), [a], conv_len="5")
    with pytest.raises(ValueError, match="history_context_len must be >= 0"):
        syndisco.Discussion(syndisco.QueueTurnManager(), [a], history_context_len=-1)
    with pytest.raises(TypeError, match=r"users\[0\] must be an Actor"):
        syndisco.Discussion(syndisco.QueueTurnManager(), [{"username": "a"}])
    with pytest.raises(ValueError, match="same length"):
        syndisco.Discussion(syndisco.QueueTurnManager(), [a], seed_opinions=["x", "y"],
                            seed_opinion_usernames=["a"])
    with pytest.raises(ValueError, match="p_respond"):
        syndisco.RespondTurnManager(p_respond=2)
    with pytest.raises(ValueError, match="unknown SynDisco profile '3.0'"):
        syndisco.Discussion(syndisco.QueueTurnManager(), [a], profile="3.0")
    ann = syndisco.Actor(m, is_annotator=True)
    with pytest.raises(ValueError, match="is an annotator"):
        syndisco.Discussion(syndisco.QueueTurnManager(), [ann])


def test_missing_model_file(tmp_path):
    path = tmp_path / "nope.gguf"
    with pytest.raises(SynDiscoError) as e:
        syndisco.LlamaModel(path)
    assert e.value.kind == "ENOTFOUND" and str(path) in str(e.value)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf file at all")
    with pytest.raises(SynDiscoError) as e:
        syndisco.LlamaModel(bad)
    assert str(bad) in str(e.value)


def test_bad_log_file(tmp_path):
    p = tmp_path / "log.json"
    p.write_text('{"logs": [{"name": "a"}]}')
    with pytest.raises(SynDiscoError) as e:
        syndisco.Logs.from_json_file(p)
    assert e.value.source == str(p) and "text" in e.value.field


def test_bad_experiment_field(tmp_path):
    m = syndisco.ScriptedModel()
    users = [syndisco.Actor(m, {"username": "u%d" % i}) for i in range(3)]
    with pytest.raises(SynDiscoError) as e:
        syndisco.DiscussionExperiment(users, num_active_users=9)
    assert "num_active_users" in str(e.value)


def test_handles_freed(tmp_path):
    m = syndisco.ScriptedModel(["hi"])
    a = syndisco.Actor(m, {"username": "a"}, name="a")
    with syndisco.Discussion(syndisco.QueueTurnManager(), [a], conv_len=2) as d:
        d.begin(verbose=False)
    assert d._d is None and d._tm is None  # closed by the with block
    with pytest.raises(ValueError, match="closed"):
        d.get_logs()
    d.close()  # twice is harmless
    # not closed: the GC frees it (no crash, no error at exit)
    d2 = syndisco.Discussion(syndisco.QueueTurnManager(), [a], conv_len=1)
    next(d2)
    del d2
    gc.collect()
    m.close()
    m.close()


def test_openai_model_checks_and_hides_key(monkeypatch):
    with pytest.raises(SynDiscoError) as e:
        syndisco.OpenAIModel("m", base_url="ftp://example.org/v1")
    assert e.value.field.startswith("base_url")
    with pytest.raises(ValueError, match="base_url"):
        syndisco.OpenAIModel("m")
    m = syndisco.OpenAIModel("m", base_url="http://127.0.0.1:9/v1",
                             api_key="sk-secret-123")
    assert "sk-secret" not in repr(m)
    with pytest.raises(ValueError, match="api_key_env"):
        m.backend_config()  # experiments never write a key to run.json
    m.close()
    monkeypatch.setenv("MY_KEY", "sk-other")
    m = syndisco.OpenAIModel("m", base_url="http://127.0.0.1:9/v1", api_key_env="MY_KEY")
    cfg = m.backend_config()
    assert cfg["api_key_env"] == "MY_KEY" and "sk-other" not in json.dumps(cfg)
    m.close()


def test_interrupted_turn_continues():
    """A KeyboardInterrupt during a turn leaves the discussion before that
    turn; iterating again gives the uninterrupted log."""

    class Flaky(syndisco.ScriptedModel):
        calls = 0

        def backend(self):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return super().backend()

    def run(model):
        a = syndisco.Actor(model, {"username": "a"}, name="a")
        b = syndisco.Actor(model, {"username": "b"}, name="b")
        d = syndisco.Discussion(syndisco.QueueTurnManager(), [a, b], conv_len=4)
        out = []
        while True:
            try:
                out.extend(d)
                break
            except KeyboardInterrupt:
                out.append("interrupted")
        logs = d.get_logs().get_logs()
        d.close()
        return out, logs

    replies = ["one", "two", "three", "four"]
    got, got_logs = run(Flaky(replies))
    want, want_logs = run(syndisco.ScriptedModel(replies))
    assert got.count("interrupted") == 1
    assert [x for x in got if x != "interrupted"] == want
    assert got_logs == want_logs
