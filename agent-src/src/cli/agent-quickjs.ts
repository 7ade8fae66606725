/**
 * flussonic-agent inside the static QuickJS binary (agent-src/native): the same CLI and agent core
 * as on Node, over platform/quickjs.ts. Compiled to bytecode and linked into the executable.
 */
import {
  createQuickJsPlatform, exitNow, programArgs, runtimeVersionLine, targetName, writeStdoutLine,
} from "../platform/quickjs";
import { main } from "./agent-main";

const platform = createQuickJsPlatform();
main(platform, programArgs(), {
  exit: exitNow,
  out: writeStdoutLine,
  arch: targetName(),
  versionExtra: runtimeVersionLine(),
  useSyslog: () => platform.useSyslog(),
});
