"""Loading runs and annotations as a table: one row per comment, the
columns ``syndisco export`` writes (docs/export.md), produced by the same
C code (``sd_dataset_export``)."""
from __future__ import annotations

import ctypes
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _native as N
from .errors import check

Paths = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]


def _paths(p: Optional[Paths]) -> List[str]:
    if p is None:
        return []
    if isinstance(p, (str, os.PathLike)):
        return [os.fspath(p)]
    return [os.fspath(x) for x in p]


def _export(logs: List[str], annotations: List[str], fmt: int) -> bytes:
    L = N.lib()
    prm = L.sd_dataset_default_params()
    la, ln = N.str_array(logs)
    aa, an = N.str_array(annotations)
    prm.log_paths, prm.n_log_paths = la, ln
    prm.annotation_paths, prm.n_annotation_paths = aa, an
    ds = ctypes.c_void_p()
    err = N.SdError()
    check(L.sd_dataset_load(ctypes.byref(prm), ctypes.byref(ds), ctypes.byref(err)), err)
    chunks: List[bytes] = []

    def write(data, n, ud):
        chunks.append(ctypes.string_at(data, n))
        return 0

    cb = N.WRITE_FN(write)
    try:
        check(L.sd_dataset_export(ds, fmt, cb, None, ctypes.byref(err)), err)
    finally:
        L.sd_dataset_free(ds)
    return b"".join(chunks)


def load_records(path: Paths, annotations: Optional[Paths] = None
                 ) -> List[Dict[str, Any]]:
    """Like :func:`load`, as a list of dicts (no pandas needed)."""
    text = _export(_paths(path), _paths(annotations), 1).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def columns(path: Paths, annotations: Optional[Paths] = None) -> List[str]:
    """The export's columns, in order (its CSV header)."""
    text = _export(_paths(path), _paths(annotations), 0).decode("utf-8")
    import csv
    return next(csv.reader([text.split("\r\n", 1)[0]]))


def load(path: Paths, annotations: Optional[Paths] = None,
         as_pandas: Optional[bool] = None) -> Any:
    """Every discussion log under ``path`` (directories searched
    recursively, or files; SynDisco's logs too), with the annotations
    under ``annotations`` joined to their comments: one row per comment,
    the columns ``syndisco export`` writes, in its order.

    Returns a pandas DataFrame when pandas is installed (or
    ``as_pandas=True``), else a list of dicts. Errors name the file.
    """
    rows = load_records(path, annotations)
    if as_pandas is False:
        return rows
    try:
        import pandas as pd  # type: ignore[import-not-found]
    except ImportError:
        if as_pandas:
            raise
        return rows
    cols = list(rows[0].keys()) if rows else columns(path, annotations)
    return pd.DataFrame.from_records(rows, columns=cols)
