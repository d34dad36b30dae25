"""Index constants of the dash.js player kernel (``dashjs_player.py``): its config vector.

The kernel works in the event model's units (time in ms, sizes in bits, rates in kbit/s =
bits/ms) and writes the event model's request log (``event_layout.E_*``) and played-segment
array, so the event model's result class reads it. Each entry names the dash.js 5.2.1 source it
follows (``src/...`` of ``Dash-Industry-Forum/dash.js`` at v5.2.1).
"""

D_BUFFER_MS = 0  # streaming.buffer.bufferTimeDefault (18 s): the buffer target below the top rung (ScheduleController.js _getGenericBufferTarget)
D_TOP_BUFFER_MS = 1  # bufferTimeAtTopQuality (30 s), or ...LongForm (60 s) for content >= longFormContentDurationThreshold (600 s)
D_SCHEDULE_MS = 2  # streaming.scheduling.defaultTimeout (500 ms): the schedule timer while the buffer is full (ScheduleController.js _schedule)
D_SETUP_MS = 3  # player set-up before the manifest request (page and MediaSource set-up; measured)
D_MANIFEST_BITS = 4  # the MPD request's size: one request (latency + transfer) before anything else
D_INIT_BITS = 5  # an initialization segment: requested before the first media segment and at every rung change (ScheduleController.js _getNextFragment)
D_SWITCH_MS = 6  # extra time a rung change costs besides its init request (SourceBuffer abort / timestamp offset / changeType; measured)
D_APPEND_MS = 7  # gap between a media download's end and the next request (append + schedule; measured)
D_START_MS = 8  # playback starts this long after the first segment is appended (measured)
D_INITIAL_KBPS = 9  # AbrController.getInitialBitrateFor: 1000 kbit/s for video with nothing measured; the first segment's rung
D_FAST_SWITCH = 10  # 1.0: streaming.buffer.fastSwitchEnabled (null -> on for VoD, MediaPlayerModel.getFastSwitchEnabled)
D_FAST_SWITCH_MARGIN_MS = 11  # StreamProcessor._prepareForFastQualitySwitch: replace from playhead + this (1.5 x fragmentDuration; 0: see docs)
D_ABANDON = 12  # 1.0: abandonRequestsRule.active (AbandonRequestsRule.js)
D_ABANDON_MULTIPLIER = 13  # abandonDurationMultiplier (1.8)
D_ABANDON_MIN_MS = 14  # minSegmentDownloadTimeThresholdInMs (500) since the first byte
D_ABANDON_MIN_SAMPLES = 15  # minThroughputSamplesThreshold (6) progress events
D_PROGRESS_MS = 16  # interval of a download's progress events (XHR progress: ~50 ms)
D_ABANDON_HOLD_MS = 17  # streaming.abandonLoadTimeout (10 s): after an abandonment only down-switches (AbrController.checkPlaybackQuality)
D_MAX_DOWNLOAD_MS = 18  # a download still running this long after its request ends the session (stalled)
D_OVERLAP_MS = 19  # measured: a replacement of the segment under the playhead that lands with less than this
#                   buffered ahead of the playhead stalls playback for the difference (MSE append over the playing range)
D_INIT_EVERY_SWITCH = 20  # 1.0: every rung change requests the new rung's init segment (dash.js); 0.0: only a rung's
#                           first request does (hls.js, VoD: a level's media playlist is loaded once and kept)
D_SIZE = 21

#: Returned as the abandon-to of a download that ran past ``D_MAX_DOWNLOAD_MS``.
TIMED_OUT = -200
