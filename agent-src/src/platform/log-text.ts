/**
 * Log lines carry text a server chose (error messages, device ids, addresses). Control
 * characters in it would let that server forge log lines (a newline) or drive the operator's
 * terminal (ESC sequences), so they are written escaped: \n \r \t, every other C0/C1 control and
 * DEL as \xNN. The native runtime's log sink (agent-src/native/log.c) escapes the same way.
 */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function escapeLogText(s: string): string {
  return s.replace(CONTROL, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
