/**
 * RFC 9370 additional key exchanges in IKE_INTERMEDIATE (RFC 9242) between two I/O-free IKE
 * SAs (lib/ike/v2/sa/exchange-intermediate.ts, intermediate-auth.ts): negotiation (and falling
 * back to a classic proposal with a peer that offers no ADDKE, as strongSwan 5.9), the key
 * update SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr) recomputed independently from the wire
 * (the ML-KEM secret via the recorded keygen seed), AUTH over IntAuth recomputed from the
 * wire, RFC 7383 fragments, a lost response, two additional exchanges, IKE SA rekeys with
 * IKE_FOLLOWUP_KE (RFC 9370 §2.2.4) by either side.
 */
import { describe, expect, test } from "bun:test";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { concat, toHex } from "../../../../lib/core/bytes.ts";
import type { Anomaly } from "../../../../lib/core/anomaly.ts";
import { decodeIkev2, decodeIkev2Payloads, type Ikev2Message } from "../../../../lib/ike/v2/message.ts";
import { deriveIkeKeys, prf, pskAuth, type IkeKeys } from "../../../../lib/ike/v2/sa/crypto.ts";
import { IkeSa, type Action, type IkeSaConfig } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { intAuthData } from "../../../../lib/ike/v2/sa/intermediate-auth.ts";
import { skOpen, type SkParams } from "../../../../lib/ike/v2/sk-crypto.ts";
import { baseCfg, I_ADDR, Loop, R_ADDR, seededRng } from "./harness.ts";

const PQ = "aes256gcm16-prfsha384-ecp384-ke1_mlkem768";
const CLASSIC = "aes256gcm16-prfsha256-x25519";
const PSK = "vpnkit-test-psk-0123456789abcdef";

const exchanges = (l: Loop) => l.sent.map((w) => `${w.from}:${w.data[18]}`);

/** The inner SA state (keys, nonces) of an IkeSa, for checks against the RFC formulas. */
function inner(sa: IkeSa): { keys: IkeKeys; ni: Uint8Array; nr: Uint8Array; initRequest: Uint8Array; suite: { prf: number } } {
  return (sa as unknown as { s: never }).s;
}
const copyKeys = (k: IkeKeys): IkeKeys => ({ skd: k.skd.slice(), skai: k.skai.slice(), skar: k.skar.slice(), skei: k.skei.slice(), sker: k.sker.slice(), skpi: k.skpi.slice(), skpr: k.skpr.slice() });
const gcm = (key: Uint8Array): SkParams => ({ encr: "aes-gcm-16", integ: "none", encKey: key });

function open(data: Uint8Array, p: SkParams): { m: Ikev2Message; first: number; plain: Uint8Array } {
  const an: Anomaly[] = [];
  const m = decodeIkev2(data, 0, data.length, an)!;
  const sk = m.payloads[m.payloads.length - 1];
  const r = skOpen(p, data, sk.offset, sk.offset + sk.length);
  expect(r.ok).toBe(true);
  return { m, first: (sk as { nextPayload: number }).nextPayload, plain: r.plaintext! };
}

