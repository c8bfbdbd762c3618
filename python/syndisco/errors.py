"""The exception the package raises for every failure the C library reports."""
from __future__ import annotations

from typing import Optional

from . import _native

# sd_strerror's codes, by name
CODES = {0: "OK", -1: "EINVAL", -2: "ENOMEM", -3: "EIO", -4: "EPARSE",
         -5: "EBACKEND", -6: "ESTATE", -7: "ENOTFOUND"}


class SynDiscoError(Exception):
    """A failure reported by the C library.

    Attributes:
        code: the negative ``SD_E*`` status (``-1`` invalid argument, ...).
        kind: its name (``"EINVAL"``, ``"EPARSE"``, ``"ENOTFOUND"``, ...).
        source: the file (or other origin, such as ``"<persona>"``) it
            concerns, or ``""``.
        field: the JSON path of the offending field
            (``"personas[2].username"``), or ``""``.
        line, column: 1-based position in ``source``; 0 when unknown.
        message: the library's explanation.

    ``str(e)`` reads ``source:line:column: field: message``.
    """

    def __init__(self, code: int, message: str, source: str = "",
                 field: str = "", line: int = 0, column: int = 0) -> None:
        self.code = code
        self.kind = CODES.get(code, str(code))
        self.message = message
        self.source = source
        self.field = field
        self.line = line
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        where = self.source
        if where and self.line:
            where += ":%d" % self.line
            if self.column:
                where += ":%d" % self.column
        parts = [p for p in (where, self.field) if p]
        text = self.message or self.kind
        return ": ".join(parts + [text])

    @classmethod
    def from_error(cls, err: "_native.SdError", code: Optional[int] = None
                   ) -> "SynDiscoError":
        c = code if code is not None else err.code
        text = err.text.decode("utf-8", "replace")
        if not text:
            text = _native.lib().sd_strerror(c).decode()
        return cls(c or -1, text, err.source.decode("utf-8", "replace"),
                   err.field.decode("utf-8", "replace"), err.line, err.column)


def check(rc: int, err: Optional["_native.SdError"] = None, what: str = ""
          ) -> None:
    """Raise SynDiscoError for a negative status."""
    if rc >= 0:
        return
    if err is not None and (err.text or err.source):
        raise SynDiscoError.from_error(err, rc)
    msg = _native.lib().sd_strerror(rc).decode()
    raise SynDiscoError(rc, "%s: %s" % (what, msg) if what else msg)
