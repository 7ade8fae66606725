// The player page (/<device>/<camera path>/): hls.js over MSE in low-latency mode, or the
// browser's own HLS (Safari, iOS). Shows live / reconnecting / offline and retries for ever.
// Bundled by agent-src/build.mjs into the streamer; no CDN.
import Hls from "hls.js";

const video = document.getElementById("video");
const status = document.getElementById("status");
// A ?token= viewer's page passes its token on to the playlist (and the playlist to every segment).
const query = new URLSearchParams(location.search);
const token = query.get("token");
const src = "index.m3u8" + (token ? `?token=${encodeURIComponent(token)}` : "");
// ?ll=0: plain HLS (whole segments, no parts or blocking reload), for comparison or odd proxies.
const lowLatency = query.get("ll") !== "0";
const state = { errors: [], fatal: 0, retries: 0, lowLatency };
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
    hls = new Hls({ lowLatencyMode: lowLatency, backBufferLength: 30, liveDurationInfinity: true, manifestLoadingMaxRetry: 2, levelLoadingMaxRetry: 4, fragLoadingMaxRetry: 4 });
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
      show("live", hls?.latency ? `live · ${hls.latency.toFixed(1)} s behind` : "live");
      document.body.dataset.state = "live";
    }
  } else if (Date.now() - stalledSince > 5000 && document.body.dataset.state === "live") {
    retry("stalled");
  }
}, 500);

start();
