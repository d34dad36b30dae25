"""Index constants of the event-model kernel (``event.py``): config, state, metrics, log columns.

The event model is Sabre's player: a playback queue of whole segments, per-request latency,
download progress polled for abandonment, replacement of buffered segments. Its kernel works in
Sabre's units throughout -- time in ms, sizes in bits, rates in kbit/s (= bits/ms) -- so that
the ``sabre`` profile reproduces Sabre's floating-point arithmetic operation for operation.
"""

# -- controller ids ------------------------------------------------------------------------------
EV_BOLA = 0  # Sabre's Bola: BOLA-BASIC / BOLA-O / BOLA-U (Spiteri et al. 2016)
EV_BOLAE = 1  # Sabre's BolaEnh: BOLA-E with placeholder buffer and insufficient-buffer rule
EV_THROUGHPUT = 2  # Sabre's ThroughputRule (dash.js ThroughputRule + AbandonRequestsRule)
EV_DYNAMIC = 3  # Sabre's Dynamic: BOLA vs throughput, switched on a 10 s buffer threshold
EV_DYNAMICDASH = 4  # Sabre's DynamicDash: BOLA-E vs throughput with hysteresis
EV_FIXED = 5  # always one quality (a testing aid and baseline)

# -- config vector ---------------------------------------------------------------------------------
C_ABR = 0
C_BUFFER_MS = 1  # maximum buffer (Sabre -b, in ms)
C_GAMMA_P = 2  # BOLA gamma*p product in seconds (Sabre -gp)
C_OSC = 3  # 1.0: BOLA-O (minimise oscillations, Sabre -ao); 0.0: BOLA-U
C_BASIC = 4  # 1.0: BOLA-BASIC (Sabre -ab)
C_NO_IBR = 5  # 1.0: no insufficient-buffer rule (Sabre -noibr)
C_ABANDON = 6  # 1.0: poll downloads and let the controller abandon them; 0.0: Sabre -noa
C_AVERAGE = 7  # throughput history: AVG_EWMA or AVG_SLIDING (Sabre -ma)
C_REPLACE = 8  # REPLACE_NONE / REPLACE_LEFT / REPLACE_RIGHT (Sabre -r)
C_RAMPUP_QUALITY = 9  # quality index counted as ramped up; < 0: the sustainable quality (Sabre -rmp)
C_APPLY_ABANDON_QUALITY = 10  # 1.0: fix Sabre's defect and download the abandoned-to quality next
C_MIN_PROGRESS_BITS = 11  # poll a download at least every this many bits (Sabre: 12000) ...
C_MIN_PROGRESS_MS = 12  # ... or this many ms (Sabre: 50)
C_DASH_LOW_MS = 13  # DynamicDash: BOLA -> throughput below this buffer (Sabre: 5000)
C_DASH_HIGH_MS = 14  # DynamicDash: throughput -> BOLA above this buffer (Sabre: 10000)
C_DASH_INCLUSIVE = 15  # 1.0: switch to BOLA at >= high (dash.js); 0.0: at > high (Sabre)
C_DYNAMIC_LOW_MS = 16  # Dynamic's low-buffer threshold (Sabre: 10000)
C_FIXED_QUALITY = 17
C_SAFETY = 18  # throughput rule safety factor (0.9)
C_IBR_SAFETY_MIN = 19  # insufficient-buffer rule: safety floor (0.5) ...
C_IBR_SAFETY_INIT = 20  # ... initial safety and per-segment decay factor (0.9)
C_ABANDON_MULTIPLIER = 21  # throughput-rule abandonment: expected time > this x segment (1.8)
C_ABANDON_GRACE_MS = 22  # ... and not before this much of the download has passed (500 ms)
C_BOLAE_MIN_BUFFER_MS = 23  # BOLA-E minimum buffer (10000) ...
C_BOLAE_MIN_BUFFER_PER_LEVEL_MS = 24  # ... plus this per quality level (2000)
C_BOLA_SCORE_SHIFT = 25  # BOLA-E's buffer score uses u + this: 0.0 Sabre / dash.js 4, -1.0 dash.js 5
C_BOLA_TIES_UP = 26  # 1.0: a tie in BOLA-E's buffer score goes to the higher rung (dash.js); 0.0: the lower (Sabre)
C_BOLAE_BUFFER_TIME_MS = 27  # > 0: BOLA-E's gp / Vp from this buffer time (dash.js bufferTimeDefault), not C_BUFFER_MS
C_MAX_DOWNLOAD_MS = 28  # > 0: a download still unfinished after this long ends the session (stalled); 0: no bound
C_SIZE = 29

AVG_EWMA = 0
AVG_SLIDING = 1
REPLACE_NONE = 0
REPLACE_LEFT = 1
REPLACE_RIGHT = 2

