// S60flussonic-agent and flussonic-agent-supervise, run by real BusyBox (start-stop-daemon, sh)
// in a chroot against a stub agent: start, duplicate start, respawn after kill -9, reload, stop.
import { execa } from "execa";
import { chmodSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BUSYBOX, HARDEN_PKG, PKG, REPO, busyboxRoot, chrootUnavailable, cleanup, inChroot, install, tempDir, write } from "./rootfs";

// The stub agent logs "start PID ARGS", "uid UID" and "term PID"; it runs until signalled, like the
// real one.
const STUB_AGENT = `#!/bin/sh
echo "start $$ $*" >> /tmp/agent.log
echo "uid $(id -u)" >> /tmp/agent.log
trap 'echo "term $$" >> /tmp/agent.log; exit 0' TERM
while :; do sleep 1; done
`;

const unavailable = chrootUnavailable();

describe("init scripts are valid shell", () => {
  for (const file of [join(PKG, "S60flussonic-agent"), join(PKG, "flussonic-agent-supervise"), ...["S05flussonic-harden",
    "flussonic-harden", "flussonic-listeners", "flussonic-harden-common.sh"].map((n) => join(HARDEN_PKG, n))]) {
    it(`${file.split("/").pop()}: sh -n (dash and BusyBox ash)`, async () => {
      await execa("sh", ["-n", file]);
      await execa(BUSYBOX, ["sh", "-n", file]);
    });
  }
});

