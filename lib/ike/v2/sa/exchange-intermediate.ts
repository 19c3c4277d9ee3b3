/**
 * IKE_INTERMEDIATE (RFC 9242, exchange 43) carrying RFC 9370's additional key exchanges:
 * after IKE_SA_INIT negotiated ADDKE1..7 (and both sides sent INTERMEDIATE_EXCHANGE_SUPPORTED),
 * one IKE_INTERMEDIATE exchange per additional key exchange, each with a KE payload (ML-KEM:
 * encapsulation key out, ciphertext back; kem.ts). After each, the IKE SA keys are updated
 * (RFC 9370 §2.2.2):
 *
 *     SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)
 *     {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}(n) = prf+(SKEYSEED(n), Ni | Nr | SPIi | SPIr)
 *
 * (the IKE SA's original nonces and SPIs), and every message is chained into IntAuth
 * (intermediate-auth.ts), which IKE_AUTH's AUTH covers. Works on an {@link SaContext}; no I/O.
 * @module
 */
import { encodePayloadChain, type PayloadSpec } from "../encode/payloads.ts";
import type { Ikev2Message, Ikev2Payload } from "../message.ts";
import { strongswanName } from "../strongswan-names.ts";
import { wipeIkeKeys } from "./crypto.ts";
import { newInitiatorKe, respondKe } from "./kem.ts";
import { sendAuth } from "./exchange-auth.ts";
import { N, firstError, notifyOf, parse, type Parsed, type SaContext } from "./context.ts";
import { chainIntAuth, EX_INTERMEDIATE, intermediateState, N_INTERMEDIATE_SUPPORTED } from "./intermediate-auth.ts";

export { EX_INTERMEDIATE, N_INTERMEDIATE_SUPPORTED } from "./intermediate-auth.ts";

/** INTERMEDIATE_EXCHANGE_SUPPORTED, sent in IKE_SA_INIT. */
export const INTERMEDIATE_SUP: PayloadSpec = { type: "notify", notifyType: N_INTERMEDIATE_SUPPORTED };

/** Does a suite list need IKE_INTERMEDIATE (some suite has an additional key exchange)? */
export function wantsIntermediate(sa: SaContext): boolean {
  return sa.ikeSuites.some((s) => s.addke?.some((id) => id > 0));
}

/** RFC 9370 §2.2.2: the SA's keys from SK(n) and the current SK_d; the old keys are zeroed. */
function updateKeys(sa: SaContext, shared: Uint8Array): void {
  const old = sa.keys!;
  const skd = old.skd.slice();
  sa.deriveKeys(shared, { skd, prf: sa.suite!.prf! });
  wipeIkeKeys(old);
  skd.fill(0);
  shared.fill(0);
}

/**
 * Initiator after the IKE_SA_INIT response (keys derived, `p` its payloads): the first
 * IKE_INTERMEDIATE exchange when the chosen suite has additional key exchanges, else IKE_AUTH.
 */
export function afterInit(sa: SaContext, p: Parsed, now: number): void {
  const st = intermediateState(sa);
  if (st.pending.length === 0) { sendAuth(sa, now); return; }
  if (!notifyOf(p, N_INTERMEDIATE_SUPPORTED)) {
    sa.fail("IKE_SA_INIT failed: responder chose additional key exchanges without INTERMEDIATE_EXCHANGE_SUPPORTED", undefined, now);
    return;
  }
  sa.state = "init-done";
  nextIntermediate(sa, now);
}

/** Initiator: the next additional key exchange (IKE_INTERMEDIATE request), or IKE_AUTH when all are done. */
function nextIntermediate(sa: SaContext, now: number): void {
  const st = intermediateState(sa);
  const id = st.pending[0];
  if (id === undefined) { sendAuth(sa, now); return; }
  sa.ke?.destroy();
  sa.ke = newInitiatorKe(id, sa.rng);
  if (!sa.ke) { sa.fail(`additional key exchange ${strongswanName(4, id)} is not implemented`, undefined, now); return; }
  const payloads: PayloadSpec[] = [{ type: "ke", group: id, data: sa.ke.publicValue }];
  const mid = sa.myMid;
  const data = sa.build(EX_INTERMEDIATE, false, mid, payloads);
  const chain = encodePayloadChain(payloads);
  chainIntAuth(sa, mid, false, chain.first, chain.bytes);
  sa.outstanding = { mid, exchange: EX_INTERMEDIATE, data, tries: 0, nextAt: now + sa.timeout(0), onResponse: (m, pl, t) => initiatorIntermediateResponse(sa, m, pl, t, id) };
  sa.log("debug", `IKE_INTERMEDIATE ${mid}: additional key exchange ${st.count + 1} (${strongswanName(4, id)})`);
  sa.send(data, now);
}

