/**
 * Test-only helpers to drive the exchange modules on bare SA contexts
 * ({@link SaState}), without the IkeSa dispatcher: deliver a datagram the way
 * the dispatcher would (request → responder function, response → the
 * outstanding request's handler).
 */
import { expect } from "bun:test";
import type { Anomaly } from "../../../../lib/core/anomaly.ts";
import { encodePayloadChain, type PayloadSpec } from "../../../../lib/ike/v2/encode/payloads.ts";
import { decodeIkev2, decodeIkev2Payloads, type Ikev2Message, type Ikev2Payload } from "../../../../lib/ike/v2/message.ts";
import { skOpen } from "../../../../lib/ike/v2/sk-crypto.ts";
import { parse, type Parsed } from "../../../../lib/ike/v2/sa/context.ts";
import { responderInit, startInit } from "../../../../lib/ike/v2/sa/exchange-init.ts";
import { SaState } from "../../../../lib/ike/v2/sa/state.ts";
import type { Action, Endpoint, IkeSaConfig } from "../../../../lib/ike/v2/sa/types.ts";
import { seededRng } from "./harness.ts";

export const NOW = 5_000_000;

export function sends(acts: Action[]): Extract<Action, { type: "send" }>[] {
  return acts.filter((a): a is Extract<Action, { type: "send" }> => a.type === "send");
}

export function ofType<T extends Action["type"]>(acts: Action[], t: T): Extract<Action, { type: T }>[] {
  return acts.filter((a) => a.type === t) as Extract<Action, { type: T }>[];
}

/** A fresh initiator context that has sent IKE_SA_INIT (like IkeSa.initiator). */
export function initiatorCtx(cfg: IkeSaConfig, seed = 1): { i: SaState; acts: Action[] } {
  const rng = seededRng(seed);
  const i = new SaState(true, cfg, NOW, rng);
  i.spii = rng(8);
  i.ni = rng(32);
  i.natt = !!cfg.startOn4500;
  startInit(i, i.ikeSuites[0].ke!, NOW);
  return { i, acts: i.flush() };
}

export function responderCtx(cfg: IkeSaConfig, seed = 2): SaState {
  return new SaState(false, cfg, NOW, seededRng(seed));
}

/** Deliver an IKE_SA_INIT request to an idle responder context, as the dispatcher does. */
export function initToResponder(r: SaState, data: Uint8Array, from: Endpoint, to?: Endpoint & { natt?: boolean }): Action[] {
  const an: Anomaly[] = [];
  const msg = decodeIkev2(data, 0, data.length, an)!;
  r.lastFrom = { ...from };
  r.lastTo = to ? { address: to.address, port: to.port } : undefined;
  r.natt = to ? to.natt ?? to.port === 4500 : from.port === 4500;
  if (r.lastTo) r.local = { ...r.lastTo };
  responderInit(r, msg, data, from, an, NOW);
  return r.flush();
}

/** Deliver a response (clear IKE_SA_INIT, or SK-encrypted) to the context's outstanding request. */
export function responseTo(s: SaState, data: Uint8Array, from: Endpoint, to?: Endpoint): Action[] {
  const msg = decodeIkev2(data, 0, data.length, [])!;
  expect(s.outstanding?.mid).toBe(msg.messageId);
  s.lastFrom = { ...from };
  s.lastTo = to;
  s.lastRaw = data;
  const payloads = msg.exchange === 34 ? msg.payloads : openSk(s, msg, data);
  const o = s.outstanding!;
  s.outstanding = null;
  o.onResponse(msg, payloads, NOW);
  s.pump(NOW);
  return s.flush();
}

/** Decrypt an SK message sent by the peer of `s`. */
export function openSk(s: SaState, msg: Ikev2Message, data: Uint8Array): Ikev2Payload[] {
  const sk = msg.payloads[msg.payloads.length - 1];
  expect(sk.kind).toBe("sk");
  const r = skOpen(s.skParams(false), data, sk.offset, sk.offset + sk.length);
  expect(r.ok).toBe(true);
  return decodeIkev2Payloads(r.plaintext!, 0, r.plaintext!.length, (sk as { nextPayload: number }).nextPayload, [], "ikev2.sk");
}

/** What a peer would parse from these payloads (encode, decode, parse). */
export function wire(payloads: PayloadSpec[]): Parsed {
  const c = encodePayloadChain(payloads);
  return parse(decodeIkev2Payloads(c.bytes, 0, c.bytes.length, c.first, [], "ikev2.sk"));
}

export function decode(data: Uint8Array): Ikev2Message {
  return decodeIkev2(data, 0, data.length, [])!;
}

/** A responder-side exchange function (responderAuth, responderChild, responderInfo). */
export type RequestHandler = (sa: SaState, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number) => void;

/** Deliver an SK-encrypted request to `s`, as the dispatcher does (checks the message ID, decrypts, parses). */
export function requestTo(s: SaState, data: Uint8Array, from: Endpoint, handler: RequestHandler): Action[] {
  const msg = decodeIkev2(data, 0, data.length, [])!;
  expect(msg.flags.response).toBe(false);
  expect(msg.messageId).toBe(s.peerMid);
  s.lastFrom = { ...from };
  handler(s, msg, data, parse(openSk(s, msg, data)), NOW);
  return s.flush();
}

/**
 * One request/response round trip between contexts: `a`'s last sent datagram goes to `b`
 * (through `handler`), `b`'s answer back to `a`. Returns both sides' actions.
 */
export function roundTrip(a: SaState, aActs: Action[], b: SaState, handler: RequestHandler): { b: Action[]; a: Action[] } {
  const req = sends(aActs).at(-1)!;
  const bActs = requestTo(b, req.data, { ...a.local }, handler);
  const resp = sends(bActs).at(-1)!;
  return { b: bActs, a: responseTo(a, resp.data, { ...b.local }) };
}

/** IKE_SA_INIT and IKE_AUTH between bare contexts (directly connected). */
export function establishCtx(icfg: IkeSaConfig, rcfg: IkeSaConfig, handler: RequestHandler): { i: SaState; r: SaState; ia: Action[]; ra: Action[] } {
  const { i, acts: a0 } = initiatorCtx(icfg);
  const r = responderCtx(rcfg);
  const r0 = initToResponder(r, sends(a0)[0].data, { ...i.local }, { ...r.local });
  const a1 = responseTo(i, sends(r0)[0].data, { ...r.local }, { ...i.local });
  const t = roundTrip(i, a1, r, handler);
  return { i, r, ia: [...a0, ...a1, ...t.a], ra: [...r0, ...t.b] };
}
