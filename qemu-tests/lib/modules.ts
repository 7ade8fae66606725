/**
 * Kernel module load order without depmod: each .ko carries "depends=a,b" in its .modinfo
 * section, so a depth-first walk gives an order in which every insmod finds its symbols.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".ko")) out.push(p);
  }
  return out;
}

const norm = (name: string) => name.replace(/-/g, "_");

/** The depends= field of a module file ("" when it depends on nothing). */
export function moduleDepends(ko: Buffer): string[] {
  const key = Buffer.from("\0depends=");
  const at = ko.indexOf(key);
  if (at < 0) return [];
  const start = at + key.length;
  const end = ko.indexOf(0, start);
  const text = ko.subarray(start, end).toString("latin1");
  return text ? text.split(",").map(norm) : [];
}

/**
 * Paths (relative to modulesRoot, e.g. lib/modules/<ver>) of the wanted modules and all their
 * dependencies, dependencies first. Modules built into the kernel are simply absent: skipped.
 */
export function resolveModules(modulesRoot: string, wanted: string[]): string[] {
  const index = new Map<string, string>();
  for (const p of walk(modulesRoot, [])) index.set(norm(p.split("/").pop()!.slice(0, -3)), p);
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, depth: number) => {
    if (seen.has(name) || depth > 32) return;
    seen.add(name);
    const path = index.get(name);
    if (!path) return; // built-in
    for (const dep of moduleDepends(readFileSync(path))) visit(dep, depth + 1);
    order.push(relative(modulesRoot, path));
  };
  for (const w of wanted) visit(norm(w), 0);
  return order;
}
