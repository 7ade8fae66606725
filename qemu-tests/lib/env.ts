import { ARCHES, Arch } from "./boards.js";

/** Guest arches to test: QEMU_ARCHES=armhf,aarch64 (default: all four). */
export function testArches(): Arch[] {
  const v = process.env.QEMU_ARCHES;
  if (!v) return ARCHES;
  return v.split(",").map((s) => s.trim()).filter((s): s is Arch => (ARCHES as string[]).includes(s));
}
