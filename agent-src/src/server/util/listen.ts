import type * as net from "node:net";

/** server.listen as a promise that rejects on EADDRINUSE and friends instead of crashing. */
export function listenOn<S extends net.Server>(server: S, at: { host: string; port: number }): Promise<S> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(at.port, at.host, () => {
      server.removeListener("error", reject);
      resolve(server);
    });
  });
}
