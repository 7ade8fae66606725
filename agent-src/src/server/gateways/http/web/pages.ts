/**
 * The web pages the HTTP gateway serves: the console (/), the player (/<device>/<path>/) and
 * their static assets (/assets/…, the browser bundles embedded at build time). Every page carries
 * a strict Content-Security-Policy (scripts and styles from this origin only, no inline code,
 * media from blob:/self for MSE), no-store, nosniff, no framing, and no Referer (a player URL
 * may hold a ?token=).
 */

import type * as http from "node:http";
import { APP_CSS, CONSOLE_JS, PLAYER_JS } from "web-assets";

export const CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob: data:",
  "media-src 'self' blob:", "connect-src 'self'", "worker-src 'self' blob:", "base-uri 'none'",
  "form-action 'self'", "frame-ancestors 'none'",
].join("; ");

export const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": CSP,
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
};

const ASSETS: Record<string, { type: string; body: string }> = {
  "player.js": { type: "text/javascript; charset=utf-8", body: PLAYER_JS },
  "console.js": { type: "text/javascript; charset=utf-8", body: CONSOLE_JS },
  "app.css": { type: "text/css; charset=utf-8", body: APP_CSS },
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, script: string, body: string, data: Record<string, string> = {}): string {
  const attrs = Object.entries(data).map(([k, v]) => ` data-${k}="${escapeHtml(v)}"`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/${script}" defer></script>
</head>
<body${attrs}>
${body}
</body>
</html>
`;
}

export function consolePage(): string {
  return page("Cameras — flussonic-streamer", "console.js", `<header><h1>Cameras</h1><span id="who"></span></header>
<main id="app"><p class="muted">Loading…</p></main>`);
}

export function playerPage(deviceId: string, path: string): string {
  return page(`${deviceId}${path} — flussonic-streamer`, "player.js", `<header><a href="/" id="back">← cameras</a><h1>${escapeHtml(deviceId)}<span class="muted">${escapeHtml(path)}</span></h1>
<span id="status" class="status connecting">connecting</span></header>
<main class="player"><video id="video" muted autoplay playsinline controls></video>
<section id="archive" hidden><div id="timeline" class="timeline" title="click to play the recording from there"></div><p class="muted"><span id="tl-info"></span> <button id="golive" hidden>back to live</button></p></section></main>`, { device: deviceId, path });
}

export function sendHtml(res: http.ServerResponse, status: number, html: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Content-Length": Buffer.byteLength(html) });
  res.end(html);
}

/** GET /assets/<name>; false if there is no such asset. */
export function sendAsset(res: http.ServerResponse, name: string): boolean {
  const a = ASSETS[name];
  if (!a) return false;
  res.writeHead(200, { ...SECURITY_HEADERS, "Content-Type": a.type, "Cache-Control": "public, max-age=300", "Content-Length": Buffer.byteLength(a.body) });
  res.end(a.body);
  return true;
}
