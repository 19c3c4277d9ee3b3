/**
 * IKE_FOLLOWUP_KE (RFC 9370 §2.2.4, exchange 44): the additional key exchanges of an IKE SA
 * rekey. The CREATE_CHILD_SA that rekeys the IKE SA runs the main key exchange; when the chosen
 * proposal has ADDKE transforms, the responder adds N(ADDITIONAL_KEY_EXCHANGE) with link data,
 * and the initiator runs one IKE_FOLLOWUP_KE exchange per additional key exchange (KE and the
 * link of the previous response; the responder sends a new link in every response but the
 * last), all under the old IKE SA's keys. The new SA's keys:
 *
 *     SKEYSEED = prf(SK_d (old), SK(0) | Ni | Nr | SK(1) | ... | SK(n))
 *
 * (the secrets SK(1..n) are handed to adoptIkeRekey through {@link takeFollowupSecrets}).
 * Child SA rekeys with additional key exchanges are not implemented. No I/O.
 * @module
 */
import { concat, ctEqual } from "../../../core/bytes.ts";
import type { PayloadSpec } from "../encode/payloads.ts";
import type { Ikev2Message } from "../message.ts";
import { strongswanName } from "../strongswan-names.ts";
import { newInitiatorKe, respondKe } from "./kem.ts";
import type { Suite } from "./proposals.ts";
import { N, notifyOf, parse, type Parsed, type PendingIkeRekey, type SaContext } from "./context.ts";

export const EX_FOLLOWUP_KE = 44;
/** ADDITIONAL_KEY_EXCHANGE (RFC 9370 §3.2). */
export const N_ADDITIONAL_KEY_EXCHANGE = 16441;
const STATE_NOT_FOUND = 47;

/** Responder side: the additional key exchanges of a rekey in progress. */
interface Followup { ids: number[]; link: Uint8Array; secrets: Uint8Array[]; pend: PendingIkeRekey | null }
const responders = new WeakMap<SaContext, Followup>();
/** SK(1) | ... | SK(n) of a negotiated rekey, until adoptIkeRekey takes them. */
const secretsOf = new WeakMap<PendingIkeRekey, Uint8Array>();

const addkeIds = (s: Suite) => (s.addke ?? []).filter((id) => id > 0);

/** adoptIkeRekey: SK(1) | ... | SK(n) for the rekey `r` (undefined: none), forgotten here. */
export function takeFollowupSecrets(r: PendingIkeRekey): Uint8Array | undefined {
  const s = secretsOf.get(r);
  secretsOf.delete(r);
  return s;
}

/**
 * Initiator, after the CREATE_CHILD_SA response `p` chose `chosen` (sa.pendingIkeRekey set):
 * queue the IKE_FOLLOWUP_KE exchanges, then `done()` (which queues the Delete). False when the
 * proposal has no additional key exchange (the caller goes on directly).
 */
