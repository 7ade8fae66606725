/**
 * Builds an emulated camera: Debian kernel + a small initramfs (busybox-static, NIC modules,
 * our guest overlay, optional extra files) per arch and variant. Outputs are cached under
 * build/qemu-images/<arch>-<variant>-<hash>/ keyed by the sha256 of every input, so a rerun
 * with unchanged inputs costs only the hashing.
 */
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { execa } from "execa";
import { Arch, BOARDS } from "./boards.js";
import { resolveModules } from "./modules.js";
import { REPO } from "./paths.js";

export type Variant = "stock" | "hardened";

export interface ImageFile {
  /** Absolute path inside the guest. */
  path: string;
  /** Host file to copy, or literal content. */
  from?: string;
  content?: string | Uint8Array;
  mode?: number;
}

export interface ImageSpec {
  arch: Arch;
  variant: Variant;
  files?: ImageFile[];
  /** Runs on the staging root after all files are in (e.g. the package's hardening script). */
  postBuild?: { id: string; run: (rootDir: string) => Promise<void> };
  /** Extra input files whose content must invalidate the cache (scripts postBuild uses). */
  hashInputs?: string[];
}

export interface Image {
  arch: Arch;
  variant: Variant;
  kernel: string;
  initrd: string;
  dtb?: string;
  hash: string;
  /** Wall time spent building (0 when served from cache). */
  buildMs: number;
}

const QEMU_USER: Record<Arch, string> = {
  armhf: "qemu-arm-static", armel: "qemu-arm-static", aarch64: "qemu-aarch64-static", mipsel: "qemu-mipsel-static",
};
const GUEST_DIR = join(REPO, "qemu-tests/guest");
const OUT_DIR = join(REPO, "build/qemu-images");
const BUILDER_FILES = ["qemu-tests/lib/image.ts", "qemu-tests/lib/boards.ts", "qemu-tests/lib/modules.ts", "qemu-tests/lib/hardened.ts"];

/** Every file below dir, depth first, in name order (for content hashes). */
export function listFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) listFiles(p, out);
    else out.push(p);
  }
  return out;
}

export async function fetchGuestDebs(arch: Arch): Promise<string> {
  const dir = join(REPO, ".cache/guest", arch);
  if (!existsSync(join(dir, ".done"))) {
    await execa(join(REPO, "scripts/fetch-guest-debs.sh"), [arch], { stdio: "inherit", timeout: 600_000 });
  }
  return dir;
}

function findOne(dir: string, re: RegExp): string {
  const hit = listFiles(dir).find((p) => re.test(p.split("/").pop()!) || re.test(p));
  if (!hit) throw new Error(`no file matching ${re} under ${dir}`);
  return hit;
}

function inittab(arch: Arch): string {
  const b = BOARDS[arch];
  return [
    "# busybox init (Buildroot style). The camera's serial console gets a login prompt;",
    `# ${b.controlTty} is the test rig's control shell: a second serial line, on no network.`,
    "::sysinit:/etc/init.d/rcS",
    "console::respawn:/sbin/getty -L console 0 vt100",
    `${b.controlTty}::respawn:/bin/sh`,
    "::shutdown:/etc/init.d/rcK",
    "",
  ].join("\n");
}

export async function buildImage(spec: ImageSpec): Promise<Image> {
  const t0 = Date.now();
  const { arch, variant } = spec;
  const board = BOARDS[arch];
  const debs = await fetchGuestDebs(arch);
  const kernel = findOne(join(debs, "kernel/boot"), board.kernelGlob);
  const dtb = board.dtb ? findOne(join(debs, "kernel/usr/lib"), board.dtb) : undefined;
  const modVerDir = join(debs, "kernel/lib/modules", readdirSync(join(debs, "kernel/lib/modules"))[0]);
  const modules = resolveModules(modVerDir, board.modules);

  // The hardened camera is the stock firmware plus our package: it starts with the same holes.
  const overlays = [join(GUEST_DIR, "common"), join(GUEST_DIR, "stock"), ...(variant === "hardened" ? [join(GUEST_DIR, "hardened")] : [])];
  const h = createHash("sha256");
  const feed = (label: string, data: string | Uint8Array) => {
    h.update(label + "\0");
    h.update(data);
    h.update("\0");
  };
  feed("spec", JSON.stringify({ arch, variant, board, modules, post: spec.postBuild?.id ?? "" }));
  feed("debs", readFileSync(join(debs, "debs.txt")));
  for (const f of BUILDER_FILES) feed(f, readFileSync(join(REPO, f)));
  for (const o of overlays)
    for (const f of listFiles(o)) feed(relative(GUEST_DIR, f) + ":" + (statSync(f).mode & 0o777), readFileSync(f));
  for (const f of spec.files ?? []) feed(`${f.path}:${f.mode ?? 0}`, f.from ? readFileSync(f.from) : f.content ?? "");
  for (const f of spec.hashInputs ?? []) feed(f, readFileSync(f));
  const hash = h.digest("hex").slice(0, 16);

  const outDir = join(OUT_DIR, `${arch}-${variant}-${hash}`);
  const initrd = join(outDir, "initrd.cpio.gz");
  if (existsSync(initrd)) return { arch, variant, kernel, initrd, dtb, hash, buildMs: 0 };

  const tmp = `${outDir}.tmp-${process.pid}`;
  const root = join(tmp, "root");
  rmSync(tmp, { recursive: true, force: true });
  for (const d of ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var", "lib/modules"])
    mkdirSync(join(root, d), { recursive: true });
  cpSync(join(debs, "busybox/bin/busybox"), join(root, "bin/busybox"));
  chmodSync(join(root, "bin/busybox"), 0o755);
  // Applet links made now, with the guest's own busybox under qemu-user (not at boot): what a
  // firmware build does, and what lets the hardening remove the telnetd link for good.
  const applets = await execa(QEMU_USER[arch], [join(root, "bin/busybox"), "--list-full"], { timeout: 60_000 });
  for (const a of applets.stdout.split("\n").map((l) => l.trim()).filter(Boolean)) {
    if (a === "bin/busybox" || existsSync(join(root, a))) continue;
    mkdirSync(dirname(join(root, a)), { recursive: true });
    symlinkSync(relative(dirname(join(root, a)), join(root, "bin/busybox")), join(root, a));
  }
  for (const o of overlays) if (existsSync(o)) cpSync(o, root, { recursive: true });
  for (const m of modules) {
    mkdirSync(dirname(join(root, "lib/modules", m)), { recursive: true });
    cpSync(join(modVerDir, m), join(root, "lib/modules", m));
  }
  writeFileSync(join(root, "etc/modules.order"), modules.join("\n") + "\n");
  writeFileSync(join(root, "etc/inittab"), inittab(arch));
  writeFileSync(join(root, "etc/control-tty"), board.controlTty + "\n");
  for (const f of spec.files ?? []) {
    const dst = join(root, f.path);
    mkdirSync(dirname(dst), { recursive: true });
    if (f.from) cpSync(f.from, dst);
    else writeFileSync(dst, f.content ?? "");
    if (f.mode !== undefined) chmodSync(dst, f.mode);
  }
  if (spec.postBuild) await spec.postBuild.run(root);
  // newc cpio owned by root, gzip (every Debian kernel has gzip initramfs support built in).
  await execa("sh", ["-c", "find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6 > ../initrd.cpio.gz"], {
    cwd: root,
    timeout: 120_000,
  });
  rmSync(root, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  return { arch, variant, kernel, initrd, dtb, hash, buildMs: Date.now() - t0 };
}
