/**
 * Faults with the emulated camera running (default armhf; QEMU_FAULT_ARCHES=… for more):
 * the endpoint dies, the streamer is SIGKILLed and restarted, the camera's WAN link drops
 * (QEMU set_link), the camera reboots with the endpoint still down — each time the video must
 * come back, frame-exact, within a bound.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CameraSystem, startCameraSystem, waitCameraServices } from "./lib/camera-system.js";
import { testArches } from "./lib/env.js";
import { buildFakeCamera, clipMd5s, frameMd5s } from "./lib/media.js";

const arches = testArches().filter((a) => (process.env.QEMU_FAULT_ARCHES ?? "armhf").split(",").includes(a));
/** Agent backoff cap in the test image is 4 s; TLS handshake + activation under emulation adds a few. */
const RECOVERY_BOUND_MS = 30_000;

let plays = 0;
/** The clip from its start: a query of its own makes the streamer open a fresh camera session
 *  (a URL an earlier check played may still be a live shared source, joined mid-clip). */
async function playable(sys: CameraSystem, frames = 50): Promise<void> {
  const got = await frameMd5s(sys.rtspUrl(`stream1?play=${plays++}`), frames, ["-rtsp_transport", "tcp"], 60_000);
  expect(got).toEqual(await clipMd5s(frames));
}

async function waitState(sys: CameraSystem, state: "online" | "offline", timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (let i = 0; Date.now() - t0 < timeoutMs && i < 10000; i++) {
    const d = (await sys.streamer.devices(3000).catch(() => [])).find((x) => x.id === sys.deviceId);
    if ((d?.state ?? "offline") === state) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`device not ${state} within ${timeoutMs} ms\n--- console ---\n${sys.guest.consoleLog().slice(-3000)}`);
}

// No fault arch among QEMU_ARCHES (e.g. QEMU_ARCHES=armel): say so instead of "no test found".
if (arches.length === 0) it.skip("faults: no arch of QEMU_FAULT_ARCHES is in QEMU_ARCHES", () => {});

describe.each(arches)("camera %s under faults", (arch) => {
  let sys: CameraSystem | undefined;

  beforeAll(async () => {
    await buildFakeCamera();
    // Reboots allowed, and a flash disk where the board has one (state survives the reboot).
    sys = await startCameraSystem(arch, { allowReboot: true, flash: arch === "armhf" || arch === "aarch64" });
  }, 240_000);
  afterAll(async () => {
    await sys?.stop();
  }, 60_000);

  it("keeps streaming when the endpoint dies", async () => {
    sys!.endpoint.kill("SIGKILL");
    await sys!.endpoint.proc.exited;
    await playable(sys!);
  }, 90_000);

  it("comes back after the streamer is SIGKILLed and restarted", async () => {
    await sys!.restartStreamer();
    const ms = await waitState(sys!, "online", RECOVERY_BOUND_MS);
    console.log(`[${arch}] streamer restart: agent back after ${ms} ms (endpoint still down: cached streamer)`);
    await playable(sys!);
  }, 120_000);

  it("redials after the WAN link drops (QEMU set_link down/up)", async () => {
    await sys!.guest.qmp("set_link", { name: "n0", up: false });
    // Keepalive idle timeout is 6 s on both sides: the link must be declared dead.
    const down = await waitState(sys!, "offline", 20_000);
    await sys!.guest.qmp("set_link", { name: "n0", up: true });
    const up = await waitState(sys!, "online", RECOVERY_BOUND_MS);
    console.log(`[${arch}] link down: offline after ${down} ms; after link up, online again in ${up} ms`);
    await playable(sys!);
  }, 120_000);

  it.runIf(arch === "armhf" || arch === "aarch64")("after a reboot, goes straight to the cached streamer (endpoint down)", async () => {
    expect(sys!.endpoint.proc.child.exitCode !== null || sys!.endpoint.proc.child.signalCode !== null).toBe(true);
    const before = await sys!.guest.run("cat /var/lib/flussonic-agent/state.json");
    const bootMs = await sys!.guest.reboot(120_000);
    expect(await sys!.guest.run("cat /var/lib/flussonic-agent/state.json")).toBe(before);
    const ms = await waitState(sys!, "online", 60_000);
    await waitCameraServices(sys!.guest);
    console.log(`[${arch}] reboot: rebooted in ${bootMs} ms, online at the cached streamer ${ms} ms later`);
    await playable(sys!);
  }, 240_000);
});
