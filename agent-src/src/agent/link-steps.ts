/**
 * Which server message the agent accepts at which point of a link, from which role. A server
 * instruction that rewrites the agent's identity or sends it elsewhere counts only from the role
 * that may send it and only at its step:
 *
 *   HELLO sent ──CHALLENGE (role = the kind we dialled)──► AUTH sent ──► endpoint: REDIRECT
 *                                                                    └► streamer: WELCOME ──► live: MOVE
 *                                                      └► ACTIVATE sent (endpoint) ──► ACTIVATED
 *
 * RETRY_AFTER and ERROR are accepted at any step. Anything else (a second CHALLENGE, ACTIVATED
 * or REDIRECT on a live streamer link, MOVE before WELCOME) is refused and ends the link.
 */

import { FrameType, frameTypeName } from "../protocol/frame";
import type { DestKind } from "./reconnect-policy";

export type LinkStep = "hello_sent" | "auth_sent" | "activate_sent" | "live";

const ANY_STEP = new Set<FrameType>([FrameType.RETRY_AFTER, FrameType.ERROR]);

const EXPECTED: Record<LinkStep, Partial<Record<DestKind, FrameType>>> = {
  hello_sent: { endpoint: FrameType.CHALLENGE, streamer: FrameType.CHALLENGE },
  auth_sent: { endpoint: FrameType.REDIRECT, streamer: FrameType.WELCOME },
  activate_sent: { endpoint: FrameType.ACTIVATED },
  live: { streamer: FrameType.MOVE },
};

/** Why the message is refused at this step from a server of this kind, or null when accepted. */
export function refusal(type: FrameType, kind: DestKind, step: LinkStep): string | null {
  if (ANY_STEP.has(type) || EXPECTED[step][kind] === type) return null;
  return `${frameTypeName(type)} is not accepted from a ${kind} ${step === "live" ? "on a live link" : `after ${step.replace("_sent", "")}`}`;
}
