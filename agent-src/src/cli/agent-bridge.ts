/**
 * flussonic-agent over a host bridge (platform/bridge.ts): the same CLI and agent core as
 * agent-node.ts and agent-quickjs.ts, with every Platform method forwarded to functions an
 * embedder puts on `globalThis.__host`. Bundled as an ES2020 IIFE with no imports
 * (build/bundle/agent-bridge.js), it runs inside quickjs-emscripten.
 */
import { createBridgePlatform, type BridgeDispatch, type BridgeHost } from "../platform/bridge";
import { main } from "./agent-main";

declare const __host: BridgeHost;

const host = __host;
const platform = createBridgePlatform(host);
(globalThis as unknown as { __bridgeDispatch: BridgeDispatch }).__bridgeDispatch = platform.dispatch;
main(platform, host.argv, {
  exit: (code) => host.exit(code),
  out: (line) => host.out(line),
  arch: host.arch,
});
