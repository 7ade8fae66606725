// The agent's memory where it matters: inside an emulated camera (qemu-system, the QEMU area's
// hardened armhf image: the Buildroot one by default, whose agent is the package's dynamic build
// against glibc and shared mbedTLS; QEMU_IMAGES=debian boots the one with our static agent), read
// from the guest's own /proc while viewers play the guest camera's stream through the tunnel. VmHWM
// counts the shared libraries' touched pages too (bench/README.md, footnote 7). No peer here: the
// image has no ssh client.
import { startCameraSystem } from "../../qemu-tests/lib/camera-system";
import { openRtspSession, type RtspSession } from "../../testkit/rtsp-client";
import { sleep } from "../lib/common";
import type { BenchOptions, Row } from "../lib/row";

const VIEWERS = 10;

function kb(status: string, key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
}

export async function guestRss(o: BenchOptions): Promise<Row[]> {
  // All viewers are one account: lift its per-device stream share (default 8) above VIEWERS.
  const sys = await startCameraSystem("armhf", { streamerLimits: { viewer_streams_per_device: VIEWERS } });
  try {
    const status = () => sys.guest.run("cat /proc/$(pidof flussonic-agent)/status", 30_000);
    // What the agent alone costs the camera: its PSS splits shared pages among the processes
    // mapping them (libc is mapped by every process on the image), its private pages are its own.
    // Kernels before 4.14 have no smaps_rollup: those figures are then NaN, the row still runs.
    const rollup = () => sys.guest.run("cat /proc/$(pidof flussonic-agent)/smaps_rollup 2>/dev/null; true", 30_000);
    // Resident KiB per mapped file (the binary, each library; anonymous mappings as one): which
    // code the peak is made of, for choosing how to link the agent.
    const byMapping = () => sys.guest.run(
      "awk '/^[0-9a-f]+-/ { n = $6 == \"\" || $6 ~ /^\\[/ ? \"(anonymous)\" : $6 } /^Rss:/ { r[n] += $2 } " +
      "END { for (n in r) if (r[n] > 0) print r[n], n }' /proc/$(pidof flussonic-agent)/smaps 2>/dev/null; true", 30_000);
    const idle = await status();
    const playMs = o.tiny ? 5000 : 30_000;
    // The guest camera's clip is ~0.4 Mbit/s: enough parallel viewers make the agent relay ≥ 4 Mbit/s
    // (more streams is the harder case for memory: each has its own buffers and window).
    const sessions: RtspSession[] = [];
    // The streamer pulls each (path, query) once and serves all its viewers from that one copy, so
    // each viewer asks for its own query: the agent relays VIEWERS streams, as many cameras' worth.
    for (let i = 0; i < VIEWERS; i++) sessions.push(await openRtspSession(sys.rtspUrl(`stream1?viewer=${i}`), { timeoutMs: 60_000 }));
    const total = () => sessions.reduce((a, x) => a + x.bytes(), 0);
    const b0 = total();
    const t0 = Date.now();
    await sleep(playMs);
    const during = await status();
    const smaps = await rollup();
    const mappings = Object.fromEntries(
      (await byMapping()).split("\n").map((l) => /^(\d+) (\S+)$/.exec(l.trim())).filter((m) => m !== null)
        .map((m) => [m[2].replace(/^.*\//, ""), Number(m[1])] as [string, number]).sort((x, y) => y[1] - x[1]),
    );
    const mbit = ((total() - b0) * 8) / ((Date.now() - t0) / 1000) / 1e6;
    for (const x of sessions) x.close();
    const raw = {
      idleRssKb: kb(idle, "VmRSS"), rssKb: kb(during, "VmRSS"), hwmKb: kb(during, "VmHWM"), mbitPerSec: mbit, playMs,
      anonKb: kb(during, "RssAnon"), fileKb: kb(during, "RssFile"), shmemKb: kb(during, "RssShmem"), pssKb: kb(smaps, "Pss"),
      privateKb: kb(smaps, "Private_Clean") + kb(smaps, "Private_Dirty"), mappings,
    };
    o.log(`guest rss: ${JSON.stringify(raw)}`);
    return [{
      id: "guest-rss", figure: "agent peak RSS (VmHWM) in a qemu-system-arm guest (armhf), while relaying", ours: { value: raw.hwmKb / 1024, unit: "MiB", text: `${mbit.toFixed(2)} Mbit/s in ${VIEWERS} streams` },
      peerName: "—", peer: null, ratio: null, goal: "≤ 2 MB", met: raw.hwmKb / 1024 <= 2 * 0.9537,
      notes: [`guest agent RSS idle ${raw.idleRssKb} KiB, while relaying ${mbit.toFixed(2)} Mbit/s (${VIEWERS} viewers of the guest camera's clip) ${raw.rssKb} KiB, peak ${raw.hwmKb} KiB`,
        `while relaying: anonymous ${raw.anonKb} KiB, file-backed ${raw.fileKb} KiB, shmem ${raw.shmemKb} KiB (the image is an initramfs: its binary and libraries are pages of a RAM file system, in memory whether mapped or not); PSS ${raw.pssKb} KiB, private ${raw.privateKb} KiB. No peer: the camera image has no ssh client`,
        `resident KiB by mapping: ${Object.entries(mappings).map(([n, k]) => `${n} ${k}`).join(", ") || "(no smaps)"}`],
      raw,
    }];
  } finally {
    await sys.stop();
  }
}
