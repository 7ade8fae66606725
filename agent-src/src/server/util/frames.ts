import { encodeControl } from "../../protocol/control";
import { encodeFrame, type FrameType } from "../../protocol/frame";


/** A whole control frame, for the rare writes that happen outside a Session. */
export function encodeControlFrame(type: FrameType, msg: object): Uint8Array {
  return encodeFrame(type, 0, encodeControl(msg));
}
