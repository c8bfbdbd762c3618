"""Many discussions or annotations at once (SynDisco's ``experiments``),
run by the C library's experiment runner: batched on one model
(``parallel=``), resumable (complete files are skipped; run the same
experiment into the same directory again), shardable across machines,
with a progress bar when stderr is a terminal.

An experiment built from Python objects is turned into the same JSON
config ``syndisco run`` / ``syndisco annotate`` read (see
:meth:`DiscussionExperiment.to_config`), so the CLI and Python write the
same files for it. ``from_config_file`` runs any config file as is.
"""
from __future__ import annotations

import ctypes
import json
import os
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import _native as N
from ._run import run_blocking
from .actors import Actor
from .errors import check
from .model import BaseModel
from .profiles import profile_id
from .turn_manager import TurnManager

PathLike = "os.PathLike[str] | str"


def _same(values: Sequence[Any], what: str) -> Any:
    if any(v != values[0] for v in values):
        raise ValueError("every user of an experiment must have the same %s "
                         "(use roles= for users with other instructions)" % what)
    return values[0]


def _load_config(loader: Callable, config: Dict[str, Any], *extra: Any) -> int:
    """Write the config to a temporary file and load it (the loader reads
    everything it names at once)."""
    fd, path = tempfile.mkstemp(prefix="syndisco-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=1)
        return _load_file(loader, path, *extra)
    finally:
        os.unlink(path)


def _load_file(loader: Callable, path: str, *extra: Any) -> int:
    h = ctypes.c_void_p()
    err = N.SdError()
    check(loader(N.enc(path), *extra, ctypes.byref(h), ctypes.byref(err)), err)
    return h.value


def run_status(output_dir: PathLike, shard_count: int = 0) -> Dict[str, Any]:
    """The state of a run directory (``syndisco status --json``): cells,
    done/total, the missing indices, whether it is complete."""
    out = ctypes.c_void_p()
    complete = ctypes.c_bool()
    err = N.SdError()
    check(N.lib().sd_run_status_json(N.enc(os.fspath(output_dir)), shard_count,
                                     ctypes.byref(out), ctypes.byref(complete),
                                     ctypes.byref(err)), err)
    return json.loads(N.take_string(out.value))


class _Runner:
    _config: Optional[Dict[str, Any]] = None
    _config_path: Optional[str] = None
    _kind = "run"

    def to_config(self) -> Dict[str, Any]:
        """The JSON config ``syndisco run`` (or ``annotate``) would read."""
        if self._config is None:
            with open(self._config_path, encoding="utf-8") as f:  # type: ignore[arg-type]
                return json.load(f)
        return json.loads(json.dumps(self._config))

    def write_config(self, path: PathLike) -> None:
        """Save :meth:`to_config` as a file for the CLI."""
        with open(os.fspath(path), "w", encoding="utf-8") as f:
            json.dump(self.to_config(), f, indent=1)
            f.write("\n")


class DiscussionExperiment(_Runner):
    """Many discussions with participants drawn from a pool (SynDisco's
    ``DiscussionExperiment``).

    Args:
        users: the pool of user actors (all with the same model, context
            and instructions; ``roles`` give some users other instructions).
        seed_opinions: SynDisco's list of opening-comment lists; one is
            drawn per discussion, its comments posted by random participants.
        moderator: an optional moderator actor.
        next_turn_manager: who speaks next (default round robin).
        history_ctx_len, num_turns, num_active_users, num_discussions: as
            in SynDisco.
        seed: the run seed; discussion i is fixed by (seed, cell, i).
        profile: ``"2.2.1"`` (default), ``"2.0.8"`` or ``"seed"``.
        roles, conditions, random_usernames, seed_opinion_posters,
        textwrap_len: the experiment config's fields (docs/experiments.md).
    """

    def __init__(self, users: Sequence[Actor],
                 seed_opinions: Optional[Sequence[Any]] = None,
                 moderator: Optional[Actor] = None,
                 next_turn_manager: Optional[TurnManager] = None,
                 history_ctx_len: int = 3, num_turns: int = 10,
                 num_active_users: int = 2, num_discussions: int = 5, *,
                 seed: int = 42, profile: str = "2.2.1",
                 roles: Optional[List[Dict[str, Any]]] = None,
                 conditions: Optional[Dict[str, Any]] = None,
                 random_usernames: bool = False,
                 seed_opinion_posters: Optional[str] = None,
                 textwrap_len: Optional[int] = None) -> None:
        users = list(users)
        if not users:
            raise ValueError("an experiment needs users")
        for i, u in enumerate(users):
            if not isinstance(u, Actor):
                raise TypeError("users[%d] must be an Actor" % i)
            if u.model is None:
                raise ValueError("users[%d] has no model" % i)
            if not u.username:
                raise ValueError("users[%d]: an experiment's personas need a "
                                 "\"username\"" % i)
        profile_id(profile)
        model: BaseModel = users[0].model  # type: ignore[assignment]
        if any(u.model is not model for u in users):
            raise ValueError("every user of an experiment must share one model")
        cfg: Dict[str, Any] = {
            "syndisco": profile,
            "seed": seed,
            "personas": [u.persona for u in users],
            "context": _same([u.context for u in users], "context"),
            "instructions": _same([u.instructions for u in users], "instructions"),
            "num_turns": num_turns,
            "num_active_users": num_active_users,
            "num_discussions": num_discussions,
            "history_ctx_len": history_ctx_len,
            "remove_strings": model.remove_string_list,
            "sampling": {"max_tokens": model.max_out_tokens, "temperature": 0},
            "backend": model.backend_config(),
        }
        if moderator is not None:
            m: Dict[str, Any] = {"persona": moderator.persona,
                                 "instructions": moderator.instructions}
            if moderator.context != cfg["context"]:
                m["context"] = moderator.context
            if moderator.model is not None and moderator.model is not model:
                m["model_name"] = moderator.model.name
                m["remove_strings"] = moderator.model.remove_string_list
            cfg["moderator"] = m
        if next_turn_manager is not None:
            cfg["turn_manager"] = next_turn_manager.config()
        ops = [o for o in (seed_opinions or []) if o]
        if ops:
            cfg["seed_opinions"] = [list(o) if not isinstance(o, str) else o
                                    for o in ops]
        for k, v in (("roles", roles), ("conditions", conditions),
                     ("seed_opinion_posters", seed_opinion_posters),
                     ("textwrap_len", textwrap_len)):
            if v is not None:
                cfg[k] = v
        if random_usernames:
            cfg["random_usernames"] = True
        self._config = cfg
        self.model = model
        self._check()

    @classmethod
    def from_config_file(cls, path: PathLike) -> "DiscussionExperiment":
        """An experiment described by a config file (docs/experiments.md),
        run exactly as ``syndisco run`` runs it."""
        self = cls.__new__(cls)
        self._config = None
        self._config_path = os.path.abspath(os.fspath(path))
        self.model = None
        self._check()
        return self

    def _load(self) -> int:
        L = N.lib()
        if self._config is None:
            return _load_file(L.sd_experiment_load, self._config_path)
        return _load_config(L.sd_experiment_load, self._config)

    def _check(self) -> None:
        L = N.lib()
        L.sd_experiment_free(self._load())  # errors now, not at begin()

    def begin(self, discussions_output_dir: PathLike = "./output",
              verbose: bool = True, *, parallel: int = 8,
              shard: Optional[Tuple[int, int]] = None, force: bool = False,
              progress: Optional[bool] = None,
              on_log: Optional[Callable[[int, str], None]] = None,
              on_progress: Optional[Callable[[Dict[str, Any]], None]] = None
              ) -> Dict[str, Any]:
        """Run (or resume) every discussion into
        ``discussions_output_dir/<cell>/<index>.json``.

        Args:
            parallel: discussions in flight at once, batched on the model.
            shard: ``(K, N)`` runs only the discussions i with i % N == K.
            force: resume even if the directory holds another config.
            progress: the bar on stderr; None draws it when stderr is a
                terminal (``verbose=False`` turns it off).
            on_log: ``on_log(level, message)`` for the runner's log lines.
            on_progress: called with the counts (total, done, skipped,
                failed, active, turns, tokens, seconds) as the run goes.

        Complete files are skipped, so running again after Ctrl-C, a
        crash or a failed discussion finishes the rest. Returns the run's
        counts (done, skipped, failed, turns, tokens, seconds).
        Ctrl-C stops the run (nothing partial is written) and raises
        KeyboardInterrupt.
        """
        N.global_init()
        L = N.lib()
        out = os.fspath(discussions_output_dir)
        e = self._load()
        try:
            prog = run_blocking(L.sd_experiment_run, e, out, parallel, shard,
                                force, progress if verbose else False,
                                "discussions", on_log, on_progress)
        finally:
            L.sd_experiment_free(e)
        return {k: getattr(prog, k) for k, _ in N.SdRunProgress._fields_}


class AnnotationExperiment(_Runner):
    """Every annotator labels every discussion log found under a directory
    (SynDisco's ``AnnotationExperiment``), batched on the model.

    Args:
        annotators: annotator actors (``is_annotator=True``), one model.
        history_ctx_len: comments shown before the target comment.
        include_mod_comments: annotate and show moderator comments.
        labels: per annotator (by position) a label spec dict or None
            (docs/annotations.md): replies are constrained and parsed.
        seed, profile: as for experiments.
    """

    def __init__(self, annotators: Sequence[Actor], history_ctx_len: int = 3,
                 include_mod_comments: bool = True, *,
                 labels: Optional[Sequence[Optional[Dict[str, Any]]]] = None,
                 seed: int = 42, profile: str = "2.2.1") -> None:
        annotators = list(annotators)
        if not annotators:
            raise ValueError("an annotation experiment needs annotators")
        profile_id(profile)
        model = annotators[0].model
        out = []
        for i, a in enumerate(annotators):
            if not isinstance(a, Actor) or not a.is_annotator:
                raise ValueError("annotators[%d] must be an Actor with "
                                 "is_annotator=True" % i)
            if a.model is None or a.model is not model:
                raise ValueError("every annotator must share one model")
            name = a.name if a.name and a.name != "<Unnamed>" else "annotator%d" % i
            e: Dict[str, Any] = {"name": name, "instructions": a.instructions,
                                 "context": a.context}
            if a.persona is not None:
                e["persona"] = a.persona
            if labels is not None and i < len(labels) and labels[i] is not None:
                e["label"] = labels[i]
            out.append(e)
        assert model is not None
        self._config = {
            "syndisco": profile, "seed": seed, "history_ctx_len": history_ctx_len,
            "include_moderator": bool(include_mod_comments),
            "remove_strings": model.remove_string_list,
            "sampling": {"max_tokens": model.max_out_tokens, "temperature": 0},
            "backend": model.backend_config(), "annotators": out,
            "discussions": [],
        }

    @classmethod
    def from_config_file(cls, path: PathLike) -> "AnnotationExperiment":
        """An annotation config file (docs/annotations.md), run as
        ``syndisco annotate`` runs it."""
        self = cls.__new__(cls)
        self._config = None
        self._config_path = os.path.abspath(os.fspath(path))
        return self

    def begin(self, discussions_dir: PathLike, output_dir: PathLike,
              verbose: bool = True, *, parallel: int = 8,
              shard: Optional[Tuple[int, int]] = None, force: bool = False,
              progress: Optional[bool] = None,
              on_log: Optional[Callable[[int, str], None]] = None,
              on_progress: Optional[Callable[[Dict[str, Any]], None]] = None
              ) -> Dict[str, Any]:
        """Annotate every log under ``discussions_dir`` (a directory, a file
        or a list of them) into ``output_dir/<annotator>/<conv-id>.json``;
        resumable like :meth:`DiscussionExperiment.begin`."""
        N.global_init()
        L = N.lib()
        dirs = discussions_dir if isinstance(discussions_dir, (list, tuple)) \
            else [discussions_dir]
        arr, n = N.str_array([os.path.abspath(os.fspath(d)) for d in dirs])
        if self._config is None:
            a = _load_file(L.sd_annotate_load, self._config_path, arr, n)
        else:
            a = _load_config(L.sd_annotate_load, self._config, arr, n)
        try:
            prog = run_blocking(L.sd_annotate_run, a, os.fspath(output_dir),
                                parallel, shard, force,
                                progress if verbose else False, "annotations",
                                on_log, on_progress)
        finally:
            L.sd_annotate_free(a)
        return {k: getattr(prog, k) for k, _ in N.SdRunProgress._fields_}
