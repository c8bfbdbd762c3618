"""Shared set-up of the Python package's tests.

ctest runs them with PYTHONPATH=python/ and SYNDISCO_LIBRARY=the build's
libsyndisco.so; SYNDISCO_CLI (the syndisco binary) and SYNDISCO_TINY_MODEL
(the tiny GGUF) for the tests that need them. Run by hand:

    SYNDISCO_LIBRARY=build/libsyndisco.so SYNDISCO_CLI=build/syndisco \
    SYNDISCO_TINY_MODEL=build/tests/tiny.gguf PYTHONPATH=python \
    python3 -m pytest tests/python
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))


def shared_dir(*parts):
    for base in (os.path.join(ROOT, "..", "shared"), "/work/shared"):
        p = os.path.join(base, *parts)
        if os.path.exists(p):
            return os.path.abspath(p)
    return None


@pytest.fixture(scope="session")
def cli():
    p = os.environ.get("SYNDISCO_CLI") or os.path.join(ROOT, "build", "syndisco")
    if not os.path.exists(p):
        pytest.skip("no syndisco binary (SYNDISCO_CLI)")
    return p


@pytest.fixture(scope="session")
def tiny_model():
    p = os.environ.get("SYNDISCO_TINY_MODEL") or os.path.join(
        ROOT, "build", "tests", "tiny.gguf")
    if not os.path.exists(p):
        pytest.skip("no tiny model (SYNDISCO_TINY_MODEL)")
    return p
