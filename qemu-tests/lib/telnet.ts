/**
 * Minimal telnet client, enough to play Mirai's part: negotiate options (accept the server's
 * ECHO/SGA, refuse everything else), wait for login:, send a username/password pair, decide
 * whether we got a shell. One pair per connection, like the scanner.
 */
import { connect, Socket } from "node:net";

const IAC = 255, DONT = 254, DO = 253, WONT = 252, WILL = 251, SB = 250, SE = 240;
const ECHO = 1, SGA = 3;

export type LoginResult = "shell" | "refused" | "denied" | "no-prompt";

/** Strip telnet commands from incoming bytes, answering negotiations on sock. */
export function handleIac(sock: { write(b: Buffer): unknown }, data: Buffer, state: { inSb: boolean }): string {
  let text = "";
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (state.inSb) {
      if (b === IAC && data[i + 1] === SE) {
        state.inSb = false;
        i++;
      }
      continue;
    }
    if (b !== IAC) {
      text += String.fromCharCode(b);
      continue;
    }
    const cmd = data[i + 1];
    const opt = data[i + 2];
    if (cmd === DO || cmd === DONT) {
      if (cmd === DO) sock.write(Buffer.from([IAC, WONT, opt]));
      i += 2;
    } else if (cmd === WILL || cmd === WONT) {
      if (cmd === WILL) sock.write(Buffer.from([IAC, opt === ECHO || opt === SGA ? DO : DONT, opt]));
      i += 2;
    } else if (cmd === SB) {
      state.inSb = true;
      i += 1;
    } else if (cmd === IAC) {
      text += "\xff";
      i += 1;
    } else {
      i += 1;
    }
  }
  return text;
}

/** Try one username/password over telnet at 127.0.0.1:port. Never waits longer than timeoutMs. */
export function telnetLogin(port: number, user: string, pass: string, timeoutMs = 15_000): Promise<LoginResult> {
  return new Promise((resolve) => {
    let sock: Socket;
    let buf = "";
    let stage: "login" | "password" | "verdict" | "done" = "login";
    const state = { inSb: false };
    const finish = (r: LoginResult) => {
      if (stage === "done") return;
      stage = "done";
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => {
      if (process.env.TELNET_DEBUG) console.log(`telnet ${user}/${pass} stage=${stage} buf=${JSON.stringify(buf)}`);
      finish(stage === "login" ? "no-prompt" : "denied");
    }, timeoutMs);
    sock = connect({ host: "127.0.0.1", port }, () => {});
    sock.on("error", () => finish(stage === "login" && buf === "" ? "refused" : "denied"));
    sock.on("close", () => finish(stage === "login" && buf === "" ? "refused" : stage === "login" ? "no-prompt" : "denied"));
    sock.on("data", (d: Buffer) => {
      buf += handleIac(sock, d, state);
      if (stage === "login" && /login: ?$/i.test(buf.trimEnd() + " ")) {
        stage = "password";
        buf = "";
        sock.write(user + "\r\n");
      } else if (stage === "password" && /password: ?$/i.test(buf.trimEnd() + " ")) {
        stage = "verdict";
        buf = "";
        sock.write(pass + "\r\n");
        // A shell answers a command; a failed login prints "Login incorrect" and re-prompts.
        sock.write("echo SH''ELL-$(id -u)\r\n");
      } else if (stage === "password" && /[#$] ?$/.test(buf.trimEnd() + " ")) {
        // An account without a password: login starts the shell without asking (Buildroot's root).
        stage = "verdict";
        buf = "";
        sock.write("echo SH''ELL-$(id -u)\r\n");
      } else if (stage === "verdict") {
        if (/SHELL-\d+/.test(buf)) finish("shell");
        else if (/incorrect|login:|denied|failed/i.test(buf)) finish("denied");
      }
    });
  });
}

/**
 * True when a guest service answers on hostfwd port 127.0.0.1:port. QEMU's slirp accepts every
 * host-side connection first and closes it once the guest refuses, so "open" means the guest sent
 * data or kept the connection for holdMs; an early EOF/reset means closed.
 */
export function portOpen(port: number, holdMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (v: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    s.on("connect", () => {
      timer = setTimeout(() => done(true), holdMs);
    });
    s.on("data", () => done(true));
    s.on("end", () => done(false));
    s.on("close", () => done(false));
    s.on("error", () => done(false));
  });
}