describe("ke1_mlkem768 on both sides", () => {
  test("IKE_SA_INIT, one IKE_INTERMEDIATE with the 1184-byte key and 1088-byte ciphertext, IKE_AUTH with message ID 2", () => {
    const l = new Loop(baseCfg("i", { ikeProposals: [PQ, CLASSIC] }), baseCfg("r", { ikeProposals: [PQ, CLASSIC] }));
    l.run();
    expect(exchanges(l)).toEqual(["i:34", "r:34", "i:43", "r:43", "i:35", "r:35"]);
    for (const s of ["i", "r"] as const) {
      expect(l.of(s, "established")[0].proposal).toBe("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_768");
      expect(l.of(s, "install-child").length).toBe(1);
      expect(l.of(s, "keylog").length).toBe(2); // IKE_SA_INIT keys, then the updated ones (same SPIs)
    }
    // INTERMEDIATE_EXCHANGE_SUPPORTED both ways
    const notifies = (d: Uint8Array) => decodeIkev2(d, 0, d.length, [])!.payloads.filter((p) => p.kind === "notify").map((p) => (p as { notifyType: number }).notifyType);
    expect(notifies(l.sent[0].data)).toContain(16438);
    expect(notifies(l.sent[1].data)).toContain(16438);
    // IKE_INTERMEDIATE under the IKE_SA_INIT keys, KE payload sizes
    const [k0] = l.of("i", "keylog");
    const q = open(l.sent[2].data, gcm(k0.skei)), a = open(l.sent[3].data, gcm(k0.sker));
    const ke = (x: { first: number; plain: Uint8Array }) => decodeIkev2Payloads(x.plain, 0, x.plain.length, x.first, [], "t").find((p) => p.kind === "ke") as { group: number; data: Uint8Array };
    expect([ke(q).group, ke(q).data.length, ke(a).group, ke(a).data.length]).toEqual([36, 1184, 36, 1088]);
    expect([q.m.messageId, a.m.messageId, decodeIkev2(l.sent[4].data, 0, l.sent[4].data.length, [])!.messageId]).toEqual([1, 1, 2]);
    // both sides hold the same updated keys
    const [, i1] = l.of("i", "keylog"), [, r1] = l.of("r", "keylog");
    expect(toHex(i1.skei) + toHex(i1.sker)).toBe(toHex(r1.skei) + toHex(r1.sker));
    expect(toHex(i1.skei)).not.toBe(toHex(k0.skei));
  });

  test("RFC 9370 §2.2.2 key update and RFC 9242 IntAuth, recomputed from the wire", () => {
    const icfg = baseCfg("i", { ikeProposals: [PQ] }), rcfg = baseCfg("r", { ikeProposals: [PQ] });
    const seeds: Uint8Array[] = [];
    const base = seededRng(5);
    const recRng = (n: number) => {
      const b = base(n);
      if (n === 64) seeds.push(b.slice()); // the ML-KEM keygen seed d ‖ z (the only 64-byte draw)
      return b;
    };
    const now = 1000;
    const { sa: i, actions } = IkeSa.initiator(icfg, now, recRng);
    const r = IkeSa.responder(rcfg, now, seededRng(9));
    const wire: Uint8Array[] = [];
    const sendOf = (acts: Action[]) => acts.filter((a) => a.type === "send").map((a) => (a as { data: Uint8Array }).data);
    let out = sendOf(actions);
    wire.push(out[0]);
    out = sendOf(r.receive(out[0], { ...I_ADDR }, now, { ...R_ADDR })); // IKE_SA_INIT response
    wire.push(out[0]);
    const k0 = copyKeys(inner(r).keys);
    out = sendOf(i.receive(out[0], { ...R_ADDR }, now, { ...I_ADDR })); // → IKE_INTERMEDIATE request
    wire.push(out[0]);
    out = sendOf(r.receive(out[0], { ...I_ADDR }, now, { ...R_ADDR })); // → response; responder updated
    wire.push(out[0]);
    out = sendOf(i.receive(out[0], { ...R_ADDR }, now, { ...I_ADDR })); // → IKE_AUTH request
    wire.push(out[0]);
    const si = inner(i), sr = inner(r);
    expect(seeds.length).toBe(1);
    // SK(1): decapsulate the responder's ciphertext with the key from the recorded seed
    const q = open(wire[2], gcm(k0.skei)), a = open(wire[3], gcm(k0.sker));
    const ct = decodeIkev2Payloads(a.plain, 0, a.plain.length, a.first, [], "t").find((p) => p.kind === "ke") as { data: Uint8Array };
    const ss = ml_kem768.decapsulate(ct.data, ml_kem768.keygen(seeds[0]).secretKey);
    const want = deriveIkeKeys({ prf: 6, encrKeyLength: 36, integKeyLength: 0, ni: si.ni, nr: si.nr, shared: ss, spii: i.spii, spir: i.spir, rekey: { skd: k0.skd, prf: 6 } });
    for (const s of [si, sr]) {
      expect(toHex(s.keys.skd)).toBe(toHex(want.skd));
      expect(toHex(s.keys.skei)).toBe(toHex(want.skei));
      expect(toHex(s.keys.sker)).toBe(toHex(want.sker));
      expect(toHex(s.keys.skpi)).toBe(toHex(want.skpi));
      expect(toHex(s.keys.skpr)).toBe(toHex(want.skpr));
    }
    // IntAuth_i1 / IntAuth_r1 with the IKE_SA_INIT SK_pi / SK_pr; AUTH = prf(prf(PSK, pad), IKE_SA_INIT request | Nr | prf(SK_pi(1), IDi') | IntAuth_i | IntAuth_r | 00000002)
    const intI = prf(6, k0.skpi, intAuthData(i.spii, i.spir, 1, true, false, q.first, q.plain));
    const intR = prf(6, k0.skpr, intAuthData(i.spii, i.spir, 1, false, true, a.first, a.plain));
    const au = open(wire[4], gcm(want.skei));
    expect(au.m.messageId).toBe(2);
    const pl = decodeIkev2Payloads(au.plain, 0, au.plain.length, au.first, [], "t");
    const idi = pl.find((p) => p.kind === "id") as { offset: number; length: number };
    const auth = pl.find((p) => p.kind === "auth") as { data: Uint8Array };
    const idBody = au.plain.subarray(idi.offset + 4, idi.offset + idi.length);
    const octets = concat(wire[0], si.nr, prf(6, want.skpi, idBody), intI, intR, Uint8Array.of(0, 0, 0, 2));
    expect(toHex(auth.data)).toBe(toHex(pskAuth(6, new TextEncoder().encode(PSK), octets)));
    // and the responder accepts it
    const done = r.receive(wire[4], { ...I_ADDR }, now, { ...R_ADDR });
    expect(done.some((x) => x.type === "established")).toBe(true);
    // the A part: IKE header + SK header with plaintext lengths, Next Payload SK (46)
    const A = intAuthData(i.spii, i.spir, 1, true, false, q.first, q.plain).subarray(0, 32);
    expect(toHex(A.subarray(16, 32))).toBe(`2e202b08000000010000${(32 + q.plain.length).toString(16).padStart(4, "0")}${q.first.toString(16).padStart(2, "0")}00${(4 + q.plain.length).toString(16).padStart(4, "0")}`);
  });

  test("fragmented IKE_INTERMEDIATE (RFC 7383, fragment size 576) still completes", () => {
    const over: Partial<IkeSaConfig> = { ikeProposals: [PQ], fragmentSize: 576 };
    const l = new Loop(baseCfg("i", over), baseCfg("r", over));
    l.run();
    expect(l.of("i", "established").length).toBe(1);
    const inter = l.sent.filter((w) => w.data[18] === 43);
    expect(inter.length).toBeGreaterThan(4);
    expect(inter.every((w) => w.data.length <= 576 - 28 && w.data[16] === 53)).toBe(true); // every one an SKF
  });

  test("a lost IKE_INTERMEDIATE response: the retransmitted request gets the cached one (old keys)", () => {
    const l = new Loop(baseCfg("i", { ikeProposals: [PQ] }), baseCfg("r", { ikeProposals: [PQ] }));
    let dropped = 0;
    l.drop = (w) => w.from === "r" && w.data[18] === 43 && dropped++ === 0;
    l.run();
    expect(l.i.state).not.toBe("established");
    l.tick(5000);
    l.run();
    expect(l.of("i", "established").length).toBe(1);
    expect(l.of("r", "established").length).toBe(1);
  });

  test("an unanswered IKE_INTERMEDIATE: the initiator gives up after its retransmissions (no half-open timeout)", () => {
    const l = new Loop(baseCfg("i", { ikeProposals: [PQ] }), baseCfg("r", { ikeProposals: [PQ] }));
    l.drop = (w) => w.from === "r" && w.data[18] === 43;
    l.run();
    for (let n = 0; n < 400 && l.i.state !== "dead"; n++) {
      l.tick(1000);
      l.run(10);
    }
    expect(l.of("i", "failed")[0].reason).toContain("IKE_INTERMEDIATE request 1 unanswered after 5 retransmissions");
    expect(l.of("i", "log").some((x) => x.msg.includes("half-open"))).toBe(false);
  });

  test("two additional key exchanges (ke1_mlkem768-ke2_x25519): two IKE_INTERMEDIATE, IKE_AUTH with message ID 3", () => {
    const P2 = "aes256gcm16-prfsha256-x25519-ke1_mlkem768-ke2_x25519";
    const l = new Loop(baseCfg("i", { ikeProposals: [P2] }), baseCfg("r", { ikeProposals: [P2] }));
    l.run();
    expect(exchanges(l)).toEqual(["i:34", "r:34", "i:43", "r:43", "i:43", "r:43", "i:35", "r:35"]);
    expect(l.of("r", "established")[0].proposal).toBe("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519/KE1_ML_KEM_768/KE2_CURVE_25519");
    expect(l.of("i", "keylog").length).toBe(3);
  });

  test("IKE SA rekey with IKE_FOLLOWUP_KE (RFC 9370 §2.2.4), by either side, then a Child SA rekey and DPD", () => {
    const P2 = "aes256gcm16-prfsha384-ecp384-ke1_mlkem768-ke2_x25519";
    const l = new Loop(baseCfg("i", { ikeProposals: [P2, CLASSIC] }), baseCfg("r", { ikeProposals: [P2, CLASSIC] }));
    l.run();
    for (const who of ["i", "r"] as const) {
      l.clear();
      const n0 = l.sent.length;
      l.take(who, (who === "i" ? l.i : l.r).rekeyIke(l.now));
      l.run();
      const other = who === "i" ? "r" : "i";
      // CREATE_CHILD_SA, two IKE_FOLLOWUP_KE, then the Delete of the old SA
      // (the first IKE_FOLLOWUP_KE request, 1184 bytes of ML-KEM key and the link, goes in RFC 7383 fragments: one entry per message)
      const msgs = l.sent.slice(n0).map((w) => `${w.from === who ? "q" : "a"}:${w.data[18]}`).filter((x, k, a) => k === 0 || x !== a[k - 1]);
      expect(msgs).toEqual(["q:36", "a:36", "q:44", "a:44", "q:44", "a:44", "q:37", "a:37"]);
      expect(l.of(who, "ike-rekeyed").length).toBe(1);
      expect(l.of(other, "ike-rekeyed").length).toBe(1);
      expect(l.of(who, "failed")).toEqual([]);
      expect(l.i.status().proposal).toBe("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_768/KE2_CURVE_25519");
      const ki = l.of("i", "keylog").at(-1)!, kr = l.of("r", "keylog").at(-1)!;
      expect(toHex(ki.ispi) + toHex(ki.skei) + toHex(ki.sker)).toBe(toHex(kr.ispi) + toHex(kr.skei) + toHex(kr.sker));
      expect(toHex(inner(l.i).keys.skd)).toBe(toHex(inner(l.r).keys.skd));
    }
    l.clear();
    l.take("i", l.i.rekeyChild(l.i.children()[0].spiIn, l.now));
    l.run();
    l.take("r", l.r.dpd(l.now));
    l.run();
    expect(l.of("i", "failed")).toEqual([]);
    expect(l.of("r", "failed")).toEqual([]);
    expect(l.of("i", "install-child").length).toBe(1);
  });

  test("IKE_FOLLOWUP_KE without a rekey waiting for it, or with a wrong link: STATE_NOT_FOUND, the SA stays up", () => {
    const l = new Loop(baseCfg("i", { ikeProposals: [PQ] }), baseCfg("r", { ikeProposals: [PQ] }));
    l.run();
    const s = (l.i as unknown as { s: { request: (p: unknown, now: number) => void; flush: () => Action[] } }).s;
    const got: number[][] = [];
    for (const link of [Uint8Array.of(1, 2, 3, 4), new Uint8Array(0)]) {
      s.request(() => ({
        exchange: 44,
        payloads: [{ type: "ke", group: 36, data: new Uint8Array(1184) }, ...(link.length ? [{ type: "notify", notifyType: 16441, data: link }] : [])],
        onResponse: (_m: unknown, pl: { kind: string; notifyType?: number }[]) => { got.push(pl.filter((x) => x.kind === "notify").map((x) => x.notifyType!)); },
      }), l.now);
      l.take("i", s.flush());
      l.run();
    }
    expect(got).toEqual([[47], [47]]);
    expect(l.r.state).toBe("established");
    expect(l.i.state).toBe("established");
  });

  test("RFC 9370 §2.2.4 SKEYSEED = prf(SK_d, SK(0) | Ni | Nr | SK(1) | ... | SK(n))", () => {
    const b = (n: number, v: number) => new Uint8Array(n).fill(v);
    const k = deriveIkeKeys({ prf: 6, encrKeyLength: 36, integKeyLength: 0, ni: b(32, 1), nr: b(32, 2), shared: b(48, 3), spii: b(8, 4), spir: b(8, 5), rekey: { skd: b(48, 6), prf: 6, extra: concat(b(32, 7), b(32, 8)) } });
    expect(toHex(k.skeyseed)).toBe(toHex(prf(6, b(48, 6), concat(b(48, 3), b(32, 1), b(32, 2), b(32, 7), b(32, 8)))));
  });
});

