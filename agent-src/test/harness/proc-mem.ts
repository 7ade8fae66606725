// Memory of a running process from /proc, for "the server's memory stays bounded" checks (tests and
// bench rows alike).
import { readFileSync } from "node:fs";

/** VmRSS and VmHWM (peak) in KiB. Throws if the process is gone. */
export function memKb(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const v = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? 0);
  return { rss: v("VmRSS"), hwm: v("VmHWM") };
}
