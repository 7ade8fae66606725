/** flussonic-agent on Node: development and host tests. The camera runs agent-quickjs.ts. */
import { NodePlatform, makeLogger } from "../platform/node";
import { main } from "./agent-main";

const platform = new NodePlatform(makeLogger("agent", "debug"));
main(platform, process.argv.slice(2), {
  exit: (code) => process.exit(code),
  out: (line) => process.stdout.write(line + "\n"),
  arch: `node-${process.arch}`,
});
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => process.exit(0));
