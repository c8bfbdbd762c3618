"""Running a long C call (an experiment or annotation run) so that Ctrl-C
stops it cleanly: the call runs in a worker thread; the main thread
waits, and on KeyboardInterrupt sets the run's stop flag, joins the worker
(the library drops in-flight discussions and writes nothing partial) and
re-raises. Running the same thing again resumes."""
from __future__ import annotations

import ctypes
import threading
from typing import Callable, Optional

from . import _native as N
from ._progress import ProgressBar
from .errors import SynDiscoError


def run_blocking(fn: Callable[..., int], handle: int, out_dir: str,
                 parallel: int, shard: Optional[tuple], force: bool,
                 progress: Optional[bool], desc: str,
                 on_log: Optional[Callable[[int, str], None]] = None,
                 on_progress: Optional[Callable[[dict], None]] = None
                 ) -> "N.SdRunProgress":
    L = N.lib()
    p = L.sd_run_default_params()
    p.out_dir = N.enc(out_dir)
    p.parallel = int(parallel)
    if shard is not None:
        p.shard_index, p.shard_count = int(shard[0]), int(shard[1])
    p.force = bool(force)
    stop = ctypes.c_int(0)
    p.stop = ctypes.pointer(stop)
    bar = ProgressBar(desc, progress)

    def progress_cb(pp, ud):
        bar.update(pp.contents)
        if on_progress is not None:
            on_progress({k: getattr(pp.contents, k)
                         for k, _ in N.SdRunProgress._fields_})

    def log(level, msg, ud):
        if on_log is not None:
            on_log(level, N.dec(msg) or "")

    cbs = (N.PROGRESS_FN(progress_cb), N.LOG_FN(log))
    p.on_progress, p.on_log = cbs
    prog = N.SdRunProgress()
    err = N.SdError()
    result: dict = {}

    def work():
        result["rc"] = fn(handle, ctypes.byref(p), ctypes.byref(prog),
                          ctypes.byref(err))

    t = threading.Thread(target=work, name="syndisco-run", daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(0.1)
    except KeyboardInterrupt:
        stop.value = 1
        t.join()
        bar.close()
        raise
    bar.close()
    rc = result.get("rc", -6)
    if rc != 0:
        if stop.value:
            raise SynDiscoError(rc, "stopped: nothing partial was written; run "
                                "again to resume", out_dir)
        raise SynDiscoError.from_error(err, rc)
    return prog
