// Both command lines: --help, --version, and one clear error naming the field (exit 2) for bad configs.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { agentCommand, BUNDLE, makePki } from "../../testkit/system";
import { tempDir } from "../../testkit/procs";

const dir = tempDir("fa-cli-");
const pki = makePki();

function agent(args: string[]) {
  const [cmd, ...pre] = agentCommand();
  return spawnSync(cmd, [...pre, ...args], { encoding: "utf8", timeout: 30_000 });
}
function streamer(args: string[]) {
  return spawnSync(process.execPath, [join(BUNDLE, "streamer.cjs"), ...args], { encoding: "utf8", timeout: 30_000 });
}
function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

const goodAgent = { endpoints: ["127.0.0.1:7443"], ca_file: pki.caFile };

describe("flussonic-agent CLI", () => {
  it("--help and --version", () => {
    const h = agent(["--help"]);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/Usage: flussonic-agent --config FILE/);
    expect(h.stdout).toMatch(/Listens on no port/);
    const v = agent(["--version"]);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^flussonic-agent \d+\.\d+\.\d+ \(protocol 1, /);
  });

  it("usage errors exit 2", () => {
    expect(agent([]).status).toBe(2);
    expect(agent(["--bogus"]).status).toBe(2);
    expect(agent(["--config"]).status).toBe(2);
  });

  it.each([
    ["not JSON", "{", /field "\(file\)": not valid JSON/],
    ["no endpoints", { ca_file: pki.caFile }, /field "endpoints"/],
    ["bad endpoint", { ...goodAgent, endpoints: ["nohost"] }, /field "endpoints\[0\]": "nohost" is not host:port/],
    ["no trust anchor", { endpoints: ["a:1"] }, /field "ca_file": set ca_file or spki_pins/],
    ["missing CA file", { ...goodAgent, ca_file: "/nonexistent/ca.pem" }, /field "ca_file": cannot read/],
    ["bad pin", { ...goodAgent, spki_pins: ["xyz"] }, /field "spki_pins\[0\]"/],
    ["bad target", { ...goodAgent, targets: { rtsp: "127.0.0.1:99999" } }, /field "targets.rtsp"/],
    ["bad target name", { ...goodAgent, targets: { "RTSP!": "127.0.0.1:554" } }, /field "targets.RTSP!"/],
    ["unknown field", { ...goodAgent, endpoint: "x" }, /field "endpoint": unknown field/],
    ["bad keepalive", { ...goodAgent, keepalive: { ping_interval_ms: 5000, idle_timeout_ms: 1000 } }, /field "keepalive.idle_timeout_ms"/],
    ["bad log level", { ...goodAgent, log_level: "loud" }, /field "log_level"/],
  ])("%s → exit 2 naming the field", (name, cfg, msg) => {
    const r = agent(["--config", file(`agent-${name.replace(/\W/g, "_")}.json`, cfg)]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split("\n")).toHaveLength(1); // one clear line
    expect(r.stderr).toMatch(/ERROR/);
  });

  it("missing config file → exit 2", () => {
    const r = agent(["--config", join(dir, "nope.json")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read/);
  });

  it("--check-config accepts a valid file", () => {
    const r = agent(["--check-config", "--config", file("agent-ok.json", goodAgent)]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/: ok/);
  });
});

describe("flussonic-streamer CLI", () => {
  writeFileSync(join(dir, "secret"), "x".repeat(40));
  const base = { tls: { cert_file: pki.certFile, key_file: pki.keyFile }, cluster_secret_file: join(dir, "secret") };

  it("--help, --version, usage errors", () => {
    expect(streamer(["--help"]).stdout).toMatch(/Usage: flussonic-streamer --config FILE/);
    expect(streamer(["--version"]).stdout).toMatch(/^flussonic-streamer \d+\.\d+\.\d+/);
    expect(streamer([]).status).toBe(2);
  });

  it.each([
    ["no roles", base, /configure an endpoint section, a streamer section, or both/],
    ["bad cert path", { ...base, tls: { cert_file: "/nope", key_file: pki.keyFile }, streamer: {} }, /field "tls.cert_file": cannot read/],
    ["short secret", { ...base, cluster_secret_file: file("short", "abc"), streamer: {} }, /field "cluster_secret_file": secret must be at least 32/],
    ["bad listen", { ...base, streamer: { rtsp_listen: "x" } }, /field "streamer.rtsp_listen"/],
    ["endpoint without streamers", { ...base, endpoint: { tokens_file: "t", streamers: [] } }, /field "endpoint.streamers"/],
    ["bad viewer", { ...base, streamer: { viewers: [{ name: "a" }] } }, /field "streamer.viewers\[0\].password"/],
    ["unknown field", { ...base, streamer: {}, stremer: {} }, /field "stremer": unknown field/],
    ["negative snapshot age", { ...base, streamer: { snapshot_max_age_ms: -1 } }, /field "streamer.snapshot_max_age_ms": expected a number in \[0, 3600000\]/],
    ["snapshot age as text", { ...base, streamer: { snapshot_max_age_ms: "2s" } }, /field "streamer.snapshot_max_age_ms"/],
  ])("%s → exit 2 naming the field", (name, cfg, msg) => {
    const r = streamer(["--config", file(`s-${name.replace(/\W/g, "_")}.json`, cfg)]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(msg);
  });

  it("new-token appends a token; sign-url prints EXPIRY.MAC", () => {
    const cfg = file("s-ok.json", { ...base, endpoint: { tokens_file: join(dir, "tokens"), streamers: ["127.0.0.1:1"] }, streamer: {} });
    const t1 = streamer(["--config", cfg, "new-token"]).stdout.trim();
    const t2 = streamer(["--config", cfg, "new-token"]).stdout.trim();
    expect(t1).toMatch(/^[0-9a-f]{32}$/);
    expect(readFileSync(join(dir, "tokens"), "utf8")).toBe(`${t1}\n${t2}\n`);
    expect(streamer(["--config", cfg, "sign-url", "cam-1", "60"]).stdout).toMatch(/^\d+\.[0-9a-f]{64}\n$/);
  });
});

describe("flussonic-streamer as one file (make server)", () => {
  const sea = join(BUNDLE, "..", "flussonic-streamer");
  it("runs without Node installed alongside: --version and a config check", () => {
    const v = spawnSync(sea, ["--version"], { encoding: "utf8", env: { PATH: "/nonexistent" }, timeout: 30_000 });
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^flussonic-streamer \d+\.\d+\.\d+ \(node v\d+/);
    writeFileSync(join(dir, "secret2"), "y".repeat(40));
    const cfg = file("sea.json", { tls: { cert_file: pki.certFile, key_file: pki.keyFile }, cluster_secret_file: join(dir, "secret2"), streamer: {} });
    const c = spawnSync(sea, ["--config", cfg, "--check-config"], { encoding: "utf8", timeout: 30_000 });
    expect(c.status).toBe(0);
    expect(c.stderr).not.toMatch(/ExperimentalWarning/);
  });
});
