"""The page the browser opens: a muted <video>, the pinned player, and a recorder.

The recorder keeps every event in ``window.__abrkit.events`` (the emulation drains it over CDP),
each stamped with the wall clock in epoch milliseconds (``performance.timeOrigin +
performance.now()``, the clock the server's ``time.time()`` also reads):

* ``start``: the player was told to load the manifest (the session's time 0);
* ``req`` / ``done`` / ``abandon``: a media request started, finished, or was abandoned by the
  player, from the player's own events (dash.js ``fragmentLoadingStarted``,
  ``fragmentLoadingCompleted``, ``fragmentLoadingAbandoned``; hls.js ``hlsFragLoading``,
  ``hlsFragLoaded``, ``hlsFragLoadEmergencyAborted``) with the URL, bytes, and the player's
  request / first-byte / end times; ``buffer_s`` is the buffer ahead of the playhead then;
* ``waiting`` / ``playing`` / ``ended`` / ``error``: the <video> element's events, which are the
  same for both players (stalls and startup are read from them).

The page does nothing until Python calls ``__abrkit.start()``, so the player script and the page
load before the link is shaped.
"""

from __future__ import annotations

import json

__all__ = ["page_html"]

_COMMON = r"""
const video = document.getElementById('v');
const A = window.__abrkit = {events: [], t0: null, error: null};
function now() { return performance.timeOrigin + performance.now(); }
function ahead() {
  const b = video.buffered, t = video.currentTime;
  for (let i = 0; i < b.length; i++) {
    if (b.start(i) <= t + 0.1 && t < b.end(i)) return b.end(i) - t;
  }
  return 0;
}
function rec(kind, extra) {
  A.events.push(Object.assign({kind: kind, t_ms: now(), media_s: video.currentTime, buffer_s: ahead()}, extra || {}));
}
function abs(u) { try { return new URL(u, location.href).pathname; } catch (e) { return String(u); } }
for (const name of ['waiting', 'playing', 'ended', 'seeking']) {
  video.addEventListener(name, () => rec(name));
}
video.addEventListener('error', () => { A.error = 'video element error ' + (video.error && video.error.code); rec('error', {message: A.error}); });
A.drain = function () { const out = A.events; A.events = []; return out; };
"""

_DASHJS = r"""
function dateMs(d) { return d ? (d instanceof Date ? d.getTime() : Number(d)) : null; }
function req(r) {
  return {url: abs(r.url), type: r.type, media: r.mediaType, bytes: r.bytesLoaded == null ? null : r.bytesLoaded,
          total: r.bytesTotal == null ? null : r.bytesTotal, request_ms: dateMs(r.startDate || r.requestStartDate),
          first_ms: dateMs(r.firstByteDate), end_ms: dateMs(r.endDate || r.requestEndDate), index: r.index};
}
A.start = function (url) {
  const p = A.player = dashjs.MediaPlayer().create();
  p.updateSettings({debug: {logLevel: dashjs.Debug.LOG_LEVEL_WARNING}});
  p.on('fragmentLoadingStarted', e => { if (e.request && e.request.type === 'MediaSegment') rec('req', req(e.request)); });
  p.on('fragmentLoadingCompleted', e => { if (e.request && e.request.type === 'MediaSegment') rec('done', req(e.request)); });
  p.on('fragmentLoadingAbandoned', e => { if (e.request) rec('abandon', req(e.request)); });
  p.on('error', e => { A.error = 'dash.js error: ' + JSON.stringify(e.error || e).slice(0, 300); rec('error', {message: A.error}); });
  A.t0 = now();
  rec('start');
  p.initialize(video, url, true);
};
"""

_HLSJS = r"""
function perfMs(x) { return x ? performance.timeOrigin + x : null; }
function frag(f, stats) {
  const s = stats || f.stats || {loading: {}};
  return {url: abs(f.url), type: 'MediaSegment', media: 'video', level: f.level, sn: f.sn,
          bytes: s.loaded, total: s.total, request_ms: perfMs(s.loading.start), first_ms: perfMs(s.loading.first),
          end_ms: perfMs(s.loading.end)};
}
A.start = function (url) {
  const h = A.player = new Hls();
  h.on(Hls.Events.FRAG_LOADING, (ev, d) => { if (d.frag.sn !== 'initSegment') rec('req', frag(d.frag)); });
  h.on(Hls.Events.FRAG_LOADED, (ev, d) => { if (d.frag.sn !== 'initSegment') rec('done', frag(d.frag, d.frag.stats)); });
  h.on(Hls.Events.FRAG_LOAD_EMERGENCY_ABORTED, (ev, d) => { rec('abandon', frag(d.frag, d.stats)); });
  h.on(Hls.Events.ERROR, (ev, d) => {
    if (d.fatal) { A.error = 'hls.js fatal error: ' + d.type + ' ' + d.details; rec('error', {message: A.error}); }
  });
  h.on(Hls.Events.MANIFEST_PARSED, () => { video.play().catch(e => rec('error', {message: String(e)})); });
  A.t0 = now();
  rec('start');
  h.loadSource(url);
  h.attachMedia(video);
};
"""


def page_html(player: str) -> str:
    """The page for ``player`` (``dashjs`` or ``hlsjs``); it loads ``/player.js``."""
    script = {"dashjs": _DASHJS, "hlsjs": _HLSJS}[player]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>abrkit emulate</title></head><body>"
        "<video id='v' muted playsinline width='320' height='180'></video>"
        "<script src='/player.js'></script>"
        f"<script>{_COMMON}{script}\nA.ready = {json.dumps(player)};</script>"
        "</body></html>"
    )