describe("peers without ADDKE", () => {
  test("PQ-and-classic initiator, classic-only responder (as strongSwan 5.9.8): classic suite, no IKE_INTERMEDIATE", () => {
    const l = new Loop(baseCfg("i", { ikeProposals: [PQ, CLASSIC] }), baseCfg("r", { ikeProposals: [CLASSIC] }));
    l.run();
    // first KE ECP_384, the responder asks for CURVE_25519 (INVALID_KE_PAYLOAD), then on without IKE_INTERMEDIATE
    expect(exchanges(l)).toEqual(["i:34", "r:34", "i:34", "r:34", "i:35", "r:35"]);
    expect(l.of("i", "established")[0].proposal).toBe("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519");
  });
  test("classic initiator, PQ-and-classic responder: classic suite", () => {
    const l = new Loop(baseCfg("i", { ikeProposals: [CLASSIC] }), baseCfg("r", { ikeProposals: [PQ, CLASSIC] }));
    l.run();
    expect(exchanges(l)).toEqual(["i:34", "r:34", "i:35", "r:35"]);
    expect(l.of("r", "established")[0].proposal).toBe("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519");
  });
  test("PQ-only initiator, classic-only responder: NO_PROPOSAL_CHOSEN", () => {
    const l = new Loop(baseCfg("i", { ikeProposals: [PQ] }), baseCfg("r", { ikeProposals: ["aes256gcm16-prfsha384-ecp384"] }));
    l.run();
    expect(l.of("i", "failed")[0].notify).toBe("NO_PROPOSAL_CHOSEN");
  });
});

