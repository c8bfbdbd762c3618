"""Discussion logs (SynDisco's ``Logs``): read, inspect and write them,
in the file format of the log's profile, byte for byte."""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
from typing import Any, Dict, Iterator, List, Optional

from . import _native as N
from .errors import SynDiscoError, check


def _timestamp() -> str:
    buf = ctypes.create_string_buffer(32)
    N.lib().sd_timestamp_now(buf, 32)
    return buf.value.decode()


def _uuid() -> str:
    buf = ctypes.create_string_buffer(40)
    N.lib().sd_uuid4(buf)
    return buf.value.decode()


class Logs:
    """A discussion log.

    ``Logs.from_json_file(path)`` reads any SynDisco version's file or
    ours; a :class:`~syndisco.Discussion` gives its own with
    ``get_logs()``. ``len(logs)``, ``logs[i]`` and iteration give the
    comments as dicts ``{"name", "text", "model", "prompt"}``;
    :meth:`to_json_file` (SynDisco 2.2.1's ``export``) writes the file.
    """

    def __init__(self, _handle: int, _owner: Any = None) -> None:
        self._h: Optional[int] = _handle
        self._owner = _owner  # a discussion whose log this is (borrowed)

    # -- reading ---------------------------------------------------------
    @classmethod
    def from_json_file(cls, file_path: "os.PathLike[str] | str") -> "Logs":
        """Read a log file; errors name the file and the field."""
        h = ctypes.c_void_p()
        err = N.SdError()
        check(N.lib().sd_logs_load(N.enc(os.fspath(file_path)), ctypes.byref(h),
                                   ctypes.byref(err)), err)
        return cls(h.value)

    from_file = from_json_file

    @classmethod
    def from_json(cls, text: str, source: str = "<logs>") -> "Logs":
        h = ctypes.c_void_p()
        err = N.SdError()
        check(N.lib().sd_logs_from_json(N.enc(text), N.enc(source), ctypes.byref(h),
                                        ctypes.byref(err)), err)
        return cls(h.value)

    def _handle(self) -> int:
        if self._h is None:
            raise ValueError("the log is closed")
        return self._h

    def __len__(self) -> int:
        return N.lib().sd_logs_comment_count(self._handle())

    def __getitem__(self, i: int) -> Dict[str, Any]:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("comment %d of %d" % (i, n))
        c = N.lib().sd_logs_comment(self._handle(), i)
        return {"name": N.dec(c.name), "text": N.dec(c.text),
                "model": N.dec(c.model), "prompt": N.dec(c.prompt) or ""}

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        for i in range(len(self)):
            yield self[i]

    def get_logs(self) -> List[Dict[str, Any]]:
        """Every comment, as dicts (a copy)."""
        return list(self)

    @property
    def id(self) -> Optional[str]:
        return N.dec(N.lib().sd_logs_id(self._handle())) or None

    @property
    def timestamp(self) -> Optional[str]:
        return N.dec(N.lib().sd_logs_timestamp(self._handle())) or None

    def ensure_id(self) -> str:
        """The log's id; a log without one (SynDisco 2.2.1's files) gets the
        id ``syndisco annotate`` derives from its timestamp and comments."""
        if self.id:
            return self.id  # type: ignore[return-value]
        m = hashlib.md5()
        for s in ["syndisco-log-v1", self.timestamp or ""] + [
                x for c in self for x in (c["name"], c["text"])]:
            m.update((s or "").encode("utf-8") + b"\0")
        ident = "sd-" + m.hexdigest()
        check(N.lib().sd_logs_set_id(self._handle(), N.enc(ident)), what="id")
        return ident

    def _stamp(self) -> None:
        """Give a finished discussion's log its id and time, as the CLI does."""
        L = N.lib()
        if not self.id:
            check(L.sd_logs_set_id(self._handle(), N.enc(_uuid())), what="id")
        if not self.timestamp:
            check(L.sd_logs_set_timestamp(self._handle(), N.enc(_timestamp())),
                  what="timestamp")

    # -- writing ---------------------------------------------------------
    def to_json(self) -> str:
        """The file's text: the profile's format, SynDisco's keys first."""
        out = ctypes.c_void_p()
        check(N.lib().sd_logs_to_json(self._handle(), ctypes.byref(out)))
        return N.take_string(out.value)

    def to_dict(self) -> Dict[str, Any]:
        return json.loads(self.to_json())

    def to_json_file(self, output_path: "os.PathLike[str] | str") -> None:
        """Write the log atomically (no partial file on failure), creating
        the parent directories as SynDisco does."""
        path = os.fspath(output_path)
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._stamp()
        err = N.SdError()
        check(N.lib().sd_logs_save(self._handle(), N.enc(path), ctypes.byref(err)), err)

    export = to_json_file  # SynDisco 2.2.1

    # -- lifetime --------------------------------------------------------
    def close(self) -> None:
        """Free the log (a discussion's own log is freed with it)."""
        if self._h is not None and self._owner is None:
            N.lib().sd_logs_free(self._h)
        self._h = None
        self._owner = None

    def __enter__(self) -> "Logs":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return "Logs(%d comments)" % (len(self) if self._h else 0)
