// streamer.archive in the config: defaults, and a bad value names its field.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseStreamerConfig } from "../../src/server/config";
import { tempDir } from "../../../testkit/procs";

function parse(archive: unknown) {
  const dir = tempDir("fa-cfg-");
  writeFileSync(join(dir, "c.pem"), "-----BEGIN CERTIFICATE-----\n");
  writeFileSync(join(dir, "k.pem"), "-----BEGIN PRIVATE KEY-----\n");
  writeFileSync(join(dir, "secret"), "x".repeat(40));
  const cfg = { tls: { cert_file: "c.pem", key_file: "k.pem" }, cluster_secret_file: "secret", streamer: { archive } };
  return { dir, cfg: parseStreamerConfig(JSON.stringify(cfg), dir) };
}

describe("streamer.archive", () => {
  it("defaults: folder next to the config, 10 s segments, no limits, path = web_default_path", () => {
    const { dir, cfg } = parse({ devices: { "*": {}, "cam-1": { record: "off" }, "cam-2": { path: "/stream2?x=1", max_age_days: 0.5, max_bytes: 1e9 } } });
    expect(cfg.streamer!.archive).toEqual({
      dir: join(dir, "archive"), segmentMs: 10_000, maxTotalBytes: 0, minFreeBytes: 0,
      devices: {
        "*": { record: "continuous", path: "/stream1", maxAgeMs: 0, maxBytes: 0 },
        "cam-1": { record: "off", path: "/stream1", maxAgeMs: 0, maxBytes: 0 },
        "cam-2": { record: "continuous", path: "/stream2?x=1", maxAgeMs: 43_200_000, maxBytes: 1e9 },
      },
    });
    expect(parse(undefined).cfg.streamer!.archive).toBeNull();
  });

  it("a bad value names its field", () => {
    const cases: [unknown, RegExp][] = [
      [{ segment_s: 0 }, /streamer\.archive\.segment_s/],
      [{ sizes: 1 }, /streamer\.archive\.sizes/],
      [{ devices: { "..": {} } }, /streamer\.archive\.devices\.\.\./],
      [{ devices: { a: { record: "always" } } }, /streamer\.archive\.devices\.a\.record/],
      [{ devices: { a: { path: "stream1" } } }, /streamer\.archive\.devices\.a\.path/],
      [{ devices: { a: { max_age_days: -1 } } }, /streamer\.archive\.devices\.a\.max_age_days/],
      [{ devices: { a: { schedule: "9-17" } } }, /streamer\.archive\.devices\.a\.schedule/],
      [{ min_free_bytes: "1G" }, /streamer\.archive\.min_free_bytes/],
    ];
    for (const [a, re] of cases) expect(() => parse(a), JSON.stringify(a)).toThrow(re);
  });
});
