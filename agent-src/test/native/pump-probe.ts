// Drives the relay pump of the static runtime (platform/quickjs.ts NativePump over native-pump.c)
// between a camera (plain TCP) and a link (TLS), as the agent's relay does, with JS frames on the
// same link in between so their order against the pump's records is exercised.
//   pump-probe LINK_PORT CA_PEM_FILE CAMERA_PORT STREAM_ID CREDIT
// Prints "PUMP <class>" first; reads WINDOW frames from the link (credit for the pump) and answers
// each with a PING frame written by JS, whose payload is the payload bytes sent before it (float64). At the end prints "END <bytes> <frames> <times link full>"
// (camera EOF, all sent) or "ERROR <text>", then closes the link.
import * as native from "flussonic:native";
import { createQuickJsPlatform, programArgs, exitNow } from "../../src/platform/quickjs";
import { encodeFrame, FrameDecoder, FrameType, readU32 } from "../../src/protocol/frame";
import { utf8Decode } from "../../src/protocol/bytes";

const [linkPort, caFile, camPort, streamId, credit] = programArgs();
const ca = native.readFile(caFile);
if (!ca) throw new Error(`cannot read ${caFile}`);
const p = createQuickJsPlatform();
const say = (s: string) => native.writeOut(`${s}\n`);

p.connectTls("127.0.0.1", Number(linkPort), { caPem: utf8Decode(new Uint8Array(ca)), serverName: "localhost" }, 10_000, (err, link) => {
  if (err || !link) {
    say(`ERROR link: ${err}`);
    return exitNow(1);
  }
  p.connectTcp("127.0.0.1", Number(camPort), 10_000, (err2, cam) => {
    if (err2 || !cam) {
      say(`ERROR camera: ${err2}`);
      return exitNow(1);
    }
    let bytes = 0;
    let frames = 0;
    let pings = 0;
    let linkFull = 0;
    const finish = (line: string) => {
      say(line);
      link.end();
    };
    const pump = p.pump!(cam, link, Number(streamId), Number(credit), {
      onSent: (b, f) => {
        bytes += b;
        frames += f;
      },
      onLinkFull: () => linkFull++,
      onEnd: () => finish(`END ${bytes} ${frames} ${linkFull}`),
      onError: (e) => finish(`ERROR ${e}`),
    });
    say(`PUMP ${pump.constructor.name}`);
    const dec = new FrameDecoder();
    link.onData = (d) => {
      for (const f of dec.push(d)) {
        if (f.type !== FrameType.WINDOW) continue;
        pump.credit(readU32(f.payload, 0));
        // The PING says how many payload bytes the pump has sent before it: JS's frame must
        // reach the link right behind them, never overtaken by a pump record (the link checks).
        pump.sync?.();
        const ping = new Uint8Array(8);
        new DataView(ping.buffer).setFloat64(0, bytes);
        pings++;
        link.write(encodeFrame(FrameType.PING, 0, ping));
      }
    };
    link.onDrain = () => pump.kick();
    link.onEnd = () => link.destroy(); // as the agent's Session does: the link is over
    link.onClose = (e) => exitNow(e ? 1 : 0);
    cam.onClose = () => {};
  });
});
