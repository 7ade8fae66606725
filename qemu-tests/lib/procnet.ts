/** Listening sockets from /proc/net/{tcp,tcp6,udp,udp6} text, as the kernel reports them. */

export interface Listener {
  proto: "tcp" | "tcp6" | "udp" | "udp6";
  address: string;
  port: number;
}

function addr(hex: string): string {
  if (hex.length === 8) {
    // IPv4, little-endian u32
    return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(".");
  }
  // IPv6: four little-endian u32 words
  const words: string[] = [];
  for (let w = 0; w < 4; w++) {
    const x = hex.slice(w * 8, w * 8 + 8);
    const le = x.slice(6, 8) + x.slice(4, 6) + x.slice(2, 4) + x.slice(0, 2);
    words.push(le.slice(0, 4), le.slice(4, 8));
  }
  return words.map((g) => parseInt(g, 16).toString(16)).join(":");
}

/**
 * TCP sockets in LISTEN (0A) and UDP sockets that are bound but unconnected (07: they receive
 * from anyone). Connected UDP (01, e.g. a DNS query in flight) is a client socket.
 */
export function listeners(proto: Listener["proto"], text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const [a, p] = f[1].split(":");
    const st = f[3];
    const listening = proto.startsWith("tcp") ? st === "0A" : st === "07";
    if (listening) out.push({ proto, address: addr(a), port: parseInt(p, 16) });
  }
  return out;
}

export const isLoopback = (a: string) => a.startsWith("127.") || a === "0:0:0:0:0:0:0:1";
