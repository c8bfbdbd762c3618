"""Turn managers: who speaks next (SynDisco's ``turn_manager`` module).

SynDisco 2.2.1's :class:`QueueTurnManager`, :class:`RespondTurnManager` and
:class:`RandomTurnManager`, 2.0.8's :class:`RoundRobin` and
:class:`RandomWeighted`, and our :class:`OrderTurnManager` (an explicit
speaker order, for replays). A manager is a description; every
discussion builds its own C manager over its users. ``random_state`` is
an int seed (a numpy Generator is accepted and asked for one); None
derives the seed from the discussion's seed. Our generator reproduces
SynDisco's distributions, not numpy's stream: replay a recorded order
with :class:`OrderTurnManager`.
"""
from __future__ import annotations

import ctypes
from typing import Any, List, Optional, Sequence

from . import _native as N
from .errors import SynDiscoError

ROUND_ROBIN, RANDOM, RESPOND, ORDER = 0, 1, 2, 3


def _seed_of(random_state: Any) -> Optional[int]:
    if random_state is None:
        return None
    if isinstance(random_state, bool) or not isinstance(random_state, int):
        integers = getattr(random_state, "integers", None)
        if integers is None:
            raise TypeError("random_state must be an int seed or a numpy "
                            "Generator, got %s" % type(random_state).__name__)
        return int(integers(0, 2**63 - 1))
    if random_state < 0:
        raise ValueError("random_state must be >= 0")
    return random_state


class TurnManager:
    """Base class; see the module's documentation."""

    kind = ROUND_ROBIN

    def __init__(self, actors: Optional[Sequence[Any]] = None,
                 random_state: Any = None) -> None:
        self.actors = list(actors) if actors is not None else None
        self.seed = _seed_of(random_state)

    def set_actors(self, actors: Sequence[Any]) -> None:
        """SynDisco's hook; the discussion passes its users."""
        self.actors = list(actors)

    def _params(self, users: Sequence[Any], names: Sequence[str]) -> "N.SdTurnParams":
        p = N.lib().sd_turn_default_params()
        p.kind = self.kind
        return p

    def _create(self, users: Sequence[Any], names: Sequence[str], seed: int) -> int:
        p = self._params(users, names)
        p.seed = self.seed if self.seed is not None else seed
        err = N.SdError()
        tm = N.lib().sd_turn_manager_create(ctypes.byref(p), len(users),
                                            ctypes.byref(err))
        if not tm:
            raise SynDiscoError.from_error(err)
        return tm

    def config(self) -> Any:
        """The ``turn_manager`` section of a syndisco config."""
        return "round_robin"


class QueueTurnManager(TurnManager):
    """Users in list order, cycled (SynDisco 2.2.1). With
    ``randomize_first_speaker`` a random user starts."""

    def __init__(self, actors: Optional[Sequence[Any]] = None,
                 randomize_first_speaker: bool = False,
                 random_state: Any = None) -> None:
        super().__init__(actors, random_state)
        self.randomize_first_speaker = bool(randomize_first_speaker)

    def _params(self, users, names):
        p = super()._params(users, names)
        p.random_first = self.randomize_first_speaker
        return p

    def config(self):
        if self.randomize_first_speaker:
            return {"type": "round_robin", "random_first": True}
        return "round_robin"


RoundRobin = QueueTurnManager   # 2.0.8
RoundRobbin = QueueTurnManager  # the seed guide


class RespondTurnManager(TurnManager):
    """With probability ``p_respond`` the second-to-last speaker answers
    back; otherwise a uniform pick among everyone but the last speaker."""

    kind = RESPOND

    def __init__(self, actors: Optional[Sequence[Any]] = None,
                 p_respond: float = 0.5, random_state: Any = None) -> None:
        super().__init__(actors, random_state)
        if isinstance(p_respond, bool) or not isinstance(p_respond, (int, float)):
            raise TypeError("p_respond must be a number")
        if not 0.0 <= p_respond <= 1.0:
            raise ValueError("p_respond must be in [0, 1], got %r" % p_respond)
        self.p_respond = float(p_respond)

    def _params(self, users, names):
        p = super()._params(users, names)
        p.p_respond = self.p_respond
        return p

    def config(self):
        return {"type": "respond", "p_respond": self.p_respond}


class RandomTurnManager(TurnManager):
    """A uniform pick among everyone but the last speaker. ``random_seed``
    is accepted and ignored, as SynDisco 2.2.1 does."""

    kind = RANDOM

    def __init__(self, actors: Optional[Sequence[Any]] = None,
                 random_seed: Any = None, random_state: Any = None) -> None:
        super().__init__(actors, random_state)

    def config(self):
        return "random"


RandomWeighted = RandomTurnManager  # seed and 2.0.8: the coin is never flipped


class OrderTurnManager(TurnManager):
    """An explicit speaker order, cycled: user positions (0-based, in the
    discussion's ``users`` list) or the users' names. For replaying a
    recorded run and for scripted scenarios."""

    kind = ORDER

    def __init__(self, order: Sequence[Any]) -> None:
        super().__init__(None, None)
        if not order:
            raise ValueError("OrderTurnManager needs a non-empty order")
        self.order = list(order)

    def _params(self, users, names):
        p = super()._params(users, names)
        idx: List[int] = []
        for o in self.order:
            if isinstance(o, int) and not isinstance(o, bool):
                if not 0 <= o < len(users):
                    raise ValueError("order: position %d is not a user (%d users)"
                                     % (o, len(users)))
                idx.append(o)
            elif isinstance(o, str):
                if o not in names:
                    raise ValueError("order: %r is not a user's name" % o)
                idx.append(names.index(o))
            else:
                pos = [i for i, u in enumerate(users) if u is o]
                if not pos:
                    raise ValueError("order: %r is not one of the users" % (o,))
                idx.append(pos[0])
        arr = (ctypes.c_size_t * len(idx))(*idx)
        p.order, p.n_order = arr, len(idx)
        self._arr = arr  # kept alive until the manager is created
        return p

    def config(self):
        return {"type": "order", "order": self.order}
