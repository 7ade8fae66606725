// TLS server for bench/tls-compare.sh: on each connection sends SIZE bytes, then closes.
// Usage: node server.mjs KEY CERT CIPHERS SIZE  → prints the port
import { readFileSync } from "node:fs";
import { createServer } from "node:tls";

const [key, cert, ciphers, size] = process.argv.slice(2);
const chunk = Buffer.alloc(16384, 0x5a);
const srv = createServer({ key: readFileSync(key), cert: readFileSync(cert), ciphers, maxVersion: "TLSv1.2" }, (s) => {
  s.on("error", () => {});
  let left = Number(size);
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once("drain", pump);
    }
    s.end();
  };
  pump();
});
srv.listen(0, "127.0.0.1", () => console.log(srv.address().port));
