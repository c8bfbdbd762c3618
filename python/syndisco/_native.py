"""ctypes bindings to libsyndisco.so: the structs and prototypes of
include/syndisco.h that the package uses, and how the library is found.

The library is looked for, in this order:

1. the file named by the environment variable ``SYNDISCO_LIBRARY``;
2. the copy carried in the package, ``syndisco/_lib/libsyndisco.so*``
   (``scripts/demo.sh`` and ``scripts/python-package.sh`` put it there
   before ``pip install``);
3. the system loader: ``libsyndisco.so.0`` on the usual paths
   (``LD_LIBRARY_PATH``, ``/etc/ld.so.conf``; e.g. after ``cmake --install``).

Nothing here needs a compiler: ctypes ships with Python. ctypes.CDLL
releases the GIL around every call, so long C calls let other Python
threads run.
"""
from __future__ import annotations

import ctypes
import glob
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char, c_char_p,
                    c_double, c_float, c_int, c_int32, c_size_t, c_uint32,
                    c_uint64, c_void_p)
from typing import Optional

SONAME = "libsyndisco.so.0"


class LibraryNotFound(OSError):
    """libsyndisco.so could not be loaded from any of the places searched."""


def _candidates() -> list:
    out = []
    env = os.environ.get("SYNDISCO_LIBRARY")
    if env:
        return [("SYNDISCO_LIBRARY", env)]
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib")
    for p in sorted(glob.glob(os.path.join(here, "libsyndisco.so*")), key=len):
        out.append(("package", p))
    out.append(("system loader", SONAME))
    return out


def _load() -> ctypes.CDLL:
    tried = []
    for where, path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            lib._syndisco_path = path  # type: ignore[attr-defined]
            return lib
        except OSError as e:
            tried.append("%s (%s): %s" % (path, where, e))
    raise LibraryNotFound(
        "libsyndisco.so not found; set SYNDISCO_LIBRARY to its path, install "
        "the package from a build (scripts/demo.sh), or install the library. "
        "Tried: " + "; ".join(tried))


# ------------------------------------------------------------------ structs


class SdError(Structure):
    _fields_ = [("code", c_int), ("line", c_int), ("column", c_int),
                ("source", c_char * 256), ("field", c_char * 128),
                ("text", c_char * 512)]


class SdPromptTemplates(Structure):
    _fields_ = [("history_entry", c_char_p), ("history_sep", c_char_p),
                ("user_prompt", c_char_p), ("annotator_prompt", c_char_p),
                ("wrap_user_json", c_int)]


class SdActorParams(Structure):
    _fields_ = [("persona", c_void_p), ("name", c_char_p),
                ("model_name", c_char_p), ("context", c_char_p),
                ("instructions", c_char_p), ("kind", c_int),
                ("profile", c_int), ("templates", SdPromptTemplates),
                ("remove_strings", POINTER(c_char_p)),
                ("n_remove_strings", c_size_t), ("textwrap_len", c_int32)]


class SdSampling(Structure):
    _fields_ = [("max_tokens", c_int32), ("temperature", c_float),
                ("top_p", c_float), ("top_k", c_int32), ("min_p", c_float),
                ("repeat_penalty", c_float), ("repeat_last_n", c_int32),
                ("seed", c_uint32)]


class SdRequest(Structure):
    _fields_ = [("tag", c_uint64), ("system_prompt", c_char_p),
                ("user_prompt", c_char_p), ("sampling", SdSampling),
                ("grammar", c_char_p)]


class SdReply(Structure):
    _fields_ = [("tag", c_uint64), ("status", c_int), ("text", c_char_p),
                ("error", c_char_p), ("n_prompt_tokens", c_int32),
                ("n_gen_tokens", c_int32), ("seconds", c_double),
                ("n_prompt_cached", c_int32)]


class SdScriptedParams(Structure):
    _fields_ = [("mode", c_int), ("replies", POINTER(c_char_p)),
                ("n_replies", c_size_t), ("model_name", c_char_p),
                ("max_active", c_int)]


