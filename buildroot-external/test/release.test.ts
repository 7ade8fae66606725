// The release tarball the package downloads with BR2_PACKAGE_FLUSSONIC_AGENT_LOCAL=n: rebuilt from
// the commit flussonic-agent.hash names, it must match that .hash byte for byte (the recipe is
// reproducible), and Buildroot itself must accept it when it fetches the package's source (offline:
// the tarball is put in its download folder), and refuse a tampered copy.
import { execa } from "execa";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PKG, REPO, cleanup, tempDir } from "./rootfs";

const VERSION = /^FLUSSONIC_AGENT_VERSION = (.+)$/m.exec(readFileSync(join(PKG, "flussonic-agent.mk"), "utf8"))![1];
const TARBALL = join(REPO, "build/release", `flussonic-agent-${VERSION}.tar.gz`);
const BR_VERSION = "2025.02.16";
const SHARED = process.env.BUILDROOT_TARBALLS ?? join(REPO, "../shared/buildroot");

/** A Buildroot tree: BUILDROOT_DIR, or the one scripts/buildroot-image.sh unpacks into .cache. */
async function buildrootTree(): Promise<string | null> {
  if (process.env.BUILDROOT_DIR) return process.env.BUILDROOT_DIR;
  const tree = join(REPO, ".cache/buildroot", `buildroot-${BR_VERSION}`);
  if (existsSync(join(tree, ".unpacked"))) return tree;
  const tarball = join(SHARED, `buildroot-${BR_VERSION}.tar.xz`);
  if (!existsSync(tarball)) return null;
  const sums = await execa("sh", ["-c", `grep ' buildroot-${BR_VERSION}.tar.xz$' SHA256SUMS | sha256sum -c --quiet -`], { cwd: SHARED, reject: false });
  if (sums.exitCode !== 0) throw new Error(`${tarball} does not match ${SHARED}/SHA256SUMS`);
  // Same layout and marker as scripts/buildroot-image.sh, which then reuses it.
  await execa("sh", ["-c", `rm -rf '${tree}' && mkdir -p '${tree}' && tar -xf '${tarball}' -C '${tree}' --strip-components=1 && touch '${tree}/.unpacked'`]);
  return tree;
}

describe("release tarball (BR2_PACKAGE_FLUSSONIC_AGENT_LOCAL=n)", { timeout: 180_000 }, () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(cleanup));

  it("rebuilt from the commit the .hash names, whatever the umask and working folder, matches the .hash", async (ctx) => {
    // A shallow clone (git clone --depth 1, as some CI systems make) may not hold that commit;
    // a full clone must: there its absence is a failure, below.
    const commit = /from ([0-9a-f]{40})/.exec(readFileSync(join(PKG, "flussonic-agent.hash"), "utf8"))![1];
    const have = await execa("git", ["cat-file", "-e", `${commit}^{commit}`], { cwd: REPO, reject: false });
    const shallow = (await execa("git", ["rev-parse", "--is-shallow-repository"], { cwd: REPO })).stdout.trim() === "true";
    if (have.exitCode !== 0 && shallow) ctx.skip(); // shallow clone without the release commit
    const r = await execa("sh", ["-c", `umask 077; '${join(REPO, "scripts/buildroot-release.sh")}' --check`], { cwd: "/", reject: false, all: true });
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toMatch(new RegExp(`flussonic-agent-${VERSION.replace(/\./g, "\\.")}\\.tar\\.gz from [0-9a-f]{40}: sha256 [0-9a-f]{64} matches`));
    const listing = (await execa("tar", ["-tvzf", TARBALL])).stdout.split("\n");
    // What the package's build needs, under one top folder Buildroot strips; root-owned, epoch mtime.
    for (const f of ["LICENSE", "bundle/agent-quickjs.js", "native/Makefile"]) {
      expect(listing.some((l) => l.endsWith(` flussonic-agent-${VERSION}/${f}`)), f).toBe(true);
    }
    for (const l of listing) expect(l, l).toMatch(/^\S+ 0\/0 +\d+ 1970-01-01 00:00 /);
  });

  it("Buildroot's own download step accepts it against flussonic-agent.hash and refuses a tampered copy", async (ctx) => {
    const br = await buildrootTree();
    if (!br) ctx.skip(); // no Buildroot here (neither BUILDROOT_DIR nor ../shared/buildroot)
    if (!existsSync(TARBALL)) await execa(join(REPO, "scripts/buildroot-release.sh"), ["--check"]);
    const work = tempDir("release");
    dirs.push(work);
    const out = join(work, "output");
    const dl = join(work, "dl");
    mkdirSync(join(dl, "flussonic-agent"), { recursive: true });
    copyFileSync(TARBALL, join(dl, "flussonic-agent", `flussonic-agent-${VERSION}.tar.gz`));
    writeFileSync(join(work, "defconfig"), [
      "BR2_arm=y", "BR2_cortex_a7=y", "BR2_TOOLCHAIN_BUILDROOT_MUSL=y",
      "BR2_PACKAGE_FLUSSONIC_AGENT=y", "# BR2_PACKAGE_FLUSSONIC_AGENT_LOCAL is not set",
      "BR2_DOWNLOAD_FORCE_CHECK_HASHES=y", `BR2_DL_DIR="${dl}"`,
      // Offline: a download attempt fails at once instead of reaching the release URL.
      'BR2_PRIMARY_SITE="file:///nonexistent/offline"', "BR2_PRIMARY_SITE_ONLY=y", "",
    ].join("\n"));
    const make = (...args: string[]) => execa("make", ["-C", br!, `O=${out}`, ...args], { reject: false, all: true, timeout: 150_000 });
    const cfg = await make(`BR2_EXTERNAL=${join(REPO, "buildroot-external")}`, `BR2_DEFCONFIG=${join(work, "defconfig")}`, "defconfig");
    expect(cfg.exitCode, cfg.all).toBe(0);
    const config = readFileSync(join(out, ".config"), "utf8");
    expect(config).toMatch(/^BR2_PACKAGE_FLUSSONIC_AGENT=y$/m);
    expect(config).toMatch(/^# BR2_PACKAGE_FLUSSONIC_AGENT_LOCAL is not set$/m);

    const ok = await make("flussonic-agent-source");
    expect(ok.exitCode, ok.all).toBe(0);
    expect(ok.all).toMatch(new RegExp(`flussonic-agent-${VERSION.replace(/\./g, "\\.")}\\.tar\\.gz: OK \\(sha256: [0-9a-f]{64}\\)`));

    // One byte changed: the same check (Buildroot's support/download/check-hash, which the
    // download step just ran) refuses it.
    const bad = join(work, `flussonic-agent-${VERSION}.tar.gz`);
    const bytes = readFileSync(TARBALL);
    bytes[bytes.length - 9] ^= 0xff;
    writeFileSync(bad, bytes);
    const checkHash = (f: string) => execa("bash", [join(br!, "support/download/check-hash"), f, `flussonic-agent-${VERSION}.tar.gz`,
      join(PKG, "flussonic-agent.hash")], { reject: false, all: true });
    expect((await checkHash(TARBALL)).exitCode).toBe(0);
    const refused = await checkHash(bad);
    expect(refused.exitCode, refused.all).toBe(2);
    expect(refused.all).toMatch(/ERROR: while checking hashes from .*flussonic-agent.hash[\s\S]*ERROR: expected: [0-9a-f]{64}/);
  });
});
