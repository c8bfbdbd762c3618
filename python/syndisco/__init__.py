"""syndisco: SynDisco's Python API on the syndisco C engine.

Synthetic online discussions between LLM personas, their annotation, and
experiments of many discussions, with the prompts, rules and files of
SynDisco 2.2.1 (or 2.0.8, or the seed guide) reproduced byte for byte,
run by the embedded llama.cpp engine or any OpenAI-compatible server.

    import syndisco
    model = syndisco.LlamaModel("model.gguf", max_out_tokens=100)
    a = syndisco.Actor(model, persona={"username": "Emma35"}, name="Emma35",
                       context="An online forum", instructions="Be brief")
    b = syndisco.Actor(model, persona={"username": "Giannis"}, name="Giannis")
    d = syndisco.Discussion(syndisco.QueueTurnManager(), [a, b], conv_len=4)
    d.begin()
    d.to_json_file("discussion.json")
    syndisco.load("output/")        # a pandas DataFrame, one row a comment

See docs/python.md for what differs from SynDisco.
"""
from ._native import LibraryNotFound, library_path
from .actors import Actor, ActorType, LLMActor, Persona
from .dataset import columns, load, load_records
from .errors import SynDiscoError
from .experiments import AnnotationExperiment, DiscussionExperiment, run_status
from .jobs import Annotation, Discussion
from .logs import Logs
from .model import BaseModel, LlamaModel, OpenAIModel, ScriptedModel
from .profiles import PROFILES
from .turn_manager import (OrderTurnManager, QueueTurnManager, RandomTurnManager,
                           RandomWeighted, RespondTurnManager, RoundRobbin,
                           RoundRobin, TurnManager)

__version__ = "0.1.0"

__all__ = [
    "Actor", "ActorType", "Annotation", "AnnotationExperiment", "BaseModel",
    "Discussion", "DiscussionExperiment", "LLMActor", "LibraryNotFound",
    "LlamaModel", "Logs", "OpenAIModel", "OrderTurnManager", "PROFILES",
    "Persona", "QueueTurnManager", "RandomTurnManager", "RandomWeighted",
    "RespondTurnManager", "RoundRobbin", "RoundRobin", "ScriptedModel",
    "SynDiscoError", "TurnManager", "columns", "library_path", "load",
    "load_records", "run_status",
]