class SdLlamaParams(Structure):
    _fields_ = [("model_path", c_char_p), ("model_name", c_char_p),
                ("n_ctx", c_int32), ("n_seq_max", c_int32),
                ("n_batch", c_int32), ("n_threads", c_int32),
                ("n_gpu_layers", c_int32), ("chat_template", c_char_p),
                ("fallback_chat_template", c_char_p),
                ("stop", POINTER(c_char_p)), ("n_stop", c_size_t),
                ("n_prefix_cache", c_int32)]


class SdOpenaiParams(Structure):
    _fields_ = [("base_urls", POINTER(c_char_p)), ("n_base_urls", c_size_t),
                ("model", c_char_p), ("model_name", c_char_p),
                ("api_key", c_char_p), ("max_tokens", c_int32),
                ("temperature", c_float), ("top_p", c_float),
                ("send_seed", c_bool), ("stop", POINTER(c_char_p)),
                ("n_stop", c_size_t), ("extra_body", c_char_p),
                ("grammar_field", c_char_p), ("request_timeout", c_double),
                ("connect_timeout", c_double), ("max_in_flight", c_int32),
                ("max_retries", c_int32), ("backoff_initial", c_double),
                ("backoff_max", c_double), ("down_deadline", c_double)]


class SdTurnParams(Structure):
    _fields_ = [("kind", c_int), ("p_respond", c_double),
                ("random_first", c_bool), ("seed", c_uint64),
                ("order", POINTER(c_size_t)), ("n_order", c_size_t),
                ("p_mention", c_double), ("fallback", c_int),
                ("director_instructions", c_char_p),
                ("exclude_last_speaker", c_bool), ("silent_turns", c_int32)]


class SdLogComment(Structure):
    _fields_ = [("name", c_char_p), ("text", c_char_p), ("model", c_char_p),
                ("prompt", c_char_p), ("user_prompt", c_char_p),
                ("is_moderator", c_bool), ("n_prompt_tokens", c_int32),
                ("n_gen_tokens", c_int32)]


class SdSeedOpinion(Structure):
    _fields_ = [("username", c_char_p), ("text", c_char_p)]


class SdDiscussionParams(Structure):
    _fields_ = [("conv_len", c_int32), ("history_ctx_len", c_int32),
                ("history_ctx_tokens", c_int32),
                ("seed", c_uint64), ("sampling", SdSampling),
                ("seed_opinions", POINTER(SdSeedOpinion)),
                ("n_seed_opinions", c_size_t)]


class SdAnnotationParams(Structure):
    _fields_ = [("history_ctx_len", c_int32), ("include_moderator", c_bool),
                ("sampling", SdSampling), ("seed", c_uint64),
                ("label", c_void_p), ("max_retries", c_int32)]


class SdAnnotationMeta(Structure):
    _fields_ = [("annotator", c_char_p), ("model", c_char_p),
                ("timestamp", c_char_p), ("source", c_char_p)]


class SdRunProgress(Structure):
    _fields_ = [("total", c_size_t), ("skipped", c_size_t),
                ("done", c_size_t), ("failed", c_size_t),
                ("active", c_size_t), ("turns", c_uint64),
                ("gen_tokens", c_uint64), ("prompt_tokens", c_uint64),
                ("prompt_cached", c_uint64), ("seconds", c_double),
                ("load_seconds", c_double), ("load_cpu_seconds", c_double),
                ("finished", c_bool)]


PROGRESS_FN = CFUNCTYPE(None, POINTER(SdRunProgress), c_void_p)
LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
REQUEST_HOOK = CFUNCTYPE(None, c_char_p, c_char_p, POINTER(SdRequest), c_void_p)
TEXT_FN = CFUNCTYPE(None, c_char_p, c_void_p)
WRITE_FN = CFUNCTYPE(c_int, POINTER(c_char), c_size_t, c_void_p)


class SdRunParams(Structure):
    _fields_ = [("out_dir", c_char_p), ("parallel", c_int32),
                ("shard_index", c_uint32), ("shard_count", c_uint32),
                ("force", c_bool), ("default_model", c_char_p),
                ("stop", POINTER(c_int)), ("on_progress", PROGRESS_FN),
                ("on_log", LOG_FN), ("on_request", REQUEST_HOOK),
                ("on_text", TEXT_FN), ("ud", c_void_p)]


