/**
 * Reading decoded packets for the diagnoser: the outer addresses and ports,
 * and the decryption results the pipeline attaches when keys are given.
 *
 * Decryption contract (the pipeline with `--keys`):
 * - IKEv2 `sk` payloads get `decrypted?: { integrity, payloads?, reason? }`;
 *   for SKF the reassembled content is attached the same way on the
 *   completing fragment (on its `skf` payload or on the message);
 * - IKEv1 messages get `decrypted?: { payloads }`;
 * - ESP layers get `decrypt?: { icv, nextHeader?, reason? }`, followed by a
 *   `{ layer: "inner" }` marker and the inner layers.
 * @module
 */
import type { LayerBase } from "../core/layer.ts";
import type { Ikev2Message, Ikev2Payload } from "../ike/v2/message.ts";
import type { IsakmpMessage, IsakmpPayload } from "../ike/v1/message.ts";
import type { EspLayer } from "../ipsec/esp.ts";
import type { EspDecryptInfo, Ikev1Decrypted, Ikev2Decrypted } from "../decrypt/types.ts";

/** IKEv2 message content as far as it can be read. */
export interface Ikev2Content {
  protection: "cleartext" | "encrypted" | "decrypted" | "integrity-bad";
  /** Cleartext payloads plus the decrypted ones (SK/SKF itself excluded when decrypted). */
  payloads: Ikev2Payload[];
  /** A non-final SKF fragment: its content arrives with the last one. */
  fragment?: { number: number; total: number };
  reason?: string;
}

type WithDec = { decrypted?: Ikev2Decrypted };

/** Read an IKEv2 message, using the decrypted content when present. */
export function ikev2Content(m: Ikev2Message): Ikev2Content {
  const clear: Ikev2Payload[] = [];
  let enc: Ikev2Payload | undefined;
  for (const p of m.payloads) {
    if (p.kind === "sk" || p.kind === "skf") enc = p;
    else clear.push(p);
  }
  if (!enc) return { protection: "cleartext", payloads: clear };
  const dec = (enc as WithDec).decrypted ?? (m as Ikev2Message & WithDec).decrypted;
  const out: Ikev2Content = { protection: "encrypted", payloads: clear };
  if (enc.kind === "skf") out.fragment = { number: enc.fragmentNumber, total: enc.totalFragments };
  if (!dec) return out;
  if (dec.integrity === "bad") {
    out.protection = "integrity-bad";
    if (dec.reason) out.reason = dec.reason;
    return out;
  }
  if (dec.payloads) {
    out.protection = "decrypted";
    out.payloads = [...clear, ...dec.payloads];
  }
  return out;
}

/** Read an IKEv1 message, using the decrypted payloads when present. */
export function isakmpContent(m: IsakmpMessage): { protection: Ikev2Content["protection"]; payloads: IsakmpPayload[] } {
  if (!m.flags.encryption) return { protection: "cleartext", payloads: m.payloads };
  const dec = (m as IsakmpMessage & { decrypted?: Ikev1Decrypted }).decrypted;
  return dec?.payloads ? { protection: "decrypted", payloads: dec.payloads } : { protection: "encrypted", payloads: [] };
}

/** The ESP layer's decryption result. */
export function espDecryption(e: EspLayer): EspDecryptInfo | undefined {
  return (e as EspLayer & { decrypt?: EspDecryptInfo }).decrypt;
}

/** Outer layers of a packet: those before the `inner` marker of a decrypted ESP packet. */
export function outerLayers(layers: LayerBase[]): LayerBase[] {
  const i = layers.findIndex((l) => l.layer === "inner");
  return i < 0 ? layers : layers.slice(0, i);
}

/** Layers after the `inner` marker (the decrypted, tunnelled packet). */
export function innerLayers(layers: LayerBase[]): LayerBase[] {
  const i = layers.findIndex((l) => l.layer === "inner");
  return i < 0 ? [] : layers.slice(i + 1);
}
