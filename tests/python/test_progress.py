"""The progress bar draws only on a terminal (or when asked)."""
import io

from syndisco import _native as N
from syndisco._progress import ProgressBar


class Tty(io.StringIO):
    def isatty(self):
        return True


def progress(done, total, finished=False):
    p = N.SdRunProgress()
    p.done, p.total, p.seconds, p.gen_tokens, p.finished = done, total, 2.0, 40, finished
    return p


def test_bar_only_on_a_terminal():
    plain = io.StringIO()
    bar = ProgressBar("discussions", stream=plain)
    bar.update(progress(16, 16, True))
    assert plain.getvalue() == ""
    tty = Tty()
    bar = ProgressBar("discussions", stream=tty)
    bar.update(progress(4, 16))
    bar.update(progress(16, 16, True))
    out = tty.getvalue()
    assert "discussions |" in out and "4/16" in out and out.endswith("16/16 [2s, 20.0 tok/s]\n")
    forced = io.StringIO()
    ProgressBar("x", enabled=True, stream=forced).update(progress(1, 2, True))
    assert "1/2" in forced.getvalue()
