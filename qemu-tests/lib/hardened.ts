/**
 * The hardened camera: the stock firmware (same telnetd, same factory password) plus our Buildroot
 * package installed exactly as package/flussonic-agent/flussonic-agent.mk installs it, the board
 * overlay, then `flussonic-harden build` + `check` on the image tree — the same steps a camera
 * maker's Buildroot build runs. Test-only additions: the fake camera and the agent's test config.
 */
import { execa } from "execa";
import { appendFileSync, existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { Arch } from "./boards.js";
import type { ImageFile, ImageSpec } from "./image.js";
import { FAKE_CAMERA_DIR } from "./media.js";
import { REPO } from "./paths.js";
import { qemuPki } from "./pki.js";

const PKG = join(REPO, "package/flussonic-agent");
const OVERLAY = join(REPO, "board/flussonic/rootfs-overlay");
const HARDEN_PKG = join(REPO, "package/flussonic-harden");
const HARDEN = join(HARDEN_PKG, "flussonic-harden");

/** Guest ports the host services appear on (guestfwd 10.0.2.100:<port>). */
export const GUEST_ENDPOINT_PORT = 443;
export const GUEST_STREAMER_PORT = 7444;
/** Fixed activation token baked into test images; each test's streamer lists it as unused. */
export const TEST_TOKEN = "qemu-test-activation-token-0001";

export const agentBinary = (arch: Arch) => join(REPO, "build/agent", arch, "flussonic-agent");
export const fakeCameraBinary = (arch: Arch) => join(FAKE_CAMERA_DIR, arch, "fake-camera");

function overlayFiles(): ImageFile[] {
  const out: ImageFile[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push({ path: "/" + relative(OVERLAY, p), from: p, mode: statSync(p).mode & 0o777 });
    }
  };
  if (existsSync(OVERLAY)) walk(OVERLAY);
  return out;
}

/** Per-deployment data a camera maker provisions: agent.json (test timings), the test CA, the token. */
export function provisionFiles(): ImageFile[] {
  const pki = qemuPki();
  const agentJson = {
    endpoints: [`10.0.2.100:${GUEST_ENDPOINT_PORT}`],
    ca_file: "/etc/flussonic-agent/ca.pem",
    activation_token_file: "/etc/flussonic-agent/activation-token",
    state_file: "/var/lib/flussonic-agent/state.json",
    targets: { rtsp: "127.0.0.1:554", http: "127.0.0.1:80" },
    log_level: "info",
    // Test timing: faults are observed within seconds, not the production 1..60 s backoff.
    reconnect: { base_ms: 500, cap_ms: 4000, stable_ms: 10000 },
    keepalive: { ping_interval_ms: 2000, idle_timeout_ms: 6000 },
  };
  return [
    { path: "/etc/flussonic-agent/agent.json", content: JSON.stringify(agentJson, null, 1) + "\n", mode: 0o644 },
    { path: "/etc/flussonic-agent/ca.pem", from: pki.caFile, mode: 0o644 },
    { path: "/etc/flussonic-agent/activation-token", content: TEST_TOKEN + "\n", mode: 0o600 },
  ];
}

/** Test rig: the camera's own services (RTSP/HTTP on loopback), standing in for the vendor's. */
export function rigFiles(arch: Arch): ImageFile[] {
  if (!existsSync(fakeCameraBinary(arch))) throw new Error(`missing ${fakeCameraBinary(arch)}: run make qemu-images`);
  return [
    { path: "/usr/bin/fake-camera", from: fakeCameraBinary(arch), mode: 0o755 },
    { path: "/usr/share/fake-camera/clip.h264", from: join(FAKE_CAMERA_DIR, "media/clip.h264"), mode: 0o644 },
    { path: "/usr/share/fake-camera/image.jpg", from: join(FAKE_CAMERA_DIR, "media/image.jpg"), mode: 0o644 },
  ];
}

export function hardenedSpec(arch: Arch): ImageSpec {
  for (const f of [agentBinary(arch), fakeCameraBinary(arch)])
    if (!existsSync(f)) throw new Error(`missing ${f}: run make qemu-images (or make agent ARCH=${arch})`);
  const files: ImageFile[] = [
    // As flussonic-agent.mk and flussonic-harden.mk install them:
    { path: "/usr/bin/flussonic-agent", from: agentBinary(arch), mode: 0o755 },
    { path: "/usr/sbin/flussonic-harden", from: HARDEN, mode: 0o755 },
    { path: "/usr/sbin/flussonic-listeners", from: join(HARDEN_PKG, "flussonic-listeners"), mode: 0o755 },
    { path: "/usr/share/flussonic-harden/flussonic-harden-common.sh", from: join(HARDEN_PKG, "flussonic-harden-common.sh"), mode: 0o644 },
    { path: "/usr/sbin/flussonic-agent-supervise", from: join(PKG, "flussonic-agent-supervise"), mode: 0o755 },
    { path: "/usr/share/flussonic-harden/default-credentials.tsv", from: join(HARDEN_PKG, "default-credentials.tsv"), mode: 0o644 },
    { path: "/etc/init.d/S05flussonic-harden", from: join(HARDEN_PKG, "S05flussonic-harden"), mode: 0o755 },
    { path: "/etc/init.d/S60flussonic-agent", from: join(PKG, "S60flussonic-agent"), mode: 0o755 },
    ...overlayFiles(),
    ...provisionFiles(),
    ...rigFiles(arch),
  ];
  return {
    arch,
    variant: "hardened",
    files,
    hashInputs: [HARDEN, join(HARDEN_PKG, "flussonic-listeners"), join(HARDEN_PKG, "flussonic-harden-common.sh"), join(HARDEN_PKG, "default-credentials.tsv")],
    postBuild: {
      id: "no-vendor-httpd; flussonic-agent user; flussonic-harden build+check",
      run: async (root) => {
        // The maker rebinds its web UI to loopback (the agent is its only client): here the fake
        // camera, bound to 127.0.0.1:80, takes the place of the stock httpd on every interface.
        rmSync(join(root, "etc/init.d/S50httpd"), { force: true });
        // The agent's own user, as Buildroot's mkusers makes it from FLUSSONIC_AGENT_USERS.
        appendFileSync(join(root, "etc/passwd"), "flussonic-agent:x:1000:1000:flussonic-agent daemon:/var/lib/flussonic-agent:/bin/false\n");
        appendFileSync(join(root, "etc/shadow"), "flussonic-agent:*:::::::\n");
        appendFileSync(join(root, "etc/group"), "flussonic-agent:x:1000:\n");
        const b = await execa("sh", [HARDEN, "build", root], { reject: false, all: true, timeout: 120_000 });
        if (b.exitCode !== 0) throw new Error(`flussonic-harden build failed:\n${b.all}`);
        const c = await execa("sh", [HARDEN, "check", root], { reject: false, all: true, timeout: 120_000 });
        if (c.exitCode !== 0) throw new Error(`flussonic-harden check found holes:\n${c.all}`);
      },
    },
  };
}
