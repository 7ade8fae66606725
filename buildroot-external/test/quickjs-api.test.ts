// Our C sources build warning-free against both QuickJS APIs Buildroot may bring: 2025-04-26 (what
// `make agents` uses) and 2025-09-13 (Buildroot 2026.x's quickjs, whose module loader takes import
// attributes). Compiled through agent-src/native/Makefile's own rule with the host gcc (12 on
// Debian 12) and -Werror plus the four checks gcc 14 turns into errors by default: no gcc 14
// cross compiler can be had offline, so these stand in for it.
import { execa } from "execa";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO, cleanup, tempDir } from "./rootfs";

const GCC14_ERRORS = ["-Werror", "-Werror=incompatible-pointer-types", "-Werror=int-conversion",
  "-Werror=implicit-function-declaration", "-Werror=implicit-int"];
const MBEDTLS = join(REPO, ".cache/src/mbedtls");
const QJS_0426 = join(REPO, ".cache/src/quickjs");
const SHARED = join(REPO, "../shared/buildroot");
const QJS_0913_TAR = "quickjs-2025-09-13.git-fa628f8.tar.xz";

const work = tempDir("quickjs-api");
afterAll(() => cleanup(work));

/** Why this QuickJS cannot be tried here, or null. */
function missing0426(): string | null {
  if (!existsSync(join(QJS_0426, "quickjs.h")) || !existsSync(join(MBEDTLS, "include")))
    return "no .cache/src/{quickjs,mbedtls} (make native-tools fetches them)";
  const v = readFileSync(join(QJS_0426, "VERSION"), "utf8").trim();
  return v === "2025-04-26" ? null : `.cache/src/quickjs is ${v}, not 2025-04-26`;
}
function missing0913(): string | null {
  if (!existsSync(join(SHARED, QJS_0913_TAR))) return `no ../shared/buildroot/${QJS_0913_TAR} beside this clone`;
  if (!existsSync(join(MBEDTLS, "include"))) return "no .cache/src/mbedtls (make native-tools fetches it)";
  return null;
}

/** Every object of ours (`objects`, the test-only listener included) through the Makefile's rule, with gcc 14's errors. */
async function compileOurs(quickjs: string) {
  const obj = join(work, `obj-${quickjs.split("/").pop()}`);
  return execa("make", ["-s", "-C", join(REPO, "agent-src/native"), `QUICKJS_SRC=${quickjs}`, `MBEDTLS_SRC=${MBEDTLS}`,
    `OBJDIR=${obj}`, `WARNFLAGS=${GCC14_ERRORS.join(" ")}`, "TEST_SERVER=1", "objects"],
  { reject: false, all: true });
}

describe("agent C sources against both QuickJS APIs (gcc 12 + gcc 14's default errors)", { timeout: 120_000 }, () => {
  it.skipIf(missing0426())("QuickJS 2025-04-26: no warning", async () => {
    const r = await compileOurs(QJS_0426);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).not.toMatch(/warning:/);
  });

  it.skipIf(missing0913())("QuickJS 2025-09-13 (Buildroot 2026.x), checked against ../shared's SHA256SUMS: no warning", async () => {
    const sums = readFileSync(join(SHARED, "SHA256SUMS"), "utf8");
    const want = new RegExp(`^([0-9a-f]{64})  ${QJS_0913_TAR.replace(/\./g, "\\.")}$`, "m").exec(sums)?.[1];
    expect(want, "tarball listed in SHA256SUMS").toBeDefined();
    expect(createHash("sha256").update(readFileSync(join(SHARED, QJS_0913_TAR))).digest("hex")).toBe(want);
    const src = join(work, "src");
    mkdirSync(src, { recursive: true });
    await execa("tar", ["-xf", join(SHARED, QJS_0913_TAR), "-C", src]);
    const qjs = join(src, "quickjs-2025-09-13");
    expect(readFileSync(join(qjs, "VERSION"), "utf8").trim()).toBe("2025-09-13");
    // The API change this guards against is really there.
    expect(readFileSync(join(qjs, "quickjs-libc.h"), "utf8")).toMatch(/js_module_loader\([^)]*JSValueConst attributes\)/);
    const r = await compileOurs(qjs);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).not.toMatch(/warning:/);
  });

  const why = [missing0426(), missing0913()].filter(Boolean);
  if (why.length) it.skip(`skipped: ${why.join("; ")}`, () => {});
});
