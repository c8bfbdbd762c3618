"""syndisco.load(): one row per comment, the columns `syndisco export`
writes, from the same C code; a list of dicts without pandas."""
import csv
import io
import json
import subprocess

import pytest

import syndisco
from conftest import shared_dir

LOGS = shared_dir("data", "syndisco-logs")


@pytest.mark.skipif(LOGS is None, reason="no ../shared/data/syndisco-logs")
def test_load_syndisco_logs(cli):
    df = syndisco.load(LOGS)
    p = subprocess.run([cli, "export", LOGS, "--format", "csv"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rows = list(csv.reader(io.StringIO(p.stdout)))
    header, body = rows[0], rows[1:]
    assert list(df.columns) == header
    assert len(df) == len(body) > 0
    # one row per comment of every log
    n = 0
    import os
    for fn in os.listdir(LOGS):
        with open(os.path.join(LOGS, fn), encoding="utf-8") as f:
            n += len(json.load(f)["logs"])
    assert len(df) == n
    # the same values as the CSV (text columns compared as text)
    i = header.index("text")
    assert list(df["text"]) == [r[i] for r in body]
    records = syndisco.load(LOGS, as_pandas=False)
    assert isinstance(records, list) and list(records[0]) == header


def test_load_errors(tmp_path):
    with pytest.raises(syndisco.SynDiscoError) as e:
        syndisco.load(tmp_path / "missing")
    assert "missing" in str(e.value)
    (tmp_path / "x.json").write_text('{"not": "a log"}')
    with pytest.raises(syndisco.SynDiscoError) as e:
        syndisco.load(tmp_path)
    assert "x.json" in str(e.value)