export function initiatorFollowups(sa: SaContext, chosen: Suite, p: Parsed, done: () => void): boolean {
  const ids = addkeIds(chosen);
  if (!ids.length) return false;
  const pend = sa.pendingIkeRekey!;
  const abort = (why: string) => {
    sa.log("error", `IKE SA rekey failed: ${why}`);
    if (sa.pendingIkeRekey === pend) {
      pend.shared.fill(0);
      sa.pendingIkeRekey = null;
    }
    for (const s of secrets) s.fill(0);
  };
  const secrets: Uint8Array[] = [];
  let link = notifyOf(p, N_ADDITIONAL_KEY_EXCHANGE)?.data.slice();
  if (!link?.length) { abort("additional key exchanges chosen without ADDITIONAL_KEY_EXCHANGE"); return true; }
  const next = (k: number) => {
    sa.queue.unshift(() => {
      if (sa.pendingIkeRekey !== pend) return null;
      sa.ke?.destroy();
      const ke = (sa.ke = newInitiatorKe(ids[k], sa.rng)!);
      return {
        exchange: EX_FOLLOWUP_KE,
        payloads: [{ type: "ke", group: ids[k], data: ke.publicValue }, { type: "notify", notifyType: N_ADDITIONAL_KEY_EXCHANGE, data: link! }],
        onResponse: (_m, pl) => {
          const q = parse(pl);
          const s = q.ke?.group === ids[k] ? ke.compute(q.ke.data) : null;
          ke.destroy();
          if (sa.ke === ke) sa.ke = null;
          if (!s) { abort(`IKE_FOLLOWUP_KE ${k + 1}: ${q.notifies.find((n) => n.isError)?.notifyName ?? `no valid ${strongswanName(4, ids[k])} value`}`); return; }
          secrets.push(s);
          if (k + 1 < ids.length) {
            const l = notifyOf(q, N_ADDITIONAL_KEY_EXCHANGE)?.data;
            if (!l?.length) { abort("IKE_FOLLOWUP_KE response without the next ADDITIONAL_KEY_EXCHANGE"); return; }
            link = l.slice();
            next(k + 1);
            return;
          }
          secretsOf.set(pend, concat(...secrets));
          for (const x of secrets) x.fill(0);
          sa.log("info", `IKE SA rekey: ${ids.length} additional key exchange(s) done (IKE_FOLLOWUP_KE)`);
          done();
        },
      };
    });
  };
  next(0);
  return true;
}

/** Responder, answering a rekeying CREATE_CHILD_SA with `suite`: the ADDITIONAL_KEY_EXCHANGE notify to add (none without ADDKE). */
export function responderFollowupStart(sa: SaContext, suite: Suite): PayloadSpec[] {
  const ids = addkeIds(suite);
  const old = responders.get(sa);
  if (old) for (const s of old.secrets) s.fill(0);
  responders.delete(sa);
  if (!ids.length) return [];
  const link = sa.rng(8);
  responders.set(sa, { ids, link, secrets: [], pend: null });
  return [{ type: "notify", notifyType: N_ADDITIONAL_KEY_EXCHANGE, data: link }];
}

/** Responder: tie the follow-up state to the rekey just negotiated (sa.pendingIkeRekey). */
export function responderFollowupBind(sa: SaContext): void {
  const f = responders.get(sa);
  if (f) f.pend = sa.pendingIkeRekey;
}

/** Responder: an IKE_FOLLOWUP_KE request (decrypted, parsed). */
export function responderFollowup(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
  const f = responders.get(sa);
  const refuse = (notifyType: number, why: string) => {
    sa.respond(msg, datagram, [{ type: "notify", notifyType }], now);
    sa.log("warn", `IKE_FOLLOWUP_KE refused: ${why}`);
  };
  if (!f || !f.pend || sa.pendingIkeRekey !== f.pend || !f.ids.length) { refuse(STATE_NOT_FOUND, "no IKE SA rekey waiting for it"); return; }
  const link = notifyOf(p, N_ADDITIONAL_KEY_EXCHANGE)?.data;
  if (!link || !ctEqual(link, f.link)) { refuse(STATE_NOT_FOUND, "ADDITIONAL_KEY_EXCHANGE link data does not match"); return; }
  const id = f.ids[0];
  const r = p.ke && p.ke.group === id ? respondKe(id, p.ke.data, sa.rng) : null;
  if (!r) { refuse(N.INVALID_SYNTAX, `expected a valid KE payload of ${strongswanName(4, id)}`); return; }
  f.secrets.push(r.shared);
  f.ids.shift();
  const reply: PayloadSpec[] = [{ type: "ke", group: id, data: r.publicValue }];
  if (f.ids.length) {
    f.link = sa.rng(8);
    reply.push({ type: "notify", notifyType: N_ADDITIONAL_KEY_EXCHANGE, data: f.link });
  } else {
    secretsOf.set(f.pend, concat(...f.secrets));
    for (const s of f.secrets) s.fill(0);
    responders.delete(sa);
    sa.log("info", `IKE SA rekey: additional key exchanges done (IKE_FOLLOWUP_KE ${msg.messageId})`);
  }
  sa.respond(msg, datagram, reply, now);
}
