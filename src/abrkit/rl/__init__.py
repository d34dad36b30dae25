"""Reinforcement learning on abrkit's simulator: Gymnasium environments (optional extra ``rl``).

* :class:`AbrEnv` — one session as a ``gymnasium.Env``: action = rung, reward = the chunk's QoE,
  one chunk per step, stepped by the simulator's own loop (``_kernels.session.play_chunks``, one chunk a call);
* :class:`VectorAbrEnv` — N sessions in one compiled call per step, ``gymnasium.vector.VectorEnv``
  with next-step autoreset;
* :func:`train_policy` — PPO (:mod:`abrkit.rl.ppo`, NumPy only) on the vector environment,
  written as a policy file that runs as ``learned:path=FILE`` (``abrkit train``).

Profiles: any chunk-model profile (``default``, ``pensieve``, ...) or a training profile of
``abrkit.profiles.TRAINING_PROFILES``: ``pensieve-train`` (Pensieve's ``sim/env.py``: a random
trace and start point per episode, delay noise U(0.9, 1.1)).

Observations (``observation=``):

``"abrkit"`` (default): a float32 vector of ``4 + 2 H + R`` values, all >= 0, for history
length ``H`` (``history=``, default 8) and ``R`` rungs, each normalised by a quantity of the
session so that one policy can serve other ladders, videos and networks:

====================  =================================================================
index                 value
====================  =================================================================
0                     buffer after the last chunk / the profile's buffer cap
1                     last rung / (R - 1) (0 before the first chunk)
2                     chunks still to play / chunks in an episode
3                     the last chunk's rebuffering / chunk duration
4 .. 4+H-1            the last H throughput samples / the top rung's bitrate, oldest first
4+H .. 4+2H-1         the last H download delays (latency included) / chunk duration
4+2H .. 4+2H+R-1      the next chunk's size at each rung, as a bitrate (size x 8 / chunk
                      duration), / the top rung's bitrate (0 once no chunk is left)
====================  =================================================================

Entries before the first chunk are 0. Throughput samples are those the profile's player
measures (with or without the latency, ``throughput_includes_latency``).

``"pensieve"``: Pensieve's 6 x 8 float64 history (``test/rl_no_training.py``; the kernel
``_kernels.pensieve_obs.pensieve_state_push`` that the ``pensieve`` controller reads too),
zeroed at each episode's start and pushed after every chunk; row 5's cap is Pensieve's 48; after
the last chunk the next sizes shown are chunk 0's (Pensieve's environment moves on to the next
video). Ladders of at most 8 rungs.

Units: seconds, bytes and bits per second, as everywhere in abrkit (``info``'s log rows too).
"""

from __future__ import annotations

try:
    import gymnasium  # noqa: F401
except ImportError:  # pragma: no cover - exercised only without the extra
    from ..errors import ToolNotFoundError

    raise ToolNotFoundError("abrkit.rl needs gymnasium: pip install 'abrkit[rl]'") from None

from ._sessions import LOG_NAMES, OBSERVATIONS, stream_state
from .env import AbrEnv
from .ppo import PPOConfig, TrainResult, train
from .training import evaluate_policy, train_policy
from .vector import VectorAbrEnv

__all__ = [
    "AbrEnv", "VectorAbrEnv", "OBSERVATIONS", "LOG_NAMES", "stream_state", "PPOConfig", "TrainResult", "train",
    "train_policy", "evaluate_policy",
]
