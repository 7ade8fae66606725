/**
 * What an operator can do to a device, in one place: the loopback admin API (api.ts) and the web
 * console's admin accounts (gateways/http/web/console-api.ts) call these same functions.
 */

import { parseHostPort } from "../../common/config-fields";
import { FrameType } from "../../protocol/frame";
import type { Registry } from "../link/registry";

export type ActionResult = { ok: true; status: 202; body: Record<string, unknown> } | { ok: false; status: 400 | 404; error: string };

/** Sends MOVE to a live agent: it reconnects to `streamer` (host:port). */
export function moveDevice(registry: Registry, id: string, streamer: unknown): ActionResult {
  try {
    if (typeof streamer !== "string") throw new Error("not a string");
    parseHostPort(streamer, "streamer");
  } catch {
    return { ok: false, status: 400, error: "body must be {\"streamer\": \"host:port\"}" };
  }
  const e = registry.online(id);
  if (!e) return { ok: false, status: 404, error: "device not connected here" };
  e.link!.session.sendControl(FrameType.MOVE, { streamer });
  return { ok: true, status: 202, body: { moved: id, streamer } };
}

/** Closes a device's live link; its agent reconnects with its usual backoff (a "kick"). */
export function disconnectDevice(registry: Registry, id: string, by: string): ActionResult {
  const e = registry.online(id);
  if (!e) return { ok: false, status: 404, error: "device not connected here" };
  e.link!.session.close(`disconnected by ${by}`);
  return { ok: true, status: 202, body: { disconnected: id } };
}
