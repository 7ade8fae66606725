// Which server message the agent accepts at which step of a link, from which role.
import { describe, expect, it } from "vitest";
import { refusal } from "../../src/agent/link-steps";
import { FrameType } from "../../src/protocol/frame";

describe("server messages by role and step", () => {
  it("the handshake an endpoint and a streamer really send is accepted", () => {
    expect(refusal(FrameType.CHALLENGE, "endpoint", "hello_sent")).toBeNull();
    expect(refusal(FrameType.ACTIVATED, "endpoint", "activate_sent")).toBeNull();
    expect(refusal(FrameType.REDIRECT, "endpoint", "auth_sent")).toBeNull();
    expect(refusal(FrameType.CHALLENGE, "streamer", "hello_sent")).toBeNull();
    expect(refusal(FrameType.WELCOME, "streamer", "auth_sent")).toBeNull();
    expect(refusal(FrameType.MOVE, "streamer", "live")).toBeNull();
  });

  it("RETRY_AFTER and ERROR are accepted from either role at any step", () => {
    for (const step of ["hello_sent", "auth_sent", "activate_sent", "live"] as const) {
      for (const kind of ["endpoint", "streamer"] as const) {
        expect(refusal(FrameType.RETRY_AFTER, kind, step)).toBeNull();
        expect(refusal(FrameType.ERROR, kind, step)).toBeNull();
      }
    }
  });

  it("a streamer on a live link cannot send ACTIVATED or REDIRECT (rewrite the identity or endpoints)", () => {
    expect(refusal(FrameType.ACTIVATED, "streamer", "live")).toMatch(/ACTIVATED is not accepted from a streamer on a live link/);
    expect(refusal(FrameType.REDIRECT, "streamer", "live")).toMatch(/REDIRECT is not accepted from a streamer/);
  });

  it("MOVE before WELCOME, or from an endpoint, is refused", () => {
    expect(refusal(FrameType.MOVE, "streamer", "hello_sent")).toMatch(/MOVE is not accepted from a streamer after hello/);
    expect(refusal(FrameType.MOVE, "streamer", "auth_sent")).not.toBeNull();
    expect(refusal(FrameType.MOVE, "endpoint", "auth_sent")).not.toBeNull();
  });

  it("an endpoint's instructions count only at their step: no REDIRECT before AUTH, no ACTIVATED after AUTH, no second CHALLENGE", () => {
    expect(refusal(FrameType.REDIRECT, "endpoint", "hello_sent")).not.toBeNull();
    expect(refusal(FrameType.ACTIVATED, "endpoint", "auth_sent")).not.toBeNull();
    expect(refusal(FrameType.CHALLENGE, "endpoint", "auth_sent")).not.toBeNull();
    expect(refusal(FrameType.WELCOME, "endpoint", "auth_sent")).not.toBeNull();
  });

  it("frames only agents send are refused", () => {
    expect(refusal(FrameType.HELLO, "streamer", "live")).toMatch(/HELLO is not accepted/);
    expect(refusal(FrameType.AUTH, "endpoint", "hello_sent")).not.toBeNull();
  });
});
