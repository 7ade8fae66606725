import type * as net from "node:net";

/**
 * Kernel accept queue of every listener. Node's default (511) is below what a flood opens at once
 * (the soak's 2,000 connections timing out together are replaced together): the queue overflowed,
 * the kernel dropped handshakes (ListenOverflows), and every client arriving then, legitimate
 * ones included, waited 1-7 s for SYN/SYN-ACK retransmits before we even saw it. Linux caps the
 * value at net.core.somaxconn (4096 on kernels since 5.4).
 */
export const LISTEN_BACKLOG = 4096;

/** server.listen as a promise that rejects on EADDRINUSE and friends instead of crashing. */
export function listenOn<S extends net.Server>(server: S, at: { host: string; port: number }): Promise<S> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: at.port, host: at.host, backlog: LISTEN_BACKLOG }, () => {
      server.removeListener("error", reject);
      resolve(server);
    });
  });
}
