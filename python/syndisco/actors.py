"""Personas and actors (SynDisco's ``actors`` module).

A persona is a dict (SynDisco 2.2.1): any JSON object; the usual fields
are ``username, age, sex, sexual_orientation, demographic_group,
current_employment, education_level, special_instructions,
personality_characteristics``. :class:`Persona` is a dict with
``from_json_file``. An :class:`Actor` is a description (model, persona,
context, instructions, role, name); the discussion or annotation that
uses it builds the C actor with its own profile.
"""
from __future__ import annotations

import ctypes
import enum
import json
import os
from typing import Any, Dict, List, Optional

from . import _native as N
from .errors import SynDiscoError, check
from .model import BaseModel


class Persona(dict):
    """A persona: a dict of its fields, in order.

    ``Persona(username="Emma35", age=38, ...)`` or ``Persona({...})``.
    ``Persona.from_json_file(path)`` reads SynDisco's persona files (a JSON
    array of objects). Every persona must have a non-empty string
    ``username`` to take part in seed and 2.0.8 discussions and in
    experiments; 2.2.1 actors may have any dict (or none).
    """

    @classmethod
    def from_json_file(cls, file_path: "os.PathLike[str] | str") -> List["Persona"]:
        """Every persona of a JSON array file, checked by the library:
        errors name the file, the position and the field
        (``personas[2].username``)."""
        path = os.fspath(file_path)
        L = N.lib()
        arr = ctypes.POINTER(ctypes.c_void_p)()
        n = ctypes.c_size_t()
        err = N.SdError()
        rc = L.sd_persona_array_load(N.enc(path), ctypes.byref(arr),
                                     ctypes.byref(n), ctypes.byref(err))
        check(rc, err)
        L.sd_persona_array_free(arr, n)
        with open(path, encoding="utf-8") as f:
            return [cls(p) for p in json.load(f)]

    def to_json(self) -> str:
        return json.dumps(self, ensure_ascii=False)


def _persona_handle(persona: Optional[Dict[str, Any]], what: str,
                    strict: bool = False) -> Optional[int]:
    """A C persona for a dict (None: none); ``strict``: a "username" is
    required (seed and 2.0.8). The caller frees it."""
    if persona is None:
        return None
    if not isinstance(persona, dict):
        raise TypeError("%s: persona must be a dict, got %s"
                        % (what, type(persona).__name__))
    try:
        text = json.dumps(persona, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError("%s: persona is not JSON: %s" % (what, e)) from None
    err = N.SdError()
    L = N.lib()
    make = L.sd_persona_from_json if strict else L.sd_persona_from_json_object
    h = make(N.enc(text), ctypes.byref(err))
    if not h:
        e = SynDiscoError.from_error(err)
        if not e.source:
            e = SynDiscoError(e.code, e.message, what, e.field, e.line, e.column)
        raise e
    return h


class ActorType(str, enum.Enum):
    """SynDisco 2.0.8's actor kinds (2.2.1 says ``is_annotator``)."""
    USER = "user"
    ANNOTATOR = "annotator"


UNNAMED = "<Unnamed>"


class Actor:
    """One participant or annotator (SynDisco 2.2.1's ``Actor``).

    Args:
        model: the model that writes this actor's replies.
        persona: a dict (any JSON object) or None (``{}``).
        context: the discussion's context, in the system prompt.
        instructions: what this actor is told to do.
        is_annotator: an annotator instead of a discussion user.
        name: the actor's name in the discussion. SynDisco 2.2.1's default
            is ``"<Unnamed>"`` whatever the persona says; the seed and
            2.0.8 profiles name actors by their persona's ``username``.
        actor_type: 2.0.8's spelling of ``is_annotator``
            (``ActorType.USER`` / ``ActorType.ANNOTATOR``).

    An Actor holds no C resources; the discussion that uses it does.
    """

    def __init__(self, model: Optional[BaseModel] = None,
                 persona: Optional[Dict[str, Any]] = None, context: str = "",
                 instructions: str = "", is_annotator: bool = False,
                 name: Optional[str] = UNNAMED,
                 actor_type: Optional[ActorType] = None) -> None:
        if model is not None and not isinstance(model, BaseModel):
            raise TypeError("model must be a syndisco model (LlamaModel, "
                            "OpenAIModel, ScriptedModel), got %s"
                            % type(model).__name__)
        if persona is not None and not isinstance(persona, dict):
            raise TypeError("persona must be a dict, got %s" % type(persona).__name__)
        for k, v in (("context", context), ("instructions", instructions)):
            if not isinstance(v, str):
                raise TypeError("%s must be a string, got %s" % (k, type(v).__name__))
        if name is not None and not isinstance(name, str):
            raise TypeError("name must be a string, got %s" % type(name).__name__)
        if actor_type is not None:
            is_annotator = ActorType(actor_type) == ActorType.ANNOTATOR
        self.model = model
        self.persona = persona
        self.context = context
        self.instructions = instructions
        self.is_annotator = bool(is_annotator)
        self.name = name
        # check the persona now: a bad one fails here, not mid-run
        h = _persona_handle(persona, "persona of actor %r" % (name,))
        N.lib().sd_persona_free(h)

    @property
    def username(self) -> Optional[str]:
        p = self.persona or {}
        u = p.get("username")
        return u if isinstance(u, str) else None

    def display_name(self, profile: int) -> str:
        """The name the profile gives this actor."""
        if profile != 2 and self.username:  # seed, 2.0.8
            return self.username if self.name in (None, UNNAMED) else self.name
        return self.name if self.name is not None else UNNAMED

    def _create(self, profile: int, textwrap_len: int = 900000,
                model_name: Optional[str] = None,
                is_moderator_of_seed: bool = False) -> int:
        """Build the C actor (caller frees with sd_actor_free)."""
        L = N.lib()
        ph = _persona_handle(self.persona if self.persona is not None else
                             ({} if profile == 2 else None),
                             "persona of actor %r" % (self.name,),
                             strict=profile != 2)
        try:
            p = L.sd_actor_default_params()
            p.persona = ph
            if profile == 1:
                p.name = None  # 2.0.8: always the persona's username
            else:
                p.name = N.enc(self.display_name(profile))
            mn = model_name or (self.model.name if self.model else None)
            p.model_name = N.enc(mn)
            p.context = N.enc(self.context)
            p.instructions = N.enc(self.instructions)
            p.kind = 1 if self.is_annotator else 0
            p.profile = profile
            rs = self.model.remove_string_list if self.model else []
            arr, n = N.str_array(rs)
            p.remove_strings, p.n_remove_strings = arr, n
            p.textwrap_len = int(textwrap_len)
            err = N.SdError()
            a = L.sd_actor_create(ctypes.byref(p), ctypes.byref(err))
            if not a:
                raise SynDiscoError.from_error(err)
            return a
        finally:
            L.sd_persona_free(ph)

    def get_system_prompt(self, profile: str = "2.2.1") -> str:
        """The system prompt this actor gets under a profile."""
        from .profiles import profile_id
        L = N.lib()
        a = self._create(profile_id(profile))
        try:
            out = ctypes.c_void_p()
            check(L.sd_actor_system_prompt(a, ctypes.byref(out)))
            return N.take_string(out.value)
        finally:
            L.sd_actor_free(a)

    def __repr__(self) -> str:
        return "Actor(name=%r, model=%r, is_annotator=%r)" % (
            self.name, self.model, self.is_annotator)


LLMActor = Actor  # the seed guide's name
