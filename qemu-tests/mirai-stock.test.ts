/**
 * The hole we close: a stock camera image (telnet on 23 and 2323, factory root password from
 * Mirai's list) must be breakable by exactly the scanner's method. Proves the detector works.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage } from "./lib/image.js";
import { consoleLogin, miraiCredentials } from "./lib/mirai.js";
import { bootGuest, freePort, Guest } from "./lib/qemu.js";
import { portOpen, telnetLogin } from "./lib/telnet.js";
import { testArches } from "./lib/env.js";

const creds = miraiCredentials();

describe.each(testArches())("stock camera %s", (arch) => {
  let guest: Guest | undefined;
  const ports = { 23: 0, 2323: 0 };

  beforeAll(async () => {
    ports[23] = await freePort();
    ports[2323] = await freePort();
    const image = await buildImage({ arch, variant: "stock" });
    guest = await bootGuest({
      image,
      hostfwd: [
        { host: ports[23], guest: 23 },
        { host: ports[2323], guest: 2323 },
      ],
    });
    console.log(`[${arch}] stock image ${image.hash} (build ${image.buildMs} ms), boot ${guest.bootMs} ms`);
  }, 180_000);
  afterAll(async () => {
    await guest?.stop();
  }, 30_000);

  // Like the scanner: one connection at a time (busybox telnetd listens with backlog 1), pairs in
  // list order until one gives a shell. A wrong password must be told apart (detector sanity).
  it.each([23, 2323] as const)("Mirai's list logs in over telnet on port %i", async (port) => {
    expect(await telnetLogin(ports[port], "root", "not-in-the-list")).toBe("denied");
    let hit: string | null = null;
    for (const c of creds) {
      const r = await telnetLogin(ports[port], c.user, c.pass);
      expect(r).not.toBe("refused");
      expect(r).not.toBe("no-prompt");
      if (r === "shell") {
        hit = `${c.user}/${c.pass}`;
        break;
      }
    }
    console.log(`[${arch}] telnet ${port}: ${hit} gives a shell`);
    expect(hit).not.toBeNull();
  }, 300_000);

  it("the port scanner sees the stock telnet ports open (detector sanity)", async () => {
    expect(await portOpen(ports[23])).toBe(true);
    expect(await portOpen(ports[2323])).toBe(true);
  }, 30_000);

  it("Mirai's list logs in on the serial console", async () => {
    let hit: string | null = null;
    for (const c of creds) {
      const r = await consoleLogin(guest!.console, c);
      expect(r).not.toBe("no-prompt");
      if (r === "shell") {
        hit = `${c.user}/${c.pass}`;
        break;
      }
    }
    console.log(`[${arch}] console: ${hit} gives a shell`);
    expect(hit).not.toBeNull();
  }, 300_000);
});