class SdDatasetParams(Structure):
    _fields_ = [("log_paths", POINTER(c_char_p)), ("n_log_paths", c_size_t),
                ("annotation_paths", POINTER(c_char_p)),
                ("n_annotation_paths", c_size_t)]


E = POINTER(SdError)
P = c_void_p  # every opaque handle

# name: (restype, argtypes)
_PROTOS = {
    "sd_strerror": (c_char_p, [c_int]),
    "sd_free": (None, [c_void_p]),
    "sd_global_init": (None, [c_bool]),
    "sd_global_free": (None, []),
    "sd_profile_from_name": (c_int, [c_char_p, POINTER(c_int)]),
    "sd_persona_from_json": (P, [c_char_p, E]),
    "sd_persona_from_json_object": (P, [c_char_p, E]),
    "sd_persona_array_from_json": (c_int, [c_char_p, c_char_p, POINTER(POINTER(P)), POINTER(c_size_t), E]),
    "sd_persona_array_load": (c_int, [c_char_p, POINTER(POINTER(P)), POINTER(c_size_t), E]),
    "sd_persona_to_prompt_json": (c_void_p, [P]),
    "sd_persona_free": (None, [P]),
    "sd_persona_array_free": (None, [POINTER(P), c_size_t]),
    "sd_actor_default_params": (SdActorParams, []),
    "sd_actor_create": (P, [POINTER(SdActorParams), E]),
    "sd_actor_free": (None, [P]),
    "sd_actor_system_prompt": (c_int, [P, POINTER(c_void_p)]),
    "sd_prompt_templates_default": (SdPromptTemplates, []),
    "sd_sampling_default": (SdSampling, []),
    "sd_reply_clear": (None, [POINTER(SdReply)]),
    "sd_backend_submit": (c_int, [P, POINTER(SdRequest)]),
    "sd_backend_step": (c_int, [P]),
    "sd_backend_collect": (c_int, [P, POINTER(SdReply)]),
    "sd_backend_cancel": (c_int, [P, c_uint64]),
    "sd_backend_model_name": (c_char_p, [P]),
    "sd_backend_last_error": (c_char_p, [P]),
    "sd_backend_free": (None, [P]),
    "sd_scripted_default_params": (SdScriptedParams, []),
    "sd_backend_scripted_create": (P, [POINTER(SdScriptedParams), E]),
    "sd_llama_default_params": (SdLlamaParams, []),
    "sd_backend_llama_create": (P, [POINTER(SdLlamaParams), E]),
    "sd_openai_default_params": (SdOpenaiParams, []),
    "sd_backend_openai_create": (P, [POINTER(SdOpenaiParams), E]),
    "sd_turn_default_params": (SdTurnParams, []),
    "sd_turn_manager_create": (P, [POINTER(SdTurnParams), c_size_t, E]),
    "sd_turn_manager_free": (None, [P]),
    "sd_logs_from_json": (c_int, [c_char_p, c_char_p, POINTER(P), E]),
    "sd_logs_to_json": (c_int, [P, POINTER(c_void_p)]),
    "sd_logs_comment_count": (c_size_t, [P]),
    "sd_logs_comment": (SdLogComment, [P, c_size_t]),
    "sd_logs_id": (c_char_p, [P]),
    "sd_logs_timestamp": (c_char_p, [P]),
    "sd_logs_set_id": (c_int, [P, c_char_p]),
    "sd_logs_set_timestamp": (c_int, [P, c_char_p]),
    "sd_logs_load": (c_int, [c_char_p, POINTER(P), E]),
    "sd_logs_save": (c_int, [P, c_char_p, E]),
    "sd_logs_free": (None, [P]),
    "sd_discussion_default_params": (SdDiscussionParams, []),
    "sd_discussion_create": (P, [POINTER(SdDiscussionParams), POINTER(P), c_size_t, P, P, E]),
    "sd_discussion_next": (c_int, [P, POINTER(SdRequest)]),
    "sd_discussion_accept": (c_int, [P, c_char_p, POINTER(SdReply)]),
    "sd_discussion_done": (c_bool, [P]),
    "sd_discussion_pending_speaker": (c_char_p, [P]),
    "sd_discussion_logs": (P, [P]),
    "sd_discussion_logs_mut": (P, [P]),
    "sd_discussion_display": (c_char_p, [P, c_size_t]),
    "sd_discussion_set_request_hook": (None, [P, REQUEST_HOOK, c_void_p]),
    "sd_discussion_free": (None, [P]),
    "sd_label_spec_parse": (c_int, [c_char_p, c_char_p, c_char_p, POINTER(P), E]),
    "sd_label_spec_free": (None, [P]),
    "sd_annotation_default_params": (SdAnnotationParams, []),
    "sd_annotation_create": (P, [P, P, POINTER(SdAnnotationParams), E]),
    "sd_annotation_next": (c_int, [P, POINTER(SdRequest)]),
    "sd_annotation_accept": (c_int, [P, c_uint64, c_char_p, POINTER(SdReply)]),
    "sd_annotation_to_json": (c_int, [P, POINTER(SdAnnotationMeta), POINTER(c_void_p)]),
    "sd_annotation_printed": (c_int, [P, POINTER(c_void_p)]),
    "sd_annotation_free": (None, [P]),
    "sd_file_write_atomic": (c_int, [c_char_p, c_char_p, c_size_t, E]),
    "sd_timestamp_now": (None, [c_char_p, c_size_t]),
    "sd_uuid4": (None, [c_char_p]),
    "sd_experiment_load": (c_int, [c_char_p, POINTER(P), E]),
    "sd_experiment_free": (None, [P]),
    "sd_experiment_output_dir": (c_char_p, [P]),
    "sd_experiment_digest": (c_char_p, [P]),
    "sd_run_default_params": (SdRunParams, []),
    "sd_experiment_run": (c_int, [P, POINTER(SdRunParams), POINTER(SdRunProgress), E]),
    "sd_annotate_load": (c_int, [c_char_p, POINTER(c_char_p), c_size_t, POINTER(P), E]),
    "sd_annotate_free": (None, [P]),
    "sd_annotate_output_dir": (c_char_p, [P]),
    "sd_annotate_run": (c_int, [P, POINTER(SdRunParams), POINTER(SdRunProgress), E]),
    "sd_run_status_json": (c_int, [c_char_p, c_uint32, POINTER(c_void_p), POINTER(c_bool), E]),
    "sd_dataset_default_params": (SdDatasetParams, []),
    "sd_dataset_load": (c_int, [POINTER(SdDatasetParams), POINTER(P), E]),
    "sd_dataset_free": (None, [P]),
    "sd_dataset_export": (c_int, [P, c_int, WRITE_FN, c_void_p, E]),
}

