import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (qemu-tests/lib/../..). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** shared/ sits beside the repository (here /work/shared, in CI's clone ../shared). */
export const SHARED = join(REPO, "../shared");
