// Server-chosen text in log lines: control characters are escaped, nothing else changes.
import { describe, expect, it } from "vitest";
import { escapeLogText } from "../../src/platform/log-text";
import { makeLogger } from "../../src/platform/node";

describe("log text", () => {
  it("a newline in server text cannot forge a log line; ESC and C1 controls pass as \\xNN", () => {
    const lines: string[] = [];
    makeLogger("agent", "debug", (l) => lines.push(l))("warn", "device cam-1\nerror FORGED\r\x1b[31mred\x9b2J\tend\x7f");
    expect(lines).toHaveLength(1);
    expect(lines[0].split("\n")).toHaveLength(2); // the line and its terminator only
    expect(lines[0]).toContain("device cam-1\\nerror FORGED\\r\\x1b[31mred\\x9b2J\\tend\\x7f");
  });

  it("printable text, UTF-8 and backslashes are kept as they are", () => {
    expect(escapeLogText("cam-1 → 127.0.0.1:554 \\n ünïcode")).toBe("cam-1 → 127.0.0.1:554 \\n ünïcode");
  });
});