_lib: Optional[ctypes.CDLL] = None


def lib() -> ctypes.CDLL:
    """The loaded library, prototypes set (loaded on first use)."""
    global _lib
    if _lib is None:
        l = _load()
        for name, (res, args) in _PROTOS.items():
            f = getattr(l, name)
            f.restype = res
            f.argtypes = args
        _lib = l
    return _lib


def library_path() -> str:
    """Where the loaded libsyndisco.so came from."""
    return lib()._syndisco_path  # type: ignore[attr-defined]


_global_done = False


def global_init() -> None:
    """sd_global_init(quiet=True), once per process (llama.cpp's set-up)."""
    global _global_done
    if not _global_done:
        lib().sd_global_init(True)
        _global_done = True


def enc(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else s.encode("utf-8")


def dec(b: Optional[bytes]) -> Optional[str]:
    return None if b is None else b.decode("utf-8")


def take_string(p: int) -> str:
    """Copy a char* the library returned and sd_free() it."""
    try:
        return ctypes.string_at(p).decode("utf-8")
    finally:
        lib().sd_free(p)


def str_array(items) -> tuple:
    """A (char **, n) pair for a list of strings (keep the result alive)."""
    arr = (c_char_p * max(1, len(items)))(*[enc(s) for s in items])
    return arr, len(items)
