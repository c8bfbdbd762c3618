"""Discussions and annotations, one at a time (SynDisco's ``jobs``).

Both are driven turn by turn from Python over the C library's
offer/accept core: each request goes to the speaker's model and is
stepped there (one short C call per decode step), so Ctrl-C stops a
run between two steps; the discussion is then left before the
interrupted turn, and iterating again (or ``begin()``) continues it.
"""
from __future__ import annotations

import ctypes
import os
import random
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Union)

from . import _native as N
from .actors import Actor
from .errors import SynDiscoError, check
from .logs import Logs, _timestamp
from .model import BaseModel, run_request
from .profiles import profile_id
from .turn_manager import QueueTurnManager, TurnManager

RequestHook = Callable[[str, str, str, str], None]


def _sampling(temperature: float, max_tokens: int = 256) -> "N.SdSampling":
    s = N.lib().sd_sampling_default()
    s.temperature = float(temperature)
    s.max_tokens = int(max_tokens)
    return s


def _system_prompt(actor_handle: int) -> bytes:
    out = ctypes.c_void_p()
    check(N.lib().sd_actor_system_prompt(actor_handle, ctypes.byref(out)))
    return N.take_string(out.value).encode("utf-8")


def _check_int(name: str, v: Any, lo: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("%s must be an int, got %s" % (name, type(v).__name__))
    if v < lo:
        raise ValueError("%s must be >= %d, got %d" % (name, lo, v))
    return v


class _Handles:
    """C actors for a set of Python actors (one per distinct object)."""

    def __init__(self) -> None:
        self.by_id: Dict[int, int] = {}
        self.models: Dict[bytes, BaseModel] = {}

    def get(self, actor: Actor, profile: int, textwrap_len: int) -> int:
        h = self.by_id.get(id(actor))
        if h is None:
            h = actor._create(profile, textwrap_len)
            self.by_id[id(actor)] = h
            if actor.model is not None:
                self.models.setdefault(_system_prompt(h), actor.model)
        return h

    def free(self) -> None:
        for h in self.by_id.values():
            N.lib().sd_actor_free(h)
        self.by_id.clear()


class Discussion:
    """A synthetic discussion (SynDisco 2.2.1's ``Discussion``).

    Args:
        next_turn_manager: who speaks next (:class:`QueueTurnManager`, ...).
        users: the participants, in order; the same actor may appear
            more than once (2.2.1).
        history_context_len: how many previous comments each prompt shows.
        conv_len: prompted user turns.
        seed_opinions: hard-coded opening comments ...
        seed_opinion_usernames: ... and who posts each (2.2.1 needs both;
            2.0.8 draws the posters when None).
        textwrap_len: 2.2.1's history wrap width.
        moderator: (seed, 2.0.8, and ours under 2.2.1) an actor prompted
            after every non-blank user comment. SynDisco 2.2.1 has none:
            there a moderator is an ordinary user listed after each user.
        profile: ``"2.2.1"`` (default), ``"2.0.8"`` or ``"seed"``: whose
            prompts, rules and file format are reproduced byte for byte.
        seed: derives the turn manager's random stream (unless it has its
            own ``random_state``) and every sampler seed.
        temperature: 0 decodes greedily, as SynDisco does.
        on_request: called as ``on_request(speaker, role, system, user)``
            for every request, before it is sent.

    Iterate it to run it turn by turn (each step yields the new comment
    as a dict ``{"name", "text", "model", "prompt"}``; a blank reply
    yields ``{"name", "text": "", "model": ""}``), or call
    :meth:`begin`. Then :meth:`to_json_file` writes the log. Free the C
    state with :meth:`close` or a ``with`` block (the GC frees it too).
    """

    def __init__(self, next_turn_manager: Optional[TurnManager],
                 users: Sequence[Actor], history_context_len: int = 5,
                 conv_len: int = 5, seed_opinions: Optional[Sequence[str]] = None,
                 seed_opinion_usernames: Optional[Sequence[str]] = None,
                 textwrap_len: int = 900000, *, moderator: Optional[Actor] = None,
                 profile: str = "2.2.1", seed: int = 42, temperature: float = 0.0,
                 on_request: Optional[RequestHook] = None) -> None:
        self._d: Optional[int] = None
        self._tm: Optional[int] = None
        self._actors = _Handles()
        self._keep: List[Any] = []
        self._printed = 0
        pid = profile_id(profile)
        self.profile = profile
        users = list(users)
        if not users:
            raise ValueError("a discussion needs at least one user")
        for i, u in enumerate(users):
            if not isinstance(u, Actor):
                raise TypeError("users[%d] must be an Actor, got %s"
                                % (i, type(u).__name__))
            if u.is_annotator:
                raise ValueError("users[%d] (%r) is an annotator" % (i, u.name))
            if u.model is None:
                raise ValueError("users[%d] (%r) has no model" % (i, u.name))
        if moderator is not None and (not isinstance(moderator, Actor)
                                      or moderator.model is None):
            raise TypeError("moderator must be an Actor with a model")
        _check_int("history_context_len", history_context_len)
        _check_int("conv_len", conv_len)
        _check_int("textwrap_len", textwrap_len, 1)
        _check_int("seed", seed)
        if next_turn_manager is None:
            next_turn_manager = QueueTurnManager()
        if not isinstance(next_turn_manager, TurnManager):
            raise TypeError("next_turn_manager must be a syndisco turn manager")
        next_turn_manager.set_actors(users)
        self.users = users
        self.moderator = moderator
        self.next_turn_manager = next_turn_manager
        self.history_context_len = history_context_len
        self.conv_len = conv_len
        self.textwrap_len = textwrap_len
        self.seed = seed
        names = [u.display_name(pid) for u in users]
        opinions = self._seed_opinions(pid, names, seed_opinions,
                                       seed_opinion_usernames, seed)
        L = N.lib()
        try:
            handles = [self._actors.get(u, pid, textwrap_len) for u in users]
            mod = (self._actors.get(moderator, pid, textwrap_len)
                   if moderator is not None else None)
            tm_seed = (seed * 0x9E3779B97F4A7C15 + 0x7475726E) & (2**64 - 1)
            self._tm = next_turn_manager._create(users, names, tm_seed)
            p = L.sd_discussion_default_params()
            p.conv_len = conv_len
            p.history_ctx_len = history_context_len
            p.seed = seed
            p.sampling = _sampling(temperature)
            arr = (N.SdSeedOpinion * max(1, len(opinions)))(
                *[N.SdSeedOpinion(N.enc(u), N.enc(t)) for u, t in opinions])
            p.seed_opinions, p.n_seed_opinions = arr, len(opinions)
            # the C discussion borrows the array of users: keep it alive
            uarr = (ctypes.c_void_p * len(handles))(*handles)
            self._keep.append(uarr)
            err = N.SdError()
            d = L.sd_discussion_create(ctypes.byref(p), uarr, len(handles), mod,
                                       self._tm, ctypes.byref(err))
            if not d:
                raise SynDiscoError.from_error(err)
            self._d = d
            if on_request is not None:
                def hook(speaker, role, req, ud, _f=on_request):
                    r = req.contents
                    _f(N.dec(speaker), N.dec(role), N.dec(r.system_prompt),
                       N.dec(r.user_prompt))
                cb = N.REQUEST_HOOK(hook)
                self._keep.append(cb)
                L.sd_discussion_set_request_hook(d, cb, None)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _seed_opinions(pid, names, opinions, usernames, seed):
        if opinions is None and usernames is None:
            return []
        if opinions is None:
            raise ValueError("seed_opinion_usernames given without seed_opinions")
        if isinstance(opinions, str):
            opinions = [opinions]
        opinions = list(opinions)
        for i, t in enumerate(opinions):
            if not isinstance(t, str):
                raise TypeError("seed_opinions[%d] must be a string" % i)
        if usernames is None:
            if pid == 2:
                raise ValueError("seed_opinions need seed_opinion_usernames "
                                 "(SynDisco 2.2.1)")
            pool = list(dict.fromkeys(names))
            k = min(len(opinions), len(pool))
            usernames = random.Random(seed).sample(pool, k)
        if isinstance(usernames, str):
            usernames = [usernames]
        usernames = list(usernames)
        if pid == 2 and len(usernames) != len(opinions):
            raise ValueError("seed_opinions and seed_opinion_usernames must "
                             "have the same length (%d, %d)"
                             % (len(opinions), len(usernames)))
        for i, u in enumerate(usernames):
            if not isinstance(u, str):
                raise TypeError("seed_opinion_usernames[%d] must be a string" % i)
        return list(zip(usernames, opinions))

    # -- running -----------------------------------------------------------
    def _handle(self) -> int:
        if self._d is None:
            raise ValueError("the discussion is closed")
        return self._d

    def _model_for(self, req: "N.SdRequest") -> BaseModel:
        m = self._actors.models.get(req.system_prompt)
        if m is None:  # one model for everyone, or an unknown prompt
            m = next(iter(self._actors.models.values()))
        return m

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return self

    def __next__(self) -> Dict[str, Any]:
        """Run the next request (a user's turn, or the moderator's) and
        return its comment; StopIteration once the discussion is over."""
        L = N.lib()
        d = self._handle()
        req = N.SdRequest()
        rc = L.sd_discussion_next(d, ctypes.byref(req))
        if rc == 0:
            self.get_logs()._stamp()
            raise StopIteration
        check(rc, what="discussion")
        speaker = N.dec(L.sd_discussion_pending_speaker(d)) or ""
        model = self._model_for(req)
        req.sampling.max_tokens = model.max_out_tokens
        before = len(self.get_logs())
        reply = run_request(model, req)
        try:
            if reply.status != 0:
                raise SynDiscoError(reply.status, N.dec(reply.error) or
                                    "generation failed", model.name)
            check(L.sd_discussion_accept(d, reply.text, ctypes.byref(reply)),
                  what="accept")
        finally:
            L.sd_reply_clear(ctypes.byref(reply))
        logs = self.get_logs()
        if len(logs) > before:
            return logs[len(logs) - 1]
        return {"name": speaker, "text": "", "model": ""}

    def _print_new(self) -> None:
        L = N.lib()
        d = self._handle()
        n = len(self.get_logs())
        while self._printed < n:
            text = L.sd_discussion_display(d, self._printed)
            self._printed += 1
            if text is not None:
                print(N.dec(text), "\n")

    def begin(self, verbose: bool = True) -> None:
        """Run every remaining turn. With ``verbose``, print each comment as
        SynDisco's verbose run does (the history entry, then ``" \\n\\n"``).
        After Ctrl-C, calling it again continues where it stopped."""
        if verbose:
            self._print_new()
        for _ in self:
            if verbose:
                self._print_new()

    # -- results -----------------------------------------------------------
    def get_logs(self) -> Logs:
        """The log so far (a view of the discussion's own; valid while the
        discussion is open)."""
        return Logs(N.lib().sd_discussion_logs_mut(self._handle()), _owner=self)

    def to_json_file(self, output_path: "os.PathLike[str] | str") -> None:
        """Write the log in the profile's format, atomically."""
        self.get_logs().to_json_file(output_path)

    def to_dict(self) -> Dict[str, Any]:
        return self.get_logs().to_dict()

    # -- lifetime ----------------------------------------------------------
    def close(self) -> None:
        """Free the C discussion, its actors and turn manager."""
        L = N.lib()
        if self._d is not None:
            L.sd_discussion_free(self._d)
            self._d = None
        if self._tm is not None:
            L.sd_turn_manager_free(self._tm)
            self._tm = None
        self._actors.free()
        self._keep.clear()

    def __enter__(self) -> "Discussion":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class Annotation:
    """One annotator labels every comment of one discussion (SynDisco's
    ``Annotation``).

    Args:
        annotator: an :class:`Actor` with ``is_annotator=True``.
        discussion_logs: a :class:`Logs`, or the path of a log file.
        history_ctx_len: comments shown, the target included.
        textwrap_len: 2.2.1's history wrap width.
        include_moderator_comments: seed and 2.0.8 skip every name
            containing "moderator" when False (SynDisco's filter).
        label: a label spec dict (``{"values": [...]}``,
            ``{"range": [1, 5]}``, ...; docs/annotations.md): the reply is
            constrained to it and parsed.
        profile, seed, temperature: as for :class:`Discussion`.
    """

    def __init__(self, annotator: Actor, discussion_logs: Union[Logs, str, "os.PathLike[str]"],
                 history_ctx_len: int = 2, textwrap_len: int = 900000, *,
                 include_moderator_comments: bool = True,
                 label: Optional[Dict[str, Any]] = None, profile: str = "2.2.1",
                 seed: int = 42, temperature: float = 0.0,
                 on_request: Optional[RequestHook] = None) -> None:
        self._a: Optional[int] = None
        self._actor: Optional[int] = None
        self._label: Optional[int] = None
        self._source: Optional[str] = None
        self._keep: List[Any] = []
        if not isinstance(annotator, Actor) or not annotator.is_annotator:
            raise ValueError("annotator must be an Actor with is_annotator=True")
        if annotator.model is None:
            raise ValueError("the annotator has no model")
        _check_int("history_ctx_len", history_ctx_len)
        _check_int("textwrap_len", textwrap_len, 1)
        pid = profile_id(profile)
        if isinstance(discussion_logs, Logs):
            logs = discussion_logs
        else:
            self._source = os.fspath(discussion_logs)
            logs = Logs.from_json_file(self._source)
        logs.ensure_id()
        self.logs = logs
        self.annotator = annotator
        self.on_request = on_request
        L = N.lib()
        try:
            self._actor = annotator._create(pid, textwrap_len)
            p = L.sd_annotation_default_params()
            p.history_ctx_len = history_ctx_len
            p.include_moderator = bool(include_moderator_comments)
            p.sampling = _sampling(temperature, annotator.model.max_out_tokens)
            p.seed = _check_int("seed", seed)
            if label is not None:
                import json
                h = ctypes.c_void_p()
                err = N.SdError()
                check(L.sd_label_spec_parse(N.enc(json.dumps(label)), b"<label>",
                                            b"label", ctypes.byref(h),
                                            ctypes.byref(err)), err)
                self._label = h.value
                p.label = self._label
            err = N.SdError()
            a = L.sd_annotation_create(self._actor, logs._handle(), ctypes.byref(p),
                                       ctypes.byref(err))
            if not a:
                raise SynDiscoError.from_error(err)
            self._a = a
        except BaseException:
            self.close()
            raise

    def _handle(self) -> int:
        if self._a is None:
            raise ValueError("the annotation is closed")
        return self._a

    def begin(self, verbose: bool = True) -> None:
        """Annotate every target comment (all in flight at once), then, with
        ``verbose``, print what SynDisco's verbose run prints."""
        L = N.lib()
        a = self._handle()
        model = self.annotator.model
        assert model is not None
        b = model.backend()
        pending: set = set()
        try:
            while True:
                req = N.SdRequest()
                rc = L.sd_annotation_next(a, ctypes.byref(req))
                if rc == 1:
                    if self.on_request is not None:
                        self.on_request(self.annotator.name or "", "annotator",
                                        N.dec(req.system_prompt),
                                        N.dec(req.user_prompt))
                    check(L.sd_backend_submit(b, ctypes.byref(req)), what="submit")
                    pending.add(req.tag)
                    continue
                if rc == 0:
                    break
                if rc != 2:
                    check(rc, what="annotation")
                reply = N.SdReply()
                while L.sd_backend_collect(b, ctypes.byref(reply)) != 1:
                    s = L.sd_backend_step(b)
                    if s < 0:
                        raise SynDiscoError(s, N.dec(L.sd_backend_last_error(b))
                                            or "the backend failed", model.name)
                try:
                    pending.discard(reply.tag)
                    if reply.status != 0:
                        raise SynDiscoError(reply.status, N.dec(reply.error)
                                            or "generation failed", model.name)
                    check(L.sd_annotation_accept(a, reply.tag, reply.text,
                                                 ctypes.byref(reply)), what="accept")
                finally:
                    L.sd_reply_clear(ctypes.byref(reply))
        except BaseException:
            for t in pending:
                L.sd_backend_cancel(b, t)
            raise
        if verbose:
            print(self.printed(), end="")

    def printed(self) -> str:
        """What SynDisco's verbose annotation run prints."""
        out = ctypes.c_void_p()
        check(N.lib().sd_annotation_printed(self._handle(), ctypes.byref(out)))
        return N.take_string(out.value)

    def to_json(self) -> str:
        """The annotation file's text, in the annotator's profile format."""
        model = self.annotator.model
        m = N.SdAnnotationMeta(N.enc(self.annotator.name or "annotator"),
                               N.enc(model.name if model else "unknown"),
                               N.enc(_timestamp()), N.enc(self._source))
        out = ctypes.c_void_p()
        check(N.lib().sd_annotation_to_json(self._handle(), ctypes.byref(m),
                                            ctypes.byref(out)))
        return N.take_string(out.value)

    def to_json_file(self, output_path: "os.PathLike[str] | str") -> None:
        """Write the annotation file atomically."""
        path = os.fspath(output_path)
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        data = self.to_json().encode("utf-8")
        err = N.SdError()
        check(N.lib().sd_file_write_atomic(N.enc(path), data, len(data),
                                           ctypes.byref(err)), err)

    def close(self) -> None:
        """Free the C annotation state (the log passed in stays open)."""
        L = N.lib()
        if self._a is not None:
            L.sd_annotation_free(self._a)
            self._a = None
        if self._actor is not None:
            L.sd_actor_free(self._actor)
            self._actor = None
        if self._label is not None:
            L.sd_label_spec_free(self._label)
            self._label = None

    def __enter__(self) -> "Annotation":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
