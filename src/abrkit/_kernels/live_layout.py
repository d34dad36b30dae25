"""Index constants of the live player model (``live.py``): profile vector, log columns, metrics.

Units are abrkit's: seconds, bytes, bits per second. Times are on the *wall clock* of the
encoder: media time ``m`` of the stream is captured at wall time ``m`` (the stream started at
wall time 0), so a playhead at media time ``p`` at wall time ``t`` is ``t - p`` seconds behind
live. The session joins the stream at wall time ``LP_JOIN_S``.

The live profile vector *extends* the chunk model's (``layout.PROF_*``, first ``PROF_SIZE``
entries): controllers written for the chunk model read their fields where they always did, and
the live rules (L2A-LL, LoL+) read the live fields below, which the loop refreshes before every
decision. A vector of length ``PROF_SIZE`` (chunk and event models) has no live fields: the
live rules then assume latency 0 and rate 1.
"""

from .layout import PROF_SIZE

# -- live profile vector (live.LiveProfile.pack) --------------------------------------------------
LP_CHUNKS = PROF_SIZE + 0  # CMAF chunks per segment; 1: no chunked transfer (whole segments)
LP_AVAIL_DELAY_S = PROF_SIZE + 1  # encoder-to-availability delay after a chunk is captured
LP_TARGET_S = PROF_SIZE + 2  # target latency (dash.js liveDelay)
LP_MIN_LATENCY_S = PROF_SIZE + 3  # below it the player never plays faster than 1.0
LP_MAX_DRIFT_S = PROF_SIZE + 4  # latency - target above it: seek to the live edge (<= 0: never)
LP_RATE_MIN = PROF_SIZE + 5  # playback-rate bounds (dash.js 1 + liveCatchup.playbackRate.min/max)
LP_RATE_MAX = PROF_SIZE + 6
LP_CATCHUP = PROF_SIZE + 7  # the profile's rate controller: CATCHUP_*
LP_MIN_DRIFT_S = PROF_SIZE + 8  # dead zone: |latency - target| <= this plays at 1.0
LP_MIN_RATE_CHANGE = PROF_SIZE + 9  # a new rate closer than this to the current one is not applied
LP_BUFFER_MIN_S = PROF_SIZE + 10  # LoL+'s playbackBufferMin (its buffer-based rate rule)
LP_JOIN_S = PROF_SIZE + 11  # wall time at which the session joins the stream
LP_DURATION_S = PROF_SIZE + 12  # session length (wall seconds); <= 0: the trace's duration
LP_RESUME_S = PROF_SIZE + 13  # buffer needed to resume after a stall (0: the first chunk)
# refreshed by the loop before each decision (what the live rules read):
LP_NOW_LATENCY_S = PROF_SIZE + 14  # current latency (NaN before playback starts)
LP_NOW_RATE = PROF_SIZE + 15  # current playback rate
LP_NOW_STALLED = PROF_SIZE + 16  # 1.0 while the player recovers from a stall (dash.js playbackStalled)
LP_SIZE = PROF_SIZE + 17

# -- rate controllers -----------------------------------------------------------------------------
CATCHUP_NONE = 0  # always 1.0
CATCHUP_DASHJS = 1  # dash.js CatchupController, liveCatchupModeDefault (latency sigmoid)
CATCHUP_LOLP = 2  # dash.js CatchupController, liveCatchupModeLOLP (buffer, then latency)

# -- per-segment log columns: the chunk model's ten (layout.LOG_*), then the live ones -----------
# LOG_LATENCY_S: time to first byte (the request latency); LOG_DELAY_S: request to last byte,
# waits for the encoder included; LOG_THROUGHPUT_BPS: the chunk-based sample (bytes over the
# time bytes were flowing); LOG_WAIT_S: the wait for the segment to become available;
# LOG_REBUFFER_S: stall time between this request and the next; LOG_BUFFER_S: after it.
LV_LIVE_LATENCY_S = 10  # latency when the segment completed
LV_RATE = 11  # playback rate when the segment completed
LV_IDLE_S = 12  # time inside the download spent waiting for the encoder (idle gaps)
LV_SEGMENT = 13  # the stream's segment index
LV_SEEK = 14  # 1.0: the player seeked to the live edge before this request
LV_DONE_S = 15  # session time the last byte arrived
# the session's running totals when the row was written (LM_* of the same names), so that a
# window of the session can be measured from the log alone (``LiveProfile.prelude_s``)
LV_CUM_LATENCY_INT = 16
LV_CUM_BUFFER_INT = 17
LV_CUM_RATE_INT = 18
LV_CUM_PLAY_S = 19
LV_CUM_STALL_S = 20
LV_CUM_STALLS = 21
LV_PLAYHEAD_S = 22  # media position of the playhead
LV_COLS = 23

# -- per-session metrics --------------------------------------------------------------------------
LM_LATENCY_INT = 0  # integral of latency over the played session (s * s)
LM_BUFFER_INT = 1  # integral of the buffer level (s * s)
LM_RATE_INT = 2  # integral of the playback rate over time spent playing
LM_PLAY_S = 3  # wall time spent playing
LM_STALL_S = 4  # wall time stalled after playback started (seeks' stalls included)
LM_STALLS = 5  # stall events
LM_SEEKS = 6  # seeks to the live edge
LM_STARTUP_S = 7  # join to first frame
LM_ELAPSED_S = 8  # wall time from the first frame to the end of the session
LM_PLAYHEAD_S = 9  # media position at the end
LM_FIRST_PLAY_S = 10  # media position of the first frame
LM_MIN_LATENCY_S = 11  # lowest latency seen while playing
LM_EDGE_GAP_S = 12  # max over the session of (playhead - newest available media): must be <= 0
LM_EARLY_S = 13  # min over chunks of (transfer start - the chunk's availability): must be >= 0
LM_MAX_LATENCY_S = 14
LM_SIZE = 15
