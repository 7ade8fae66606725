// Server-side CPU per gigabit relayed, many streams, native: our streamer (TLS links from agents,
// RTSP to viewers) vs sshd carrying `ssh -R` reverse tunnels, and vs an OpenVPN server carrying the
// same streams over a tun device between two network namespaces. Same flood camera, same viewers.
import type { Proc } from "../../testkit/procs";
import { makePki } from "../../testkit/system";
import { cpuSeconds, startBenchStreamer, treeCpuSeconds } from "../lib/common";
import { cpuPerGbit, FLOOD_STREAMER_SETTINGS, measureFlow, slowViewerLines, startFlood, startOurAgent, type Flow } from "../lib/flows";
import { deleteVpnNetns, startOpenVpn, startReverseTunnel, startSshd, VPN_ADDR, VPN_NS } from "../lib/peers";
import { ratioOf, type BenchOptions, type Row } from "../lib/row";

export async function serverCpuPerGbit(o: BenchOptions): Promise<Row[]> {
  const tunnels = o.tiny ? 2 : 4;
  const perTunnel = o.tiny ? 1 : 4;
  const durationMs = o.tiny ? 1500 : 10_000;
  const pki = makePki();
  const cam = await startFlood();
  let ours: Flow, sshd: Flow, vpn: Flow;
  let slow: string[] = [];
  try {
    // Ours: `tunnels` agents (Node build) on one streamer, `perTunnel` viewers each.
    const st = await startBenchStreamer({ pki, streamerSettings: FLOOD_STREAMER_SETTINGS });
    try {
      const agents: Proc[] = [];
      for (let i = 0; i < tunnels; i++) agents.push(await startOurAgent(pki, st, `gbit-${i}`, cam.port));
      ours = await measureFlow(agents.map((_, i) => st.rtspUrl(`gbit-${i}`, "flood")), perTunnel, durationMs, {
        server: () => cpuSeconds(st.proc.pid), clients: () => agents.reduce((a, p) => a + treeCpuSeconds(p.pid), 0),
      });
      await Promise.all(agents.map((a) => a.stop()));
      slow = slowViewerLines(st.proc.output());
    } finally {
      await st.proc.stop();
    }
    // sshd: one `ssh -R` per camera, the viewers connect to sshd's forwarded ports.
    const sd = await startSshd();
    try {
      const t: { proc: Proc; port: number }[] = [];
      for (let i = 0; i < tunnels; i++) t.push(await startReverseTunnel(sd, cam.port));
      sshd = await measureFlow(t.map((x) => `rtsp://127.0.0.1:${x.port}/flood`), perTunnel, durationMs, {
        server: () => treeCpuSeconds(sd.proc.pid), clients: () => t.reduce((a, x) => a + treeCpuSeconds(x.proc.pid), 0),
      });
      await Promise.all(t.map((x) => x.proc.stop()));
    } finally {
      await sd.proc.stop();
    }
  } finally {
    await cam.proc.stop();
  }
  // OpenVPN: the camera sits in the client namespace behind the tunnel; viewers in the server's.
  try {
    const v = await startOpenVpn(pki);
    const vcam = await startFlood({ ns: VPN_NS.client, host: VPN_ADDR.client });
    vpn = await measureFlow(Array.from({ length: tunnels }, () => `rtsp://${VPN_ADDR.client}:${vcam.port}/flood`), perTunnel, durationMs, {
      server: () => cpuSeconds(v.server.pid), clients: () => cpuSeconds(v.client.pid),
    }, VPN_NS.server);
    await vcam.proc.stop();
    await Promise.all([v.server.stop(), v.client.stop()]);
  } finally {
    deleteVpnNetns();
  }
  const d = (f: Flow) => ({ gbit: (f.bytes * 8) / 1e9, mbitPerSec: f.mbitPerSec, cpu: f.cpu, serverPerGbit: cpuPerGbit(f.cpu.server, f), clientPerGbit: cpuPerGbit(f.cpu.clients, f) });
  const raw = { streams: tunnels * perTunnel, tunnels, ours: d(ours), sshd: d(sshd), openvpn: d(vpn) };
  o.log(`cpu/Gbit: ${JSON.stringify(raw)}`);
  const us = { value: raw.ours.serverPerGbit, unit: "CPU s/Gbit", text: `${raw.ours.mbitPerSec.toFixed(0)} Mbit/s` };
  const row = (id: string, peerName: string, p: ReturnType<typeof d>): Row => {
    const peer = { value: p.serverPerGbit, unit: "CPU s/Gbit", text: `${p.mbitPerSec.toFixed(0)} Mbit/s` };
    const ratio = ratioOf(us, peer);
    return {
      id, figure: `streamer CPU per Gbit relayed (${tunnels * perTunnel} streams over ${tunnels} tunnels, native)`, ours: us, peerName, peer, ratio,
      goal: "≤ 0.5× both", met: ratio !== null && ratio <= 0.5,
      notes: [...slow.map((l) => `the streamer dropped a viewer (the figure counts bytes it never sent): ${l}`), `camera side for the same bits: our agents ${raw.ours.clientPerGbit.toFixed(2)} CPU s/Gbit vs ${peerName.split(" ")[0]} clients ${p.clientPerGbit.toFixed(2)}`],
      raw: id === "cpu-gbit-sshd" ? raw : {},
    };
  };
  return [row("cpu-gbit-sshd", "sshd (ssh -R tunnels)", raw.sshd), row("cpu-gbit-openvpn", "OpenVPN server (tun, netns, 1 tunnel)", raw.openvpn)];
}
