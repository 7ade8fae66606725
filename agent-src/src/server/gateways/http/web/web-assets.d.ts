// A virtual module that agent-src/build.mjs fills in: the browser code (agent-src/web/, hls.js
// included) bundled with esbuild, embedded in the streamer as strings. No CDN, works offline.
declare module "web-assets" {
  export const PLAYER_JS: string;
  export const CONSOLE_JS: string;
  export const APP_CSS: string;
}