#: Sabre's SlidingWindow keeps this many samples, whatever the window sizes.
SLIDING_MAX_STORE = 20

# -- session state vector (scalars; the kernel's "globals") ---------------------------------------
S_NET_INDEX = 0  # current trace period
S_NET_TO_NEXT = 1  # ms left in the current period
S_NET_TIME = 2  # network clock (Sabre's network_total_time), ms
S_SUSTAINABLE = 3  # highest quality the current period sustains; -1: not yet known
S_FCC = 4  # ms already played of the segment at the head of the queue
S_HEAD = 5  # queue of buffered segments: buf[head:tail]
S_TAIL = 6
S_REBUFFER_EVENTS = 7
S_REBUFFER_MS = 8
S_PLAYED_UTILITY = 9
S_PLAYED_BITRATE = 10
S_PLAY_MS = 11
S_BITRATE_CHANGE = 12
S_LOG_BITRATE_CHANGE = 13
S_REACTION_MS = 14
S_LAST_PLAYED = 15  # -1: nothing played yet
S_RAMPUP_MS = 16  # NaN: not ramped up yet
S_N_PENDING = 17  # pending quality-up switches (for the reaction-time metric)
S_THROUGHPUT = 18  # current throughput estimate, kbit/s; NaN before the first sample
S_LATENCY = 19  # current latency estimate, ms
S_N_PLAYED = 20  # segments that started playing
S_BOLA_VP = 21
S_BOLA_LAST = 22
S_BOLAE_STEADY = 23
S_BOLAE_PLACEHOLDER = 24
S_BOLAE_LAST = 25
S_BOLAE_IBR_SAFETY = 26
S_TPUT_IBR_SAFETY = 27
S_IS_BOLA = 28
S_REPLACING = 29  # negative queue offset being replaced; 0: none
S_N_SAMPLES = 30  # throughput samples pushed
# 31, 32: free (the EWMA weights live in the history predictor's state, event.history_params)
S_BOLAE_VP = 33
S_BOLAE_GP = 34
S_STALL_MS = 35  # rebuffering since the last segment started playing
S_SIZE = 36

# -- metrics vector: every number Sabre prints, in its order ---------------------------------------
METRIC_NAMES = (
    "buffer_size",
    "total_played_utility",
    "time_average_played_utility",
    "total_played_bitrate",
    "time_average_played_bitrate",
    "total_play_time",
    "total_play_time_chunks",
    "total_rebuffer",
    "rebuffer_ratio",
    "time_average_rebuffer",
    "total_rebuffer_events",
    "time_average_rebuffer_events",
    "total_bitrate_change",
    "time_average_bitrate_change",
    "total_log_bitrate_change",
    "time_average_log_bitrate_change",
    "time_average_score",
    "over_estimate_count",
    "over_estimate",
    "leq_estimate_count",
    "leq_estimate",
    "estimate",
    "rampup_time",
    "total_reaction_time",
)
N_METRICS = len(METRIC_NAMES)
M_OVER_COUNT = 17
M_OVER = 18
M_LEQ_COUNT = 19
M_LEQ = 20
M_ESTIMATE = 21

# -- download log: one row per request (abandoned and replacement downloads included) ---------------
E_SEGMENT = 0
E_QUALITY = 1
E_SIZE_BITS = 2
E_DOWNLOADED_BITS = 3
E_TIME_MS = 4  # request to last byte (or to abandonment), latency included
E_TTFB_MS = 5
E_ABANDON_TO = 6  # quality the controller abandoned to; -1: a replacement given up; NaN: completed
E_REPLACE = 7  # 1.0: the request replaced a buffered segment
E_REQUEST_MS = 8  # network clock when the request was issued
E_WAIT_MS = 9  # idle time before the request (full buffer + controller delay)
E_BUFFER_MS = 10  # buffer level after the download
E_THROUGHPUT_KBPS = 11  # the estimate the controller had when it chose
E_COLS = 12

# -- session status ---------------------------------------------------------------------------------
EV_COMPLETE = 0
EV_STALLED = 1  # stopped: MAX_FUTILE_REQUESTS requests in a row added no segment, or a download ran past C_MAX_DOWNLOAD_MS
EV_NO_BANDWIDTH = 2

#: Sabre can livelock: with its abandonment defect an abandoned request is asked again with the
#: same (unchanged) estimate and an empty buffer, and over a looping trace whose cycle matches
#: the request time every attempt is identical, forever. abrkit stops such a session after this
#: many requests in a row that added no segment (at least 50 ms of simulated time each).
MAX_FUTILE_REQUESTS = 10_000

#: What a download returns as its abandon-to when it ran past ``C_MAX_DOWNLOAD_MS``.
DOWNLOAD_TIMED_OUT = -200
