/**
 * RFC 9242 §3.3 IntAuth: how IKE_AUTH authenticates the IKE_INTERMEDIATE exchanges, and the
 * per-SA bookkeeping of RFC 9370's additional key exchanges (which ones are done). Kept apart
 * from exchange-intermediate.ts so exchange-auth.ts / exchange-eap.ts can append IntAuth to
 * their signed octets without importing the exchange (no cycle). No I/O.
 *
 *     IntAuth_iN = prf(SK_pi, IntAuth_i(N-1) | IntAuth_iN_A | IntAuth_iN_P)   (requests)
 *     IntAuth_rN = prf(SK_pr, IntAuth_r(N-1) | IntAuth_rN_A | IntAuth_rN_P)   (responses)
 *     IntAuth    = IntAuth_iN | IntAuth_rN | IKE_AUTH_MID
 *
 * SK_pi / SK_pr are the keys that protect that IKE_INTERMEDIATE exchange (before the
 * RFC 9370 update its KE brings); _A is the IKE header and the Encrypted payload header with
 * the lengths set as if the message carried its plaintext only (no IV, padding, ICV) and was
 * not fragmented (Next Payload: SK); _P is the plaintext of the inner payloads.
 * @module
 */
import { concat, putU16, putU32 } from "../../../core/bytes.ts";
import { prf } from "./crypto.ts";
import type { SaContext } from "./context.ts";

export const EX_INTERMEDIATE = 43;
/** INTERMEDIATE_EXCHANGE_SUPPORTED (RFC 9242 §3.1). */
export const N_INTERMEDIATE_SUPPORTED = 16438;

/** RFC 9370 / RFC 9242 state of one IKE SA. */
export interface IntermediateState {
  /** The additional key exchanges still to do, in order (methods of ADDKE1..7 other than NONE). */
  pending: number[];
  /** IKE_INTERMEDIATE exchanges done. */
  count: number;
  intAuthI: Uint8Array;
  intAuthR: Uint8Array;
  /** The plaintext (first payload type, inner payload bytes) of the IKE_INTERMEDIATE message just decrypted. */
  plain: { first: number; bytes: Uint8Array } | null;
}

const states = new WeakMap<SaContext, IntermediateState>();

/** The SA's IKE_INTERMEDIATE state, created (from its negotiated suite) on first use. */
export function intermediateState(sa: SaContext): IntermediateState {
  let st = states.get(sa);
  if (!st) {
    st = { pending: (sa.suite?.addke ?? []).filter((id) => id > 0), count: 0, intAuthI: new Uint8Array(0), intAuthR: new Uint8Array(0), plain: null };
    states.set(sa, st);
  }
  return st;
}

/** Does the SA still owe additional key exchanges (IKE_AUTH must wait)? */
export function intermediatePending(sa: SaContext): boolean {
  return !!sa.suite?.addke?.some((id) => id > 0) && intermediateState(sa).pending.length > 0;
}

/** Record the plaintext of a decrypted IKE_INTERMEDIATE message (ike-sa.ts, after reassembly). */
export function notePlaintext(sa: SaContext, first: number, bytes: Uint8Array): void {
  intermediateState(sa).plain = { first, bytes: bytes.slice() };
}

/**
 * IntAuth_*_A | IntAuth_*_P of an IKE_INTERMEDIATE message: header fields, first inner
 * payload type and the inner payload bytes.
 */
export function intAuthData(spii: Uint8Array, spir: Uint8Array, mid: number, fromInitiator: boolean, response: boolean, first: number, plain: Uint8Array): Uint8Array {
  const a = new Uint8Array(32);
  a.set(spii, 0);
  a.set(spir, 8);
  a[16] = 46; // Encrypted and Authenticated (SK), as if not fragmented
  a[17] = 0x20; // version 2.0
  a[18] = EX_INTERMEDIATE;
  a[19] = (fromInitiator ? 0x08 : 0) | (response ? 0x20 : 0);
  putU32(a, 20, mid);
  putU32(a, 24, 32 + plain.length);
  a[28] = first;
  putU16(a, 30, 4 + plain.length);
  return concat(a, plain);
}

/** Chain one IKE_INTERMEDIATE message into IntAuth_i (`fromInitiator`: a request) or IntAuth_r, with the current SK_pi / SK_pr. */
export function chainIntAuth(sa: SaContext, mid: number, response: boolean, first: number, plain: Uint8Array): void {
  const st = intermediateState(sa);
  const k = sa.keys!;
  const fromInitiator = !response; // requests come from the original initiator here (IKE_INTERMEDIATE precedes IKE_AUTH)
  const data = intAuthData(sa.spii, sa.spir, mid, fromInitiator, response, first, plain);
  if (!response) st.intAuthI = prf(sa.suite!.prf!, k.skpi, concat(st.intAuthI, data));
  else st.intAuthR = prf(sa.suite!.prf!, k.skpr, concat(st.intAuthR, data));
}

/**
 * What RFC 9242 appends to the AUTH octets (InitiatorSignedOctets / ResponderSignedOctets):
 * IntAuth_iN | IntAuth_rN | IKE_AUTH_MID, or nothing when no IKE_INTERMEDIATE took place.
 */
export function intAuthTail(sa: SaContext): Uint8Array {
  const st = states.get(sa);
  if (!st || st.count === 0) return new Uint8Array(0);
  const mid = new Uint8Array(4);
  putU32(mid, 0, st.count + 1); // the first IKE_AUTH request follows the IKE_INTERMEDIATE exchanges (IDs 1..count)
  return concat(st.intAuthI, st.intAuthR, mid);
}
