"""SynDisco profiles: which version's prompts, rules and files to reproduce."""
from __future__ import annotations

from typing import Union

PROFILES = {"seed": 0, "2.0.8": 1, "2.2.1": 2}
DEFAULT = "2.2.1"


def profile_id(name: Union[str, int, None]) -> int:
    """``"seed"`` | ``"2.0.8"`` | ``"2.2.1"`` (None: 2.2.1) -> the C enum."""
    if name is None:
        return PROFILES[DEFAULT]
    if isinstance(name, int) and name in PROFILES.values():
        return name
    if name not in PROFILES:
        raise ValueError("unknown SynDisco profile %r: use one of %s"
                         % (name, ", ".join(PROFILES)))
    return PROFILES[name]


def profile_name(pid: int) -> str:
    return {v: k for k, v in PROFILES.items()}[pid]
