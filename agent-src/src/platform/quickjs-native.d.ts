/**
 * Types of the modules the static QuickJS runtime provides (agent-src/native, docs/native.md).
 * esbuild keeps these imports external; qjsc links them to the C implementations.
 */
declare module "flussonic:native" {
  export type Bytes = ArrayBuffer | ArrayBufferView;
  export interface BuildInfo { version: string; quickjs: string; tls: string; arch: string; libc: "musl" | "glibc" | "uclibc"; testServer: boolean }
  export interface TlsConn { readonly __tlsConn: unique symbol }

  export function buildInfo(): BuildInfo;
  export function now(): number;
  export function writeOut(s: string): void;
  export function writeErr(s: string): void;
  export function exit(code: number): never;
  export function openSyslog(ident: string): void;
  /** level: 0 debug, 1 info, 2 warn, 3 error */
  export function log(level: number, msg: string): void;
  export function randomBytes(n: number): ArrayBuffer;
  export function readFile(path: string): ArrayBuffer | null;
  export function writeFileAtomic(path: string, data: Bytes): void;

  export function resolveStart(host: string): number;
  export function resolveResult(fd: number): string;
  export function tcpConnect(ip: string, port: number): number;
  export function connectResult(fd: number): string | null;
  export function setKeepAlive(fd: number, idleSec: number, intervalSec: number, count: number): void;
  export function setNoDelay(fd: number, on: boolean): void;
  /** data, null at EOF, undefined when nothing is ready */
  export function read(fd: number): ArrayBuffer | null | undefined;
  /** bytes taken; 0 when the socket buffer is full */
  export function write(fd: number, data: Bytes): number;
  /** write() of head followed by body, in one sendmsg */
  export function writeTwo(fd: number, head: Bytes, body: Bytes): number;
  export function shutdownWrite(fd: number): void;
  export function close(fd: number): void;

  export function tlsNew(fd: number, opts: { caPem?: string; spkiSha256?: string[]; serverName?: string }): TlsConn;
  /** 0 done and verified, 1 wants readable, 2 wants writable */
  export function tlsHandshake(c: TlsConn): 0 | 1 | 2;
  export function tlsRead(c: TlsConn): ArrayBuffer | null | undefined;
  export function tlsWrite(c: TlsConn, data: Bytes): number;
  /** tlsWrite() of head followed by body, without concatenating them in JS; retry the rest with tlsWrite() */
  export function tlsWriteTwo(c: TlsConn, head: Bytes, body: Bytes): number;
  export function tlsPending(c: TlsConn): number;
  export function tlsCloseNotify(c: TlsConn): void;
  export function tlsInfo(c: TlsConn): string;
  export function tlsFree(c: TlsConn): void;
  /** true when no record of the pump is held back any more; false while the socket is full */
  export function tlsFlush(c: TlsConn): boolean;
  /** While hold, the pump's writes find the link full: JS has bytes queued ahead, or it closes. */
  export function tlsHoldPump(c: TlsConn, hold: boolean): void;

  export interface Pump { readonly __pump: unique symbol }
  /** The relay pump of one stream: camera fd -> DATA records on the link (native-pump.c). */
  export function pumpNew(fd: number, link: TlsConn, streamId: number): Pump;
  /** The peer accepts n more bytes (saturates at 2^32-1). */
  export function pumpCredit(p: Pump, n: number): void;
  /** (bytes << 8) | (frames << 3) | status; status: 0 dry, 1 no credit, 2 link full, 3 EOF,
   * 4 budget used, 5 source error, 6 link error, 7 stopped */
  export function pumpRun(p: Pump): number;
  export function pumpError(p: Pump): string;
  export function pumpStop(p: Pump): void;
  /** The camera socket's read handler (os.setReadHandler): runs the pump in C and calls
   * onOutcome(status, bytes, frames) only for statuses 1-3 and 5-7 (bytes, frames: sent since the
   * last report). */
  export function pumpHandler(p: Pump, onOutcome: (status: number, bytes: number, frames: number) => void): () => void;
  /** [bytes, frames] sent by the handler and not reported yet; resets them. */
  export function pumpTakeSent(p: Pump): [number, number];

  /** Only in TEST_SERVER=1 builds (fake camera); undefined in the agent. */
  export const listenTcp: ((port: number, ip?: string) => number) | undefined;
  export const localPort: ((fd: number) => number) | undefined;
  export const accept: ((fd: number) => number | undefined) | undefined;
}

declare module "os" {
  export function setReadHandler(fd: number, fn: (() => void) | null): void;
  export function setWriteHandler(fd: number, fn: (() => void) | null): void;
  export function setTimeout(fn: () => void, ms: number): unknown;
  export function clearTimeout(handle: unknown): void;
}

/** Set by quickjs-libc: the command line including the program name. */
declare const scriptArgs: string[] | undefined;
