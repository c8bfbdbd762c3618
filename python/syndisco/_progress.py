"""A small tqdm-like progress bar on stderr, drawn only when stderr is a
terminal (notebooks and logs get nothing)."""
from __future__ import annotations

import sys
import time
from typing import Any, Optional, TextIO


class ProgressBar:
    def __init__(self, desc: str, enabled: Optional[bool] = None,
                 stream: Optional[TextIO] = None) -> None:
        self.stream = stream or sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.desc = desc
        self._last = 0.0
        self._drawn = False

    def update(self, p: Any) -> None:
        """p: an SdRunProgress."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not p.finished and now - self._last < 0.2:
            return
        self._last = now
        total = max(1, p.total)
        done = p.done + p.skipped
        width = 30
        fill = int(width * done / total)
        rate = p.gen_tokens / p.seconds if p.seconds > 0 else 0.0
        line = "%s |%s%s| %d/%d [%ds, %.1f tok/s%s]" % (
            self.desc, "#" * fill, " " * (width - fill), done, p.total,
            int(p.seconds), rate, ", %d failed" % p.failed if p.failed else "")
        self.stream.write("\r" + line)
        self._drawn = True
        if p.finished:
            self.close()
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