describe.skipIf(unavailable)("S60flussonic-agent under BusyBox", () => {
  let root: string;
  beforeEach(async () => {
    root = tempDir("init");
    await busyboxRoot(root);
    install(join(PKG, "S60flussonic-agent"), root, "etc/init.d/S60flussonic-agent", 0o755);
    install(join(PKG, "flussonic-agent-supervise"), root, "usr/sbin/flussonic-agent-supervise", 0o755);
    write(root, "usr/bin/flussonic-agent", STUB_AGENT, 0o755);
    // The user the package's users table makes (mkusers), and a /tmp anyone may write.
    write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nflussonic-agent:x:1000:1000:flussonic-agent daemon:/var/lib/flussonic-agent:/bin/false\n");
    write(root, "etc/group", "root:x:0:\nflussonic-agent:x:1000:\n");
    chmodSync(root, 0o755); // mkdtemp's 0700 would keep the agent's user out of everything
    chmodSync(join(root, "tmp"), 0o1777);
  });
  afterEach(() => cleanup(root));

  const agentLog = () => readFileSync(join(root, "tmp/agent.log"), "utf8").trim().split("\n");
  const starts = (log: string[]) => log.filter((l) => l.startsWith("start ")).map((l) => l.split(" ")[1]);

  it("starts once, respawns after kill -9, restarts on reload, stops everything", async () => {
    const r = await inChroot(root, `
      S=/etc/init.d/S60flussonic-agent
      $S start; echo "rc-start=$?"
      sleep 1
      $S start; echo "rc-start2=$?"
      first=$(sed -n 's/^start \\([0-9]*\\) .*/\\1/p' /tmp/agent.log | tail -1)
      kill -9 "$first"
      i=0; while [ $i -lt 50 ] && [ "$(grep -c '^start' /tmp/agent.log)" -lt 2 ]; do sleep 0.1; i=$((i+1)); done
      $S reload; echo "rc-reload=$?"
      i=0; while [ $i -lt 50 ] && [ "$(grep -c '^start' /tmp/agent.log)" -lt 3 ]; do sleep 0.1; i=$((i+1)); done
      $S stop; echo "rc-stop=$?"
      echo "procs=$(cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^flussonic-agent')"
      [ -e /var/run/flussonic-agent.pid ] && echo pidfile-left
      $S stop; echo "rc-stop2=$?"
      $S bogus; echo "rc-bogus=$?"
    `);
    const out = r.all ?? "";
    expect(r.exitCode, out).toBe(0);
    expect(out).toContain("rc-start=0");
    expect(out).toContain("already running");
    expect(out).toContain("rc-start2=0");
    expect(out).toContain("rc-reload=0");
    expect(out).toContain("rc-stop=0");
    expect(out).toContain("procs=0");
    expect(out).not.toContain("pidfile-left");
    expect(out).toMatch(/rc-stop2=[1-9]/);
    expect(out).toContain("Usage:");
    expect(out).toMatch(/rc-bogus=1/);

    const log = agentLog();
    const pids = starts(log);
    // One start, one respawn after kill -9, one restart on reload; duplicate start added nothing.
    expect(pids.length, log.join("\n")).toBe(3);
    expect(new Set(pids).size).toBe(3);
    // Reload and stop both end the running agent with SIGTERM.
    expect(log).toContain(`term ${pids[1]}`);
    expect(log).toContain(`term ${pids[2]}`);
    expect(log.filter((l) => l.startsWith("start ")).every((l) => l.endsWith("--config /etc/flussonic-agent/agent.json --syslog"))).toBe(true);
    // Every run as the agent's own user, never root.
    expect(log.filter((l) => l.startsWith("uid "))).toEqual(["uid 1000", "uid 1000", "uid 1000"]);
  });

  it("runs the agent as its own user: owns its state directory, may read the root-provisioned token, nothing else", async () => {
    write(root, "etc/flussonic-agent/activation-token", "tok-123\n", 0o600);
    write(root, "usr/bin/flussonic-agent", `#!/bin/sh
echo "uid $(id -u) gid $(id -g)" >> /tmp/agent.log
cat /etc/flussonic-agent/activation-token >/dev/null && echo "token readable" >> /tmp/agent.log
touch /var/lib/flussonic-agent/state.json && echo "state writable" >> /tmp/agent.log
touch /etc/flussonic-agent/x 2>/dev/null && echo "etc writable" >> /tmp/agent.log
while :; do sleep 1; done
`, 0o755);
    const r = await inChroot(root, `
      /etc/init.d/S60flussonic-agent start; echo "rc-start=$?"
      i=0; while [ $i -lt 50 ] && ! grep -q writable /tmp/agent.log 2>/dev/null; do sleep 0.1; i=$((i+1)); done
      echo "supervisor-uid=$(awk '/^Uid:/ { print $2 }' /proc/$(cat /var/run/flussonic-agent.pid)/status)"
      /etc/init.d/S60flussonic-agent stop; echo "rc-stop=$?"
    `);
    expect(r.all).toContain("rc-start=0");
    expect(r.all).toContain("supervisor-uid=1000");
    expect(r.all).toContain("rc-stop=0");
    expect(agentLog()).toEqual(["uid 1000 gid 1000", "token readable", "state writable"]);
    expect(statSync(join(root, "var/lib/flussonic-agent")).uid).toBe(1000);
    const token = statSync(join(root, "etc/flussonic-agent/activation-token"));
    expect([token.uid, token.gid, token.mode & 0o777]).toEqual([0, 1000, 0o640]);
  });

  it("takes its arguments and log destination from /etc/default/flussonic-agent (the board overlay's)", async () => {
    install(join(REPO, "board/flussonic/rootfs-overlay/etc/default/flussonic-agent"), root, "etc/default/flussonic-agent", 0o644);
    write(root, "dev/console", ""); // a plain file stands in for the serial console
    write(root, "usr/bin/flussonic-agent", STUB_AGENT.replace("trap", 'echo "agent event on stderr" >&2\ntrap'), 0o755);
    const r = await inChroot(root, `
      /etc/init.d/S60flussonic-agent start
      i=0; while [ $i -lt 50 ] && [ ! -s /dev/console ]; do sleep 0.1; i=$((i+1)); done
      /etc/init.d/S60flussonic-agent stop
    `);
    expect(r.exitCode, r.all).toBe(0);
    const log = agentLog();
    expect(log[0]).toMatch(/^start \d+ --config \/etc\/flussonic-agent\/agent.json$/);
    expect(readFileSync(join(root, "dev/console"), "utf8")).toContain("agent event on stderr");
  });

  it("SIGKILLs an agent that ignores SIGTERM, after FLUSSONIC_AGENT_STOP_TIMEOUT", async () => {
    write(root, "etc/default/flussonic-agent", "FLUSSONIC_AGENT_STOP_TIMEOUT=1\n");
    write(root, "usr/bin/flussonic-agent", `#!/bin/sh\necho "start $$" >> /tmp/agent.log\ntrap '' TERM\nwhile :; do sleep 1; done\n`, 0o755);
    const r = await inChroot(root, `
      /etc/init.d/S60flussonic-agent start
      i=0; while [ $i -lt 50 ] && [ ! -s /tmp/agent.log ]; do sleep 0.1; i=$((i+1)); done
      t0=$(date +%s)
      /etc/init.d/S60flussonic-agent stop; echo "rc-stop=$?"
      echo "took=$(($(date +%s) - t0))"
      echo "procs=$(cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^flussonic-agent')"
    `);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain("rc-stop=0");
    expect(r.all).toContain("procs=0");
    const took = Number(/took=(\d+)/.exec(r.all ?? "")?.[1]);
    expect(took).toBeGreaterThanOrEqual(1);
    expect(took).toBeLessThanOrEqual(4);
  });

  it("backs off between respawns of an agent that keeps dying", async () => {
    write(root, "usr/bin/flussonic-agent", `#!/bin/sh\necho "start $$ $(date +%s)" >> /tmp/agent.log\nexit 3\n`, 0o755);
    const r = await inChroot(root, `
      /etc/init.d/S60flussonic-agent start
      sleep 4
      /etc/init.d/S60flussonic-agent stop; echo "rc-stop=$?"
    `);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain("rc-stop=0");
    // Waits of 1 s then 2 s: three starts in 4 s (not hundreds), the third >= 3 s after the first.
    const times = agentLog().map((l) => Number(l.split(" ")[2]));
    expect(times.length).toBeGreaterThanOrEqual(2);
    expect(times.length).toBeLessThanOrEqual(3);
    if (times.length === 3) expect(times[2] - times[0]).toBeGreaterThanOrEqual(2);
  });
});

if (unavailable) it.skip(`S60flussonic-agent under BusyBox: skipped, ${unavailable}`, () => {});
