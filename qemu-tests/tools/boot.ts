/** Ad-hoc: build and boot one image, run a command, print timings.  npx vite-node qemu-tests/tools/boot.ts armhf stock|hardened ["cmd"] */
import { buildImage } from "../lib/image.js";
import { hardenedSpec } from "../lib/hardened.js";
import { bootGuest } from "../lib/qemu.js";
import type { Arch } from "../lib/boards.js";

const arch = (process.argv[2] ?? "armhf") as Arch;
const variant = (process.argv[3] ?? "stock") as "stock" | "hardened";
const cmd = process.argv[4] ?? "uname -a; cat /proc/net/tcp /proc/net/tcp6; free";
const img = await buildImage(variant === "hardened" ? hardenedSpec(arch) : { arch, variant });
console.log(`image ${img.hash} built in ${img.buildMs} ms`);
const g = await bootGuest({ image: img });
try {
  console.log(`booted in ${g.bootMs} ms`);
  console.log(await g.run(cmd));
} finally {
  await g.stop();
}