/** Initiator: the IKE_INTERMEDIATE response with the responder's KE (ML-KEM: the ciphertext). */
export function initiatorIntermediateResponse(sa: SaContext, msg: Ikev2Message, payloads: Ikev2Payload[], now: number, id: number): void {
  const st = intermediateState(sa);
  const plain = st.plain;
  st.plain = null;
  if (!plain) { sa.fail("IKE_INTERMEDIATE: response plaintext missing", undefined, now); return; }
  chainIntAuth(sa, msg.messageId, true, plain.first, plain.bytes);
  const p = parse(payloads);
  const err = firstError(p);
  if (err) { sa.fail(`IKE_INTERMEDIATE failed: responder answered ${err.notifyName}`, err.notifyType, now); return; }
  if (!p.ke || p.ke.group !== id) { sa.fail(`IKE_INTERMEDIATE failed: no KE payload of ${strongswanName(4, id)} in the response`, undefined, now); return; }
  const shared = sa.ke!.compute(p.ke.data);
  sa.ke!.destroy();
  sa.ke = null;
  if (!shared) { sa.fail(`IKE_INTERMEDIATE failed: invalid ${strongswanName(4, id)} value from the responder`, undefined, now); return; }
  updateKeys(sa, shared);
  st.pending.shift();
  st.count++;
  sa.myMid = msg.messageId + 1;
  sa.log("info", `additional key exchange ${strongswanName(4, id)} done (IKE_INTERMEDIATE ${msg.messageId}); IKE SA keys updated`);
  nextIntermediate(sa, now);
}

/** Responder: an IKE_INTERMEDIATE request (decrypted; its plaintext noted by the dispatcher). */
export function responderIntermediate(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
  const st = intermediateState(sa);
  const plain = st.plain;
  st.plain = null;
  if (!plain) return;
  const id = st.pending[0];
  const answer = (reply: PayloadSpec[]) => {
    chainIntAuth(sa, msg.messageId, false, plain.first, plain.bytes);
    const chain = encodePayloadChain(reply);
    sa.respond(msg, datagram, reply, now); // under the keys this exchange started with
    chainIntAuth(sa, msg.messageId, true, chain.first, chain.bytes);
  };
  if (id === undefined) {
    if (p.ke) {
      answer([{ type: "notify", notifyType: N.INVALID_SYNTAX }]);
      sa.fail("IKE_INTERMEDIATE with a KE payload, but no additional key exchange is left", N.INVALID_SYNTAX, now);
      return;
    }
    answer([]); // RFC 9242 allows IKE_INTERMEDIATE for other uses: an empty answer
    st.count++;
    return;
  }
  if (!p.ke || p.ke.group !== id) {
    answer([{ type: "notify", notifyType: N.INVALID_SYNTAX }]);
    sa.fail(`IKE_INTERMEDIATE from ${sa.remote.address}: expected a KE payload of ${strongswanName(4, id)}, got ${p.ke ? strongswanName(4, p.ke.group) : "none"}`, N.INVALID_SYNTAX, now);
    return;
  }
  const r = respondKe(id, p.ke.data, sa.rng);
  if (!r) {
    answer([{ type: "notify", notifyType: N.INVALID_SYNTAX }]);
    sa.fail(`IKE_INTERMEDIATE from ${sa.remote.address}: invalid ${strongswanName(4, id)} value`, N.INVALID_SYNTAX, now);
    return;
  }
  answer([{ type: "ke", group: id, data: r.publicValue }]);
  updateKeys(sa, r.shared);
  st.pending.shift();
  st.count++;
  sa.lastHeard = now;
  sa.log("info", `additional key exchange ${strongswanName(4, id)} done (IKE_INTERMEDIATE ${msg.messageId}); IKE SA keys updated`);
}
