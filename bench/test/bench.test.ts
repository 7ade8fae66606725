// Runs every bench row once with tiny parameters (`run.mjs --tiny`): the scripts must keep working
// against the current agent, streamer and peers. The figures of a tiny run mean nothing; what is
// checked is that every row produced a number for us and for its peer, and the results files.
import { execa } from "execa";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { REPO_ROOT } from "../../testkit/paths";
import { tempDir } from "../../testkit/procs";

test("every bench row runs in tiny mode and reports ours, the peer's figure and the ratio", async () => {
  const out = tempDir("fa-bench-test-");
  const r = await execa(process.execPath, [join(REPO_ROOT, "build/bench/run.mjs"), "--tiny", "--out", out], {
    reject: false, timeout: 560_000, all: true, // a hang guard: ~210 s on this 2-core machine, more when it is busy
  });
  expect(r.exitCode, r.all).toBe(0);
  const json = readdirSync(out).find((f) => f.endsWith(".json"))!;
  const res = JSON.parse(readFileSync(join(out, json), "utf8")) as {
    errors: string[]; rows: { id: string; ours: { value: number | null }; peerName: string; peer: { value: number | null } | null; ratio: number | null }[];
  };
  expect(res.errors).toEqual([]);
  const ids = res.rows.map((x) => x.id);
  for (const id of ["size-armhf", "idle", "storm-time", "storm-attempts", "storm-cpu", "rtt", "rtt-fresh", "rtt-native", "throughput", "cpu-gbit-sshd", "cpu-gbit-openvpn", "qemu-cpu-ssh", "qemu-cpu-dbclient", "qemu-rss", "guest-rss", "hostile-rss", "hostile-cpu", "resume-cpu", "armv5-handshake", "hls-latency", "hls-cpu", "restream-camera-1", "restream-agent-cpu-1", "restream-cpu-gbit", "restream-ttff", "restream-ttff-direct", "record-cpu", "record-disk", "record-scale"]) expect(ids).toContain(id);
  for (const row of res.rows) {
    // make test builds only the armhf agent before this suite; other arches are sized when built.
    if (/^size-(armel|aarch64|mipsel)$/.test(row.id) && row.ours.value === null) continue;
    expect(row.ours.value, `${row.id}: our figure`).toBeTypeOf("number");
    if (row.peerName !== "—") {
      expect(row.peer?.value, `${row.id}: peer figure`).toBeTypeOf("number");
      expect(row.ratio, `${row.id}: ratio`).toBeTypeOf("number");
    }
  }
  // The table printed on stdout has one line per row.
  expect(r.stdout.split("\n").filter((l) => l.startsWith("| ")).length).toBe(res.rows.length + 1);
}, 570_000);
