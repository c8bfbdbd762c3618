"""Models: the engines that write the replies.

In place of SynDisco's ``TransformersModel`` / ``OpenAIModel``:

* :class:`LlamaModel` — a GGUF file run by the embedded llama.cpp engine;
* :class:`OpenAIModel` — any OpenAI-compatible server (vLLM, TGI, SGLang,
  llama-server, Ollama, a hosted API);
* :class:`ScriptedModel` — canned replies, for tests and dry runs.

Every model has SynDisco's ``name``, ``max_out_tokens`` and
``remove_string_list``. A model opens its C backend when first used and
frees it on :meth:`BaseModel.close` (also as a context manager, and when
garbage-collected).
"""
from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, Dict, Optional, Sequence

from . import _native as N
from .errors import SynDiscoError, check


class BaseModel:
    """What every model shares. Not used directly."""

    def __init__(self, name: str, max_out_tokens: int = 256,
                 remove_string_list: Optional[Sequence[str]] = None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("model name must be a non-empty string, got %r" % (name,))
        if not isinstance(max_out_tokens, int) or max_out_tokens <= 0:
            raise ValueError("max_out_tokens must be a positive int, got %r"
                             % (max_out_tokens,))
        rs = list(remove_string_list or [])
        if not all(isinstance(s, str) for s in rs):
            raise TypeError("remove_string_list must be a list of strings")
        self.name = name
        self.max_out_tokens = max_out_tokens
        self.remove_string_list = rs
        self._backend: Optional[int] = None
        self._lock = threading.Lock()

    # -- the C backend ------------------------------------------------
    def _open(self, parallel: int = 1) -> int:
        raise NotImplementedError

    def backend(self) -> int:
        """The C backend handle (opened on first use)."""
        with self._lock:
            if self._backend is None:
                self._backend = self._open()
            return self._backend

    def backend_config(self) -> Dict[str, Any]:
        """The ``backend`` section of a syndisco config for this model."""
        raise NotImplementedError

    def close(self) -> None:
        """Free the backend (the model's weights for LlamaModel)."""
        with self._lock:
            if self._backend is not None:
                N.lib().sd_backend_free(self._backend)
                self._backend = None

    def __enter__(self) -> "BaseModel":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return "%s(name=%r)" % (type(self).__name__, self.name)


class LlamaModel(BaseModel):
    """A GGUF model run in-process by llama.cpp.

    Args:
        gguf_path: the model file.
        name: what logs record as each comment's ``model``; default the
            file name without ``.gguf``.
        max_out_tokens: the longest reply, in tokens (SynDisco's
            ``max_out_tokens``).
        remove_string_list: strings removed from every reply, in order,
            after the reply is stripped.
        n_ctx: context per discussion, in tokens.
        n_threads: decode threads (default: OMP_NUM_THREADS, else the CPUs
            this process may run on).
        n_gpu_layers: layers offloaded to a GPU (-1 all; needs a GPU build).
        chat_template: force a llama.cpp built-in template (``"llama3"``,
            ``"chatml"``, ...) or template text; default the model's own.
        stop: stop strings (the reply is cut before them).

    A missing file or one that is not GGUF raises
    :class:`~syndisco.SynDiscoError` (``kind`` ``"ENOTFOUND"`` or
    ``"EPARSE"``) here; the weights load when a discussion first uses
    the model (a file llama.cpp refuses fails then). Experiments load it
    themselves, with as many sequences as they run in parallel.
    """

    def __init__(self, gguf_path: str, name: Optional[str] = None,
                 max_out_tokens: int = 256,
                 remove_string_list: Optional[Sequence[str]] = None,
                 n_ctx: int = 4096, n_threads: Optional[int] = None,
                 n_gpu_layers: int = 0, chat_template: Optional[str] = None,
                 stop: Optional[Sequence[str]] = None) -> None:
        gguf_path = os.fspath(gguf_path)
        if name is None:
            base = os.path.basename(gguf_path)
            name = base[:-5] if base.endswith(".gguf") else base
        super().__init__(name, max_out_tokens, remove_string_list)
        self.gguf_path = gguf_path
        self.n_ctx = int(n_ctx)
        self.n_threads = n_threads
        self.n_gpu_layers = int(n_gpu_layers)
        self.chat_template = chat_template
        self.stop = list(stop or [])
        self._check_file()

    def _check_file(self) -> None:
        """Fail now on a missing or non-GGUF file, as SynDisco's models
        fail at construction; the weights load on first use (an
        experiment loads them itself, batched, and never here)."""
        try:
            with open(self.gguf_path, "rb") as f:
                magic = f.read(4)
        except FileNotFoundError:
            raise SynDiscoError(-7, "no such model file", self.gguf_path) from None
        except OSError as e:
            raise SynDiscoError(-3, "cannot read the model file: %s" % e.strerror,
                                self.gguf_path) from None
        if magic != b"GGUF":
            raise SynDiscoError(-4, "not a GGUF model file", self.gguf_path)

    def _open(self, parallel: int = 1) -> int:
        N.global_init()
        L = N.lib()
        p = L.sd_llama_default_params()
        p.model_path = N.enc(self.gguf_path)
        p.model_name = N.enc(self.name)
        p.n_ctx = self.n_ctx
        if self.n_threads:
            p.n_threads = int(self.n_threads)
        p.n_gpu_layers = self.n_gpu_layers
        p.chat_template = N.enc(self.chat_template)
        stop, n = N.str_array(self.stop)
        p.stop, p.n_stop = stop, n
        err = N.SdError()
        b = L.sd_backend_llama_create(ctypes.byref(p), ctypes.byref(err))
        if not b:
            raise SynDiscoError.from_error(err)
        return b

    def backend_config(self) -> Dict[str, Any]:
        c: Dict[str, Any] = {"type": "llama", "model": os.path.abspath(self.gguf_path),
                             "model_name": self.name, "n_ctx": self.n_ctx}
        if self.n_threads:
            c["n_threads"] = int(self.n_threads)
        if self.n_gpu_layers:
            c["n_gpu_layers"] = self.n_gpu_layers
        if self.chat_template:
            c["chat_template"] = self.chat_template
        if self.stop:
            c["stop"] = self.stop
        return c


class OpenAIModel(BaseModel):
    """An OpenAI-compatible chat server (``POST {base_url}/chat/completions``).

    Args:
        model: the name the server serves (``GET /v1/models``).
        base_url: e.g. ``"http://127.0.0.1:8080/v1"``; or give ``base_urls``
            (several servers of one model, load-balanced).
        api_key_env: the environment variable holding the API key (never
            logged, never written to a file). SynDisco's ``api_key``
            argument is accepted too, but keys in code end up in notebooks:
            prefer the variable.
        name: what logs record as ``model``; default ``model``.
        max_out_tokens, remove_string_list: as for every model.
        extra_body: a dict merged into every request body.
        grammar_field: ``"grammar"`` (llama-server), ``"guided_grammar"``
            (vLLM) or None.
    """

    def __init__(self, model: str, base_url: Optional[str] = None,
                 api_key_env: Optional[str] = None, name: Optional[str] = None,
                 max_out_tokens: int = 256,
                 remove_string_list: Optional[Sequence[str]] = None,
                 base_urls: Optional[Sequence[str]] = None,
                 api_key: Optional[str] = None,
                 extra_body: Optional[Dict[str, Any]] = None,
                 grammar_field: Optional[str] = "grammar",
                 request_timeout: float = 600.0) -> None:
        super().__init__(name or model, max_out_tokens, remove_string_list)
        urls = list(base_urls or ([base_url] if base_url else []))
        if not urls:
            raise ValueError("OpenAIModel needs base_url (or base_urls)")
        self.model = model
        self.base_urls = urls
        self.api_key_env = api_key_env
        self._api_key = api_key
        self.extra_body = extra_body
        self.grammar_field = grammar_field
        self.request_timeout = float(request_timeout)
        self.backend()  # checks the URLs and fields now

    def _key(self) -> Optional[str]:
        if self._api_key is not None:
            return self._api_key
        if self.api_key_env:
            return os.environ.get(self.api_key_env)
        return None

    def _open(self, parallel: int = 1) -> int:
        import json
        L = N.lib()
        p = L.sd_openai_default_params()
        urls, n = N.str_array(self.base_urls)
        p.base_urls, p.n_base_urls = urls, n
        p.model = N.enc(self.model)
        p.model_name = N.enc(self.name)
        p.api_key = N.enc(self._key())
        p.extra_body = N.enc(json.dumps(self.extra_body)) if self.extra_body else None
        p.grammar_field = N.enc(self.grammar_field)
        p.request_timeout = self.request_timeout
        err = N.SdError()
        b = L.sd_backend_openai_create(ctypes.byref(p), ctypes.byref(err))
        if not b:
            raise SynDiscoError.from_error(err)
        return b

    def backend_config(self) -> Dict[str, Any]:
        c: Dict[str, Any] = {"type": "openai", "base_urls": self.base_urls,
                             "model": self.model, "model_name": self.name,
                             "request_timeout": self.request_timeout}
        if self.api_key_env:
            c["api_key_env"] = self.api_key_env
        elif self._api_key is not None:
            raise ValueError("experiments read the key from the environment: "
                             "give OpenAIModel(api_key_env=...) instead of api_key")
        if self.extra_body:
            c["extra_body"] = self.extra_body
        if self.grammar_field != "grammar":
            c["grammar_field"] = self.grammar_field
        return c

    def __repr__(self) -> str:  # never the key
        return "OpenAIModel(model=%r, base_urls=%r)" % (self.model, self.base_urls)


class ScriptedModel(BaseModel):
    """Canned replies: ``replies[i % len(replies)]`` for the i-th request
    (of this model), or, without replies, an echo of each prompt's last
    line. For tests, replays and dry runs; no weights."""

    def __init__(self, replies: Optional[Sequence[str]] = None,
                 name: str = "scripted", max_out_tokens: int = 256,
                 remove_string_list: Optional[Sequence[str]] = None) -> None:
        super().__init__(name, max_out_tokens, remove_string_list)
        if replies is not None and not all(isinstance(r, str) for r in replies):
            raise TypeError("replies must be strings")
        self.replies = None if replies is None else list(replies)

    def _open(self, parallel: int = 1) -> int:
        L = N.lib()
        p = L.sd_scripted_default_params()
        if self.replies is None:
            p.mode = 1
        else:
            p.mode = 0
            arr, n = N.str_array(self.replies or [""])
            p.replies, p.n_replies = arr, n
        p.model_name = N.enc(self.name)
        err = N.SdError()
        b = L.sd_backend_scripted_create(ctypes.byref(p), ctypes.byref(err))
        if not b:
            raise SynDiscoError.from_error(err)
        return b

    def backend_config(self) -> Dict[str, Any]:
        c: Dict[str, Any] = {"type": "scripted", "model_name": self.name}
        if self.replies is not None:
            c["replies"] = self.replies or [""]
        return c


def run_request(model: BaseModel, req: "N.SdRequest") -> "N.SdReply":
    """Submit one request to the model's backend and step it until its
    reply is ready. Each step is one short C call (one decode step), so
    Ctrl-C between steps stops here: the request is then cancelled and
    KeyboardInterrupt propagates."""
    L = N.lib()
    b = model.backend()
    check(L.sd_backend_submit(b, ctypes.byref(req)), what="submit")
    reply = N.SdReply()
    idle = 0
    try:
        while True:
            if L.sd_backend_collect(b, ctypes.byref(reply)) == 1:
                return reply
            rc = L.sd_backend_step(b)
            if rc < 0:
                msg = N.dec(L.sd_backend_last_error(b)) or ""
                raise SynDiscoError(rc, msg or "the backend failed", model.name)
            idle = idle + 1 if rc == 0 else 0
            if idle > 1:
                raise SynDiscoError(-6, "the backend has nothing pending and "
                                    "no reply", model.name)
    except BaseException:
        L.sd_backend_cancel(b, req.tag)
        raise
