/**
 * The EAP-TLS responder inside IKE_AUTH (lib/ike/v2/sa/exchange-eap-tls.ts) with a scripted
 * TLS engine: the request completing a client flight gets no answer until the engine has
 * one (answered from the SA's tick), its retransmissions are not processed twice (the
 * engine sees each flight once; once answered, the cached response is resent), an engine
 * that stays silent fails the SA after the timeout, and after EAP-Success the AUTH keyed with
 * the MSK establishes the SA with the EAP identity as user.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeIkev2 } from "../../../../lib/ike/v2/message.ts";
import { encodeEap, EAP_FAILURE, EAP_IDENTITY, EAP_RESPONSE, EAP_SUCCESS, parseEap } from "../../../../lib/ike/v2/eap/mschapv2.ts";
import { EAP_TLS, encodeEapTls, F_LENGTH, F_MORE, parseEapTls, tlsAlertText, type EapTlsEngine, type EapTlsEngineResult } from "../../../../lib/ike/v2/eap/tls.ts";
import { EAP_TLS_ENGINE_TIMEOUT_MS, EAP_TLS_MAX_MS } from "../../../../lib/ike/v2/sa/exchange-eap-tls.ts";
import { parse, type Parsed } from "../../../../lib/ike/v2/sa/context.ts";
import { pskAuth, signedOctets } from "../../../../lib/ike/v2/sa/crypto.ts";
import { idBody } from "../../../../lib/ike/v2/sa/identity.ts";
import { IkeSa, type Action } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import type { SaState } from "../../../../lib/ike/v2/sa/state.ts";
import { havePki, makePki } from "../../../helpers/pki.ts";
import { baseCfg, I_ADDR, R_ADDR, seededRng } from "./harness.ts";
import { initiatorCtx, NOW, openSk, responseTo, sends } from "./ctx.ts";

const CI = process.env.CI === "true";
if (!havePki() && CI) throw new Error("CI=true and strongSwan's pki tool is missing");

/** A scripted engine: records what it was given; answers only when the test says so. */
class FakeEngine implements EapTlsEngine {
  written: Uint8Array[] = [];
  next: EapTlsEngineResult | null = null;
  destroyed = false;
  write(t: Uint8Array): void { this.written.push(t.slice()); }
  poll(): EapTlsEngineResult | null { const r = this.next; this.next = null; return r; }
  destroy(): void { this.destroyed = true; }
}

const dir = havePki() ? mkdtempSync(join(tmpdir(), "vke-eaptls-sa-")) : "";
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

function setup() {
  const P = makePki(dir);
  P.issue("server", "root", "C=CH, O=vpnkit test, CN=vpn.example.org", ["--san", "vpn.example.org", "--flag", "serverAuth"]);
  P.issue("carol", "root", "C=CH, O=vpnkit test, CN=carol", ["--san", "carol@example.org", "--flag", "clientAuth"]);
  const rd = (f: string) => readFileSync(f, "utf8");
  const engine = new FakeEngine();
  const icfg = baseCfg("i", { psk: undefined, localId: "carol@example.org", remoteId: "vpn.example.org", eap: { user: "carol@example.org", password: "unused" }, peerCa: [rd(P.cert("root"))] });
  const rcfg = baseCfg("r", {
    psk: undefined, remoteId: undefined, eapTlsEngine: () => engine,
    peerConfigs: [{
      name: "rw", auth: "eap-tls", localId: "vpn.example.org", certificate: rd(P.cert("server")), privateKey: rd(P.key("server")), peerCa: [rd(P.cert("root"))],
      children: [{ name: "c", localTs: ["203.0.113.0/24"], remoteTs: ["198.51.100.0/24"] }],
    }],
  });
  const { i, acts } = initiatorCtx(icfg);
  const r = IkeSa.responder(rcfg, NOW, seededRng(9));
  const initResp = sends(r.receive(sends(acts)[0].data, { ...I_ADDR }, NOW))[0].data;
  const auth1 = sends(responseTo(i, initResp, { ...R_ADDR }))[0].data;
  return { P, engine, i, r, auth1 };
}

