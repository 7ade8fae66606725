// Peer tunnels for the CPU-per-bit rows: OpenSSH reverse tunnels (sshd on 127.0.0.1 with its own
// keys and config) and OpenVPN between two network namespaces this script creates and deletes.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, startProc, tempDir, type Proc } from "../../testkit/procs";
import type { Pki } from "../../testkit/system";
import { waitPort } from "./flows";

export interface Sshd {
  proc: Proc;
  port: number;
  dir: string;
  clientKey: string;
  /** `ssh -R` options shared by the host and the armhf client. */
  clientArgs(remotePort: number, camPort: number): string[];
}

export async function startSshd(): Promise<Sshd> {
  const dir = tempDir("fa-bench-sshd-");
  const key = (name: string) => execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, name)]);
  key("host_key");
  key("client_key");
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_key.pub")));
  chmodSync(join(dir, "authorized_keys"), 0o600);
  const port = await freePort();
  writeFileSync(join(dir, "sshd_config"), [
    `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${join(dir, "host_key")}`, `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`, "StrictModes no", "PermitRootLogin prohibit-password",
    "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "AllowTcpForwarding remote",
    "GatewayPorts no", "X11Forwarding no", "PrintMotd no", "LogLevel ERROR", "",
  ].join("\n"));
  mkdirSync("/run/sshd", { recursive: true }); // privilege separation directory
  const proc = await startProc("/usr/sbin/sshd", ["-D", "-e", "-f", join(dir, "sshd_config")], { name: "sshd" });
  await waitPort(port, 10_000);
  const clientKey = join(dir, "client_key");
  return {
    proc, port, dir, clientKey,
    clientArgs: (rp, cam) => ["-N", "-T", "-F", "/dev/null", "-i", clientKey, "-o", "StrictHostKeyChecking=no",
      "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=ERROR",
      "-p", String(port), "-R", `127.0.0.1:${rp}:127.0.0.1:${cam}`, "root@127.0.0.1"],
  };
}

/** `ssh -R` (or any client given as argv prefix) forwarding a fresh port on sshd's side to the camera. */
export async function startReverseTunnel(sshd: Sshd, camPort: number, client: string[] = ["ssh"], name = "ssh -R"): Promise<{ proc: Proc; port: number }> {
  const rp = await freePort();
  const [cmd, ...pre] = client;
  const proc = await startProc(cmd, [...pre, ...sshd.clientArgs(rp, camPort)], { name });
  await waitPort(rp, 30_000);
  return { proc, port: rp };
}

export const VPN_NS = { server: "fa-bench-vpn-s", client: "fa-bench-vpn-c" };
export const VPN_ADDR = { server: "10.251.0.1", client: "10.251.0.2" };

export function deleteVpnNetns(): void {
  for (const ns of [VPN_NS.server, VPN_NS.client]) {
    try {
      execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    } catch {
      // not there
    }
  }
}

/**
 * Two namespaces joined by a veth pair (10.250.0.0/30), an OpenVPN point-to-point tunnel between
 * them (tun, UDP, TLS with the bench PKI, AES-256-GCM): 10.251.0.1 (server) ↔ 10.251.0.2 (client).
 */
export async function startOpenVpn(pki: Pki): Promise<{ server: Proc; client: Proc }> {
  deleteVpnNetns();
  const ip = (...a: string[]) => execFileSync("ip", a, { stdio: ["ignore", "ignore", "pipe"] });
  ip("netns", "add", VPN_NS.server);
  ip("netns", "add", VPN_NS.client);
  ip("link", "add", "fab-vpn0", "type", "veth", "peer", "name", "fab-vpn1");
  ip("link", "set", "fab-vpn0", "netns", VPN_NS.server);
  ip("link", "set", "fab-vpn1", "netns", VPN_NS.client);
  ip("-n", VPN_NS.server, "addr", "add", "10.250.0.1/30", "dev", "fab-vpn0");
  ip("-n", VPN_NS.client, "addr", "add", "10.250.0.2/30", "dev", "fab-vpn1");
  for (const [ns, dev] of [[VPN_NS.server, "fab-vpn0"], [VPN_NS.client, "fab-vpn1"]]) {
    ip("-n", ns, "link", "set", "lo", "up");
    ip("-n", ns, "link", "set", dev, "up");
  }
  const common = ["--dev", "tun", "--proto", "udp", "--ca", pki.caFile, "--cert", pki.certFile, "--key", pki.keyFile,
    "--data-ciphers", "AES-256-GCM", "--verb", "3", "--ping", "10"];
  const ready = /Initialization Sequence Completed/;
  const [server, client] = await Promise.all([
    startProc("ip", ["netns", "exec", VPN_NS.server, "openvpn", ...common, "--tls-server", "--dh", "none",
      "--local", "10.250.0.1", "--lport", "1194", "--ifconfig", VPN_ADDR.server, VPN_ADDR.client], { name: "openvpn-server", ready, timeoutMs: 30_000 }),
    startProc("ip", ["netns", "exec", VPN_NS.client, "openvpn", ...common, "--tls-client", "--nobind",
      "--remote", "10.250.0.1", "1194", "--ifconfig", VPN_ADDR.client, VPN_ADDR.server], { name: "openvpn-client", ready, timeoutMs: 30_000 }),
  ]);
  return { server, client };
}
