"""Pensieve's observation: the 6 x 8 history its agent sees (``test/rl_no_training.py``).

One row per signal, one column per past chunk, newest in the last column:

====  ===========================================================================
row   value written after each downloaded chunk (in the last column)
====  ===========================================================================
0     bitrate of the chunk just downloaded / the top rung's bitrate
1     buffer after the download and any wait, in units of 10 s
2     throughput of that download in kilobytes per millisecond (size / delay)
3     its delay (request to last byte, latency included) in units of 10 s
4     the next chunk's size at every rung in megabytes, in the FIRST ``n_rungs``
      columns (not the last one)
5     min(chunks left, cap) / cap
====  ===========================================================================

Before writing, every row is rolled one column to the left, and the roll wraps: what left
column 0 comes back in column 7. Row 4 is overwritten only in its first ``n_rungs`` columns,
so with 6 rungs its columns 6 and 7 hold older, wrapped values, and Pensieve's network reads
column 7 of row 4 (a bug of the original that any faithful reproduction keeps).

A session starts from all zeros (the original resets its history at the end of each video).
"""

from __future__ import annotations

from .._jit import njit

#: Rows of the history (signals).
S_INFO = 6
#: Columns of the history (past chunks).
S_LEN = 8

#: Pensieve's normalisations: buffer and delay in units of 10 s, sizes in 1000-based units.
_BUFFER_NORM_S = 10.0
_K = 1000.0


@njit
def pensieve_state_push(state, bitrate_ratio, buffer_s, size_bytes, delay_s, next_sizes_bytes, chunks_left, chunks_cap):
    """Roll ``state`` (float64, shape (S_INFO, S_LEN), modified in place) one column left and
    write the chunk just downloaded into it, as ``rl_no_training.py`` does.

    ``bitrate_ratio``: its bitrate / the top rung's; ``buffer_s``: the buffer after the download
    and any wait (s); ``size_bytes`` and ``delay_s``: its size and download time, request to last
    byte (s, > 0); ``next_sizes_bytes``: the next chunk's size at each rung (bytes, at most
    S_LEN values, written to row 4's first columns); ``chunks_left``: chunks still to download;
    ``chunks_cap``: the cap of row 5 (Pensieve: 48).
    """
    for i in range(S_INFO):
        first = state[i, 0]  # np.roll(state, -1, axis=1) wraps column 0 round to the end
        for j in range(S_LEN - 1):
            state[i, j] = state[i, j + 1]
        state[i, S_LEN - 1] = first
    # the original works in milliseconds: keep its operations, so the values match to the bit
    delay_ms = delay_s * _K
    state[0, S_LEN - 1] = bitrate_ratio
    state[1, S_LEN - 1] = buffer_s / _BUFFER_NORM_S
    state[2, S_LEN - 1] = size_bytes / delay_ms / _K
    state[3, S_LEN - 1] = delay_ms / _K / _BUFFER_NORM_S
    for r in range(next_sizes_bytes.size):
        state[4, r] = next_sizes_bytes[r] / _K / _K
    cap = float(chunks_cap)
    state[5, S_LEN - 1] = min(float(chunks_left), cap) / cap