/** Decrypt the responder's answer (null: none sent). */
function answer(i: SaState, acts: Action[]): Parsed | null {
  const s = sends(acts);
  if (!s.length) return null;
  const d = s[0].data;
  return parse(openSk(i, decodeIkev2(d, 0, d.length, [])!, d));
}

function eapOf(p: Parsed | null) {
  expect(p?.eap).toBeDefined();
  const e = p!.eap!;
  return parseEap(encodeEap({ code: e.code, id: e.identifier, type: e.eapType, data: e.data }))!;
}

describe.skipIf(!havePki())("EAP-TLS in IKE_AUTH (scripted engine)", () => {
  test("pending request: no answer until the engine has one, retransmissions not processed twice, then EAP-Success and AUTH with the MSK", () => {
    const { P, engine, i, r, auth1 } = setup();
    let t = NOW;
    let p = answer(i, r.receive(auth1, { ...I_ADDR }, t));
    expect(p!.auth?.method).toBe(14);
    let e = eapOf(p);
    expect(e.type).toBe(EAP_IDENTITY);
    const req = (mid: number, data: Uint8Array) => i.build(35, false, mid, [{ type: "eap", data }])[0];
    p = answer(i, r.receive(req(2, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_IDENTITY, data: new TextEncoder().encode("carol@example.org") })), { ...I_ADDR }, t));
    e = eapOf(p);
    expect(e.type).toBe(EAP_TLS);
    // ClientHello (opaque to the framing): consumed, no answer
    const hello = req(3, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_TLS, data: encodeEapTls(0, Uint8Array.of(22, 3, 1, 0, 1, 1)) }));
    expect(sends(r.receive(hello, { ...I_ADDR }, t))).toHaveLength(0);
    expect(sends(r.receive(hello, { ...I_ADDR }, t + 1000))).toHaveLength(0); // retransmission while pending
    expect(sends(r.tick(t += 500))).toHaveLength(0); // engine still busy
    expect(engine.written).toHaveLength(1);
    engine.next = { state: "more", out: new Uint8Array(1500).fill(7) };
    const a3 = r.tick(t += 500);
    p = answer(i, a3);
    e = eapOf(p);
    const f1 = parseEapTls(e.data)!;
    expect(f1.flags & F_LENGTH).toBe(F_LENGTH);
    expect(f1.length).toBe(1500);
    // a retransmission now gets the cached answer, not a second engine round
    expect(Buffer.from(sends(r.receive(hello, { ...I_ADDR }, t))[0].data).equals(Buffer.from(sends(a3)[0].data))).toBe(true);
    expect(engine.written).toHaveLength(1);
    // ACK for the second fragment
    p = answer(i, r.receive(req(4, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_TLS, data: encodeEapTls(0, new Uint8Array(0)) })), { ...I_ADDR }, t));
    e = eapOf(p);
    expect(parseEapTls(e.data)!.data.length).toBe(500);
    // client's certificate flight → engine done with carol's certificate
    expect(sends(r.receive(req(5, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_TLS, data: encodeEapTls(0, Uint8Array.of(22, 3, 3, 0, 1, 11)) })), { ...I_ADDR }, t))).toHaveLength(0);
    const msk = new Uint8Array(64).fill(0x5a);
    engine.next = { state: "done", out: Uint8Array.of(20, 3, 3, 0, 1, 1), msk: msk.slice(), peerCerts: [P.der("carol")], version: "TLSv1.2", cipher: "test" };
    e = eapOf(answer(i, r.tick(t += 500)));
    expect(engine.written).toHaveLength(2);
    const ok = eapOf(answer(i, r.receive(req(6, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_TLS, data: encodeEapTls(0, new Uint8Array(0)) })), { ...I_ADDR }, t)));
    expect(ok.code).toBe(EAP_SUCCESS);
    expect(engine.destroyed).toBe(true);
    const prf = i.suite!.prf!;
    const auth = pskAuth(prf, msk, signedOctets(prf, i.initRequest, i.nr, i.keys!.skpi, idBody(i.localId)));
    const acts = r.receive(i.build(35, false, 7, [{ type: "auth", method: 2, data: auth }])[0], { ...I_ADDR }, t);
    const est = acts.find((a) => a.type === "established") as Extract<Action, { type: "established" }> | undefined;
    expect(est?.eapUser).toBe("carol@example.org");
    expect(answer(i, acts)!.auth?.method).toBe(2);
  });

  test("an engine that never answers fails the SA after the timeout with EAP-Failure and AUTHENTICATION_FAILED", () => {
    const { engine, i, r, auth1 } = setup();
    let e = eapOf(answer(i, r.receive(auth1, { ...I_ADDR }, NOW)));
    const req = (mid: number, data: Uint8Array) => i.build(35, false, mid, [{ type: "eap", data }])[0];
    e = eapOf(answer(i, r.receive(req(2, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_IDENTITY, data: new TextEncoder().encode("carol@example.org") })), { ...I_ADDR }, NOW)));
    r.receive(req(3, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_TLS, data: encodeEapTls(0, Uint8Array.of(22)) })), { ...I_ADDR }, NOW);
    expect(sends(r.tick(NOW + EAP_TLS_ENGINE_TIMEOUT_MS - 1))).toHaveLength(0);
    const acts = r.tick(NOW + EAP_TLS_ENGINE_TIMEOUT_MS);
    const p = answer(i, acts)!;
    expect(eapOf(p).code).toBe(EAP_FAILURE);
    expect(p.notifies.map((n) => n.notifyName)).toContain("AUTHENTICATION_FAILED");
    const fail = acts.find((a) => a.type === "failed") as Extract<Action, { type: "failed" }>;
    expect(fail.reason).toContain("TLS engine did not answer within 10 s");
    expect(engine.destroyed).toBe(true);
    expect(r.state).toBe("dead");
  });

  test("a client that stops answering in the middle of EAP: the SA dies after the half-open timeout, the engine is released", () => {
    const { engine, i, r, auth1 } = setup();
    let e = eapOf(answer(i, r.receive(auth1, { ...I_ADDR }, NOW)));
    const req = (mid: number, data: Uint8Array) => i.build(35, false, mid, [{ type: "eap", data }])[0];
    e = eapOf(answer(i, r.receive(req(2, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_IDENTITY, data: new TextEncoder().encode("carol@example.org") })), { ...I_ADDR }, NOW)));
    expect(e.type).toBe(EAP_TLS);
    r.tick(NOW + 29_999);
    expect(r.state).toBe("eap");
    const acts = r.tick(NOW + 30_000);
    expect(r.state).toBe("dead");
    expect(acts.some((a) => a.type === "log" && a.msg.includes("EAP conversation with 192.0.2.1:500: no IKE_AUTH request within 30000 ms"))).toBe(true);
    expect(engine.destroyed).toBe(true);
  });

  test("a client feeding fragments slowly (each within the idle timeout) is cut off after the conversation limit", () => {
    const { engine, i, r, auth1 } = setup();
    let e = eapOf(answer(i, r.receive(auth1, { ...I_ADDR }, NOW)));
    const req = (mid: number, data: Uint8Array) => i.build(35, false, mid, [{ type: "eap", data }])[0];
    e = eapOf(answer(i, r.receive(req(2, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_IDENTITY, data: new TextEncoder().encode("carol@example.org") })), { ...I_ADDR }, NOW)));
    let t = NOW, mid = 3, first = true;
    const acts: Action[] = [];
    while (r.state === "eap" && t < NOW + 2 * EAP_TLS_MAX_MS) {
      t += 20_000;
      acts.push(...r.tick(t));
      if (r.state !== "eap") break;
      const a = r.receive(req(mid++, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_TLS, data: encodeEapTls(F_MORE, new Uint8Array(10), first ? 30000 : undefined) })), { ...I_ADDR }, t);
      first = false;
      e = eapOf(answer(i, a));
    }
    expect(r.state).toBe("dead");
    expect(t - NOW).toBe(EAP_TLS_MAX_MS);
    const fail = acts.find((a) => a.type === "failed") as Extract<Action, { type: "failed" }>;
    expect(fail.reason).toBe('IKE_AUTH failed: EAP-TLS for "carol@example.org": not finished within 60 s');
    expect(engine.destroyed).toBe(true);
  });

  test("a client certificate that does not name the EAP identity: one failure line, a TLS alert, and EAP-Failure + AUTHENTICATION_FAILED on the client's answer", () => {
    const { P, engine, i, r, auth1 } = setup();
    let e = eapOf(answer(i, r.receive(auth1, { ...I_ADDR }, NOW)));
    const req = (mid: number, data: Uint8Array) => i.build(35, false, mid, [{ type: "eap", data }])[0];
    e = eapOf(answer(i, r.receive(req(2, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_IDENTITY, data: new TextEncoder().encode("dave@example.org") })), { ...I_ADDR }, NOW)));
    r.receive(req(3, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_TLS, data: encodeEapTls(0, Uint8Array.of(22)) })), { ...I_ADDR }, NOW);
    engine.next = { state: "done", out: Uint8Array.of(20), msk: new Uint8Array(64), peerCerts: [P.der("carol")], version: "TLSv1.2", cipher: "test" };
    const acts = r.tick(NOW + 500);
    e = eapOf(answer(i, acts));
    expect(e.type).toBe(EAP_TLS);
    expect(tlsAlertText(parseEapTls(e.data)!.data)).toBe("fatal alert 46 certificate_unknown");
    const fail = acts.filter((a) => a.type === "failed") as Extract<Action, { type: "failed" }>[];
    expect(fail).toHaveLength(1);
    expect(fail[0].reason).toBe('IKE_AUTH failed: EAP-TLS for "dave@example.org": client certificate "C=CH, O=vpnkit test, CN=carol" does not name the EAP identity "dave@example.org"; sent TLS alert certificate_unknown');
    expect(engine.destroyed).toBe(true);
    expect(r.state).toBe("eap");
    const last = r.receive(req(4, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_TLS, data: encodeEapTls(0, new Uint8Array(0)) })), { ...I_ADDR }, NOW + 600);
    const p = answer(i, last)!;
    expect(eapOf(p).code).toBe(EAP_FAILURE);
    expect(p.notifies.map((n) => n.notifyName)).toContain("AUTHENTICATION_FAILED");
    expect(last.some((a) => a.type === "failed")).toBe(false); // logged once, at the refusal
    expect(r.state).toBe("dead");
  });

  test("no answer to our TLS alert (strongSwan's client just stops): the SA goes after the half-open timeout without a second failure line", () => {
    const { P, engine, i, r, auth1 } = setup();
    let e = eapOf(answer(i, r.receive(auth1, { ...I_ADDR }, NOW)));
    const req = (mid: number, data: Uint8Array) => i.build(35, false, mid, [{ type: "eap", data }])[0];
    e = eapOf(answer(i, r.receive(req(2, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_IDENTITY, data: new TextEncoder().encode("dave@example.org") })), { ...I_ADDR }, NOW)));
    r.receive(req(3, encodeEap({ code: EAP_RESPONSE, id: e.id, type: EAP_TLS, data: encodeEapTls(0, Uint8Array.of(22)) })), { ...I_ADDR }, NOW);
    engine.next = { state: "done", out: Uint8Array.of(20), msk: new Uint8Array(64), peerCerts: [P.der("carol")], version: "TLSv1.2", cipher: "test" };
    r.tick(NOW + 500);
    const acts = r.tick(NOW + 30_000);
    expect(r.state).toBe("dead");
    expect(acts.some((a) => a.type === "failed" || (a.type === "log" && a.level !== "debug"))).toBe(false);
  });
});
