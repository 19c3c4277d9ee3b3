/**
 * What decryption adds to decoded layers (all optional: present only when keys were given).
 * @module
 */
import type { LayerBase } from "../core/layer.ts";
import type { Ikev2Payload } from "../ike/v2/message.ts";
import type { IsakmpPayload } from "../ike/v1/message.ts";

/** `EspLayer.decrypt`: the verdict on one ESP packet. */
export interface EspDecryptInfo {
  /** good: ICV/tag verified; bad: it did not (no plaintext shown); none: no ICV to check. */
  icv: "good" | "bad" | "none";
  nextHeader?: number;
  nextHeaderName?: string;
  padLength?: number;
  /** Why there is no inner packet, or a remark (unchecked ICV, dummy packet, pad bytes). */
  reason?: string;
  /** The 64-bit sequence number used (ESN SAs only), as a decimal string. */
  esnSeq?: string;
}

/**
 * Marker layer pushed before the layers of a decrypted inner packet; their offsets are
 * relative to the plaintext. The plaintext itself is a non-enumerable `plaintext` property
 * (renderers skip it; {@link import("./writer.ts").DecryptedWriter} reads it).
 */
export interface InnerLayer extends LayerBase {
  layer: "inner";
  /** Which ESP SA and sequence number it came from. */
  spi: number;
  seq: number;
  /** "tunnel" when the next header is IPv4/IPv6, else "transport". */
  mode: "tunnel" | "transport";
}

/** The plaintext of an {@link InnerLayer} (undefined for other layers). */
export function innerPlaintext(l: LayerBase): Uint8Array | undefined {
  return (l as { plaintext?: Uint8Array }).plaintext;
}

/** `sk.decrypted` / `skf.decrypted` on IKEv2 SK and SKF payloads. */
export interface Ikev2Decrypted {
  integrity: "good" | "bad";
  /** Decoded payloads (SK; or SKF on the fragment that completed the message). */
  payloads?: Ikev2Payload[];
  /** SKF: packet numbers of the fragments the message was reassembled from. */
  fragments?: number[];
  /** SKF: "fragment 2 of 10, held" until the message is complete. */
  reason?: string;
}

/** `IsakmpMessage.decrypted` on encrypted IKEv1 messages. */
export interface Ikev1Decrypted {
  payloads?: IsakmpPayload[];
  /** Why no payloads (no keys for the phase-1 SA yet, no IV, cipher unknown, ...), or a remark. */
  reason?: string;
}