describe("fuzz: IKE_INTERMEDIATE requests the responder may get", () => {
  test("random KE groups / data / notifies: an answer and a clean outcome, never an internal error", async () => {
    const fc = (await import("fast-check")).default;
    const { initiatorCtx, initToResponder, sends } = await import("./ctx.ts");
    const { IkeSa: Sa } = await import("../../../../lib/ike/v2/sa/ike-sa.ts");
    const payload = fc.oneof(
      fc.record({ type: fc.constant("ke" as const), group: fc.constantFrom(36, 31, 20, 0, 35, 1234), data: fc.uint8Array({ maxLength: 1300 }) }),
      fc.record({ type: fc.constant("notify" as const), notifyType: fc.constantFrom(7, 16438, 16441, 40000), data: fc.uint8Array({ maxLength: 16 }) }),
      fc.record({ type: fc.constant("nonce" as const), nonce: fc.uint8Array({ minLength: 16, maxLength: 40 }) }),
    );
    let ok = 0, refused = 0;
    fc.assert(fc.property(fc.array(payload, { maxLength: 3 }), fc.boolean(), (pls, mlkemLen) => {
      const icfg = baseCfg("i", { ikeProposals: [PQ] });
      const { i, acts } = initiatorCtx(icfg);
      const r = Sa.responder(baseCfg("r", { ikeProposals: [PQ] }), 1, seededRng(3));
      const resp = sends(r.receive(sends(acts)[0].data, { ...I_ADDR }, 1, { ...R_ADDR }))[0];
      const m = decodeIkev2(resp.data, 0, resp.data.length, [])!;
      i.lastRaw = resp.data;
      i.outstanding!.onResponse(m, m.payloads, 1); // the initiator derives the IKE_SA_INIT keys (and queues its own request)
      // a well-sized ML-KEM-768 key with random bytes now and then
      const specs = pls.map((p) => (p.type === "ke" && mlkemLen && p.group === 36 ? { ...p, data: Uint8Array.from({ length: 1184 }, (_, k) => p.data[k % Math.max(1, p.data.length)] ?? 0) } : p));
      const out: Action[] = [];
      for (const frag of i.build(43, false, 1, specs)) out.push(...r.receive(frag, { ...I_ADDR }, 2, { ...R_ADDR })); // RFC 7383 fragments when large
      expect(out.filter((a) => a.type === "log" && /internal error/.test(a.msg))).toEqual([]);
      expect(out.filter((a) => a.type === "send").length, JSON.stringify(out.filter((a) => a.type === "log")) + JSON.stringify(pls.map((p) => [p.type, (p as { group?: number }).group]))).toBe(1); // always answered
      if (r.state === "dead") refused++;
      else {
        expect(r.state).toBe("init-done");
        ok++;
      }
      return true;
    }), { numRuns: 40 });
    expect(ok + refused).toBe(40);
  });
});
