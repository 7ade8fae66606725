// The test kit's vitest adapter, the only kit module that imports vitest (bench scripts and `make
// demo` never load it). vitest.config.ts names it as a setup file, so every test file gets the kit's
// cleanup hook after its last test: processes a failing test left running are stopped and the
// temporary folders the kit made are removed, file by file.
//
// It also brings up the whole relay chain for one test file, before its first test and stopped after
// its last: test PKI, GStreamer camera, one endpoint+streamer process, and an agent live there.
//
//   let cam: Camera, server: StreamerProc, agent: AgentProc, id: string;
//   useRelaySystem(["tok-a", "tok-spare"], (s) => ({ cam, server, agent, id } = s));
import { afterAll, beforeAll } from "vitest";
import { startCamera, type Camera } from "./camera";
import { cleanup } from "./procs";
import { cameraTargets, makePki, startAgent, startStreamer, type AgentProc, type Pki, type StreamerProc } from "./system";

afterAll(cleanup);

export interface RelaySystem {
  pki: Pki;
  cam: Camera;
  server: StreamerProc;
  agent: AgentProc;
  /** The agent's device id, from its state file. */
  id: string;
}

/**
 * Registers beforeAll/afterAll in the calling test file. The streamer accepts every token in
 * `tokens`; the agent activates with the first, the others are left for the tests.
 */
export function useRelaySystem(tokens: string[], set: (s: RelaySystem) => void): void {
  const s: Partial<RelaySystem> = {};
  beforeAll(async () => {
    const pki = (s.pki = makePki());
    const cam = (s.cam = await startCamera());
    const server = (s.server = await startStreamer({ roles: ["endpoint", "streamer"], pki, tokens }));
    s.agent = await startAgent({ pki, endpoints: [`127.0.0.1:${server.ports.endpoint}`], targets: cameraTargets(cam), token: tokens[0] });
    s.id = s.agent.deviceId()!;
    set(s as RelaySystem);
  }, 90_000);
  afterAll(async () => {
    // Whatever beforeAll got to start, even if it failed part-way.
    await s.agent?.stop();
    await s.server?.stop();
    await s.cam?.stop();
  });
}
