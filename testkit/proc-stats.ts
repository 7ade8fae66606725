// A process's CPU time, memory and descriptors from /proc (Linux). No vitest import: bench rows use it.
import { readdirSync, readFileSync } from "node:fs";

const CLK_TCK = 100; // getconf CLK_TCK on Linux

/** utime+stime (+ reaped children's) of one process, seconds. 0 if it is gone. */
export function cpuSeconds(pid: number, withChildren = true): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    // fields after "comm": state=0 … utime=11 stime=12 cutime=13 cstime=14
    const t = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
    return t / CLK_TCK;
  } catch {
    return 0;
  }
}

/**
 * Run time of a live process's threads (/proc/<pid>/task/<tid>/schedstat), seconds, to the
 * nanosecond: for a process using ~1 % of a core, where utime+stime (10 ms ticks) read 0 or 1
 * tick over a short window. Threads that already exited are not counted. 0 if it is gone.
 */
export function threadCpuSeconds(pid: number): number {
  try {
    let ns = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread exited between the listing and the read
      }
    }
    return ns / 1e9;
  } catch {
    return 0;
  }
}

/** VmRSS and VmHWM (peak) in KiB. */
export function memKb(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const v = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? 0);
  return { rss: v("VmRSS"), hwm: v("VmHWM") };
}

/** Open file descriptors of a process (-1 if it is gone). */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}
