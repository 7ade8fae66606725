// The player page (/<device>/<camera path>/): hls.js over MSE in low-latency mode, or the
// browser's own HLS (Safari, iOS). Shows live / reconnecting / offline and retries for ever.
// Under the video, the device's recordings (if the streamer records it): a timeline of the
// recorded ranges; a click plays the archive from there (HLS VOD), "live" goes back.
// Bundled by agent-src/build.mjs into the streamer; no CDN.
import Hls from "hls.js";

const video = document.getElementById("video");
const status = document.getElementById("status");
// A ?token= viewer's page passes its token on to the playlist (and the playlist to every segment).
const query = new URLSearchParams(location.search);
const token = query.get("token");
const tokenQ = token ? `?token=${encodeURIComponent(token)}` : "";
const liveSrc = "index.m3u8" + tokenQ;
let src = liveSrc;
// ?ll=0: plain HLS (whole segments, no parts or blocking reload), for comparison or odd proxies.
const lowLatency = query.get("ll") !== "0";
const state = { errors: [], fatal: 0, retries: 0, lowLatency, mode: "live", archiveFrom: null };
// hls.js's own estimate of how far behind the live edge the picture is (seconds), for tests and the bench.
Object.defineProperty(state, "latency", { get: () => hls?.latency ?? null, enumerable: true });
window.__player = state;
if (token) document.getElementById("back").hidden = true;

function show(s, text) {
  status.className = `status ${s}`;
  status.textContent = text ?? s;
  document.body.dataset.state = s;
}

let hls = null;
let retryTimer = null;
let lastTime = -1;
let stalledSince = Date.now();

function retry(why) {
  state.retries++;
  state.errors.push(why);
  if (state.errors.length > 50) state.errors.shift();
  show(state.retries > 3 ? "offline" : "reconnecting", state.retries > 3 ? "offline — retrying" : "reconnecting");
  clearTimeout(retryTimer);
  retryTimer = setTimeout(start, Math.min(1000 * state.retries, 5000));
}

function start() {
  if (hls) {
    hls.destroy();
    hls = null;
  }
  if (Hls.isSupported()) {
    const live = state.mode === "live";
    // The archive is a VOD playlist: no low-latency parts, and it has an end.
    hls = new Hls({ lowLatencyMode: live && lowLatency, backBufferLength: 30, liveDurationInfinity: live, manifestLoadingMaxRetry: 2, levelLoadingMaxRetry: 4, fragLoadingMaxRetry: 4 });
    hls.on(Hls.Events.ERROR, (_e, d) => {
      if (!d.fatal) return;
      state.fatal++;
      if (d.type === Hls.ErrorTypes.MEDIA_ERROR && state.fatal < 3) return hls.recoverMediaError();
      retry(`${d.type}: ${d.details}`);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
    hls.loadSource(src);
    hls.attachMedia(video);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;
    video.play().catch(() => {});
  } else {
    show("offline", "this browser cannot play HLS");
  }
}

video.addEventListener("error", () => retry(`video error ${video.error?.code}`));
// "live" once the picture moves; "reconnecting" if it stops for 5 s.
setInterval(() => {
  const t = video.currentTime;
  if (t !== lastTime) {
    lastTime = t;
    stalledSince = Date.now();
    if (t > 0 && !video.paused) {
      state.retries = 0;
      // The VOD starts at the segment that holds the clicked time: hls.js knows the wall-clock time (PROGRAM-DATE-TIME).
      if (state.mode === "archive") show("archive", `archive · ${(hls?.playingDate ?? new Date((state.archiveFrom + t) * 1000)).toLocaleString()}`);
      else show("live", hls?.latency ? `live · ${hls.latency.toFixed(1)} s behind` : "live");
    }
  } else if (state.mode === "archive" && video.ended) {
    show("archive", "archive · end of recording");
  } else if (Date.now() - stalledSince > 5000 && (document.body.dataset.state === "live" || document.body.dataset.state === "archive")) {
    retry("stalled");
  }
}, 500);

// The archive timeline: the last 24 hours (or since the oldest recording), refreshed every 10 s.
const archive = document.getElementById("archive");
const bar = document.getElementById("timeline");
const info = document.getElementById("tl-info");
const goLive = document.getElementById("golive");
const device = encodeURIComponent(document.body.dataset.device);
let span = null;

async function loadTimeline() {
  try {
    const r = await fetch(`/${device}/archive/timeline.json${tokenQ}`);
    if (!r.ok) return;
    const t = await r.json();
    if (!t.ranges.length) return;
    const now = Date.now() / 1000;
    span = { from: Math.max(t.ranges[0].from, now - 86400), to: now };
    const pct = (x) => (100 * (x - span.from)) / (span.to - span.from);
    bar.replaceChildren(...t.ranges.filter((x) => x.to > span.from).map((x) => {
      const d = document.createElement("div");
      d.className = "rec";
      d.style.left = `${Math.max(0, pct(x.from))}%`;
      d.style.width = `${Math.max(0.3, pct(x.to) - Math.max(0, pct(x.from)))}%`;
      d.title = `${new Date(x.from * 1000).toLocaleString()} – ${new Date(x.to * 1000).toLocaleTimeString()}`;
      return d;
    }));
    state.ranges = t.ranges;
    archive.hidden = false;
    info.textContent = `recorded since ${new Date(t.ranges[0].from * 1000).toLocaleString()} · ${t.state}`;
  } catch {
    // no archive here; try again later
  }
}

bar.addEventListener("click", (e) => {
  if (!span) return;
  const at = Math.floor(span.from + ((span.to - span.from) * e.offsetX) / bar.clientWidth);
  state.mode = "archive";
  state.archiveFrom = at;
  state.retries = 0;
  src = `/${device}/archive/${at}/3600/index.m3u8${tokenQ}`;
  goLive.hidden = false;
  show("archive", `archive · ${new Date(at * 1000).toLocaleString()}`);
  start();
});
goLive.addEventListener("click", () => {
  state.mode = "live";
  src = liveSrc;
  goLive.hidden = true;
  start();
});

start();
loadTimeline();
setInterval(loadTimeline, 10_000);
