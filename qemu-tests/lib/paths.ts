import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (qemu-tests/lib/../..). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
