"""Index constants for the packed float64 arrays that façades hand to kernels.

Kept in one module so that the façade packing a vector and the kernel reading it agree.
Numba freezes module-level integers at compile time, which is exactly what constants need.
"""

# -- profile vector (simulate.Profile.pack) --------------------------------------------------
PROF_RTT_S = 0  # fixed time to first byte per request; < 0: use the trace's per-period latency
PROF_RTT_ADVANCES_CLOCK = 1  # 1.0: the trace clock runs during the latency; 0.0: it does not (Pensieve)
PROF_EFFICIENCY = 2  # fraction of the link rate that carries payload
PROF_BUFFER_CAP_S = 3
PROF_WAIT_QUANTUM_S = 4  # > 0: waits are whole multiples of it (Pensieve 0.5 s); 0: exact
PROF_FIRST_CHUNK_REBUFFERS = 5  # 1.0: chunk 0's download counts as rebuffering (Pensieve)
PROF_INITIAL_RUNG = 6  # >= 0: rung of chunk 0, chosen without asking the controller; < 0: ask it
PROF_MAX_DOWNLOAD_S = 7  # a request still unfinished after this long stalls the session
PROF_THROUGHPUT_INCLUDES_LATENCY = 8  # 1.0: samples are bytes / (latency + transfer time)
# Pensieve's test/mpc.py quirks (Profile.mpc_* fields); 0.0 is the clean behaviour.
PROF_MPC_SIZES_AHEAD = 9  # 1.0: MPC plans chunk k with the sizes of chunks k+1, k+2, ...
PROF_MPC_IGNORE_LATENCY = 10  # 1.0: the plan never adds the request latency to download times
PROF_MPC_IGNORE_CAP = 11  # 1.0: the planned buffer is not capped at PROF_BUFFER_CAP_S
PROF_MPC_TIES_LAST = 12  # 1.0: equal objectives go to the last sequence in enumeration order
PROF_CARRY_ROBUST = 13  # 1.0: run_batch carries RobustDiscount error state from session to session
PROF_SIZE = 14

# -- a session between chunks (groups.SessionState) as the environments store it, float64 row ------
SS_K = 0  # the next chunk to play
SS_PTR = 1  # trace period the clock is in (an integer)
SS_CLOCK_S = 2  # the trace clock
SS_SESSION_S = 3  # session time: when the next request may go out
SS_BUFFER_S = 4
SS_STARTUP_S = 5  # startup delay so far (profiles where chunk 0 does not count as rebuffering)
SS_PREV = 6  # rung of the last chunk played, -1 before the first
SS_SIZE = 7

# -- session status -----------------------------------------------------------------------------
STATUS_COMPLETE = 0
STATUS_STALLED = 1  # a download could not finish within PROF_MAX_DOWNLOAD_S
STATUS_NO_BANDWIDTH = 2  # the trace, as this profile reads it, never delivers a byte

# -- per-chunk log columns (float64 matrix, one row per chunk) ----------------------------------
LOG_RUNG = 0
LOG_SIZE_BYTES = 1
LOG_LATENCY_S = 2  # time to first byte
LOG_DELAY_S = 3  # request to last byte, latency included
LOG_BUFFER_S = 4  # after the download and any wait
LOG_REBUFFER_S = 5
LOG_WAIT_S = 6  # idle time because the buffer was full
LOG_THROUGHPUT_BPS = 7  # the sample the player measured for this chunk
LOG_REQUEST_S = 8  # session time at which the request was issued
LOG_CTRL_WAIT_S = 9  # idle time the controller asked for before this request (BOLA's delay)
LOG_COLS = 10

# -- controller ids ------------------------------------------------------------------------------
# One id space for every player model. ``contract.choose`` specialises on the id (a literal at
# compile time), so a run compiles only the controllers it uses.
CTRL_BB_PENSIEVE = 0  # params: reservoir_s, cushion_s
CTRL_BBA0 = 1  # params: reservoir_s, cushion_s
CTRL_RATE = 2  # params: safety (the predictor is packed separately)
CTRL_FIXED = 3  # params: rung
CTRL_MPC = 100  # params: horizon, rebuffer_weight, switch_weight (the predictor is packed separately)
CTRL_BBA1 = 101  # params: cushion_s, lookahead_s, min_reservoir_s, max_reservoir_s
CTRL_FESTIVE = 102  # params: festive.P_* (its own throughput window lives in its state)
CTRL_PENSIEVE = 103  # Pensieve's actor network (pensieve_net.P_*; its weights are the controller's data)
CTRL_DASHJS5 = 104  # dash.js 5.2.1's rule collection (dashjs_rules.P_*; its state dashjs_rules.R_*)
CTRL_HLSJS = 105  # hls.js 1.7.4's AbrController (hlsjs_rules.P_*; its state hlsjs_rules.R_*)
# Sabre's rules (BOLA, BOLA-E, the throughput rule, DYNAMIC, DynamicDash, fixed quality): one id,
# the rule is ``cparams[event_layout.C_ABR]``; their parameter vector is the event kernel's config
# vector (event_layout.C_*), their state the event kernel's ``st`` vector.
CTRL_SABRE = 200
# Low-latency live rules (dash.js L2ARule, LoLpRule; ``live_rules.py``). They read the live
# player's latency and playback rate from the live profile vector (``live_layout.LP_*``), which
# extends the chunk-model one; under other profiles they see latency 0 and rate 1.
CTRL_L2A = 300  # params: live_rules.L2A_P_*
CTRL_LOLP = 301  # params: live_rules.LOLP_P_* (its initial SOM weights are drawn by the facade)
CTRL_PYTHON = 900  # a controller written in Python (only on the Python twin of a loop)
# A compile group, not a controller: bb, bba0, rate and fixed are a few lines each, so the batch
# driver compiles one loop for all four (per predictor) and ``contract`` picks among them at run
# time from the real id, which every packed parameter vector carries at CPARAM_ID.
CTRL_SIMPLE = 1000
CTRL_PARAMS = 32  # width of the packed controller-parameter vector (>= event_layout.C_SIZE)
CPARAM_ID = CTRL_PARAMS - 1  # where a packed vector keeps its controller's own id
CTRL_STATE = 64  # per-session controller state, plus 3 x n_rungs scratch (see contract.py)
# (Pensieve's 6 x 8 history and its last download take 50 of the 64: pensieve_net.ST_SIZE)

# -- predictor ids (predictors.pred_update / pred_predict) ---------------------------------------
PRED_NONE = -1
PRED_LAST = 0
PRED_MEAN = 1
PRED_HARMONIC = 2
PRED_ROBUST = 3
PRED_DUAL_EWMA = 4
PRED_SABRE_WINDOW = 5
PRED_SABRE_EWMA = 6
PRED_EXO_PERCENTILE = 7
PRED_PUFFER = 8
PRED_KALMAN = 9
PRED_ORACLE = 10
PRED_PARAMS = 16  # width of the packed predictor-parameter vector
PRED_GROUP_COMMON = 100  # a compile group, not a predictor: none, last, mean, harmonic (estimators.py)
PRED_GROUP_ROBUST = 200  # + base id: RobustDiscount over that base, compiled for that base alone
