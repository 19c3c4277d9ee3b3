/**
 * EAP-TLS (RFC 5216) framing of the responder (lib/ike/v2/eap/tls.ts): Start, fragmentation
 * with L/M flags and ACKs both ways, bounds on what a client may send, property/fuzz tests;
 * and a whole handshake against node:tls as the client through the platform's engine
 * (lib/platform/bun/eap-tls-engine.ts), with the MSK checked against RFC 5216 §2.3 computed
 * here from the client's key log (TLS-PRF of the master secret).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";
import * as tls from "node:tls";
import { EAP_FAILURE, EAP_IDENTITY, EAP_REQUEST, EAP_RESPONSE, EAP_SUCCESS, encodeEap, parseEap } from "../../lib/ike/v2/eap/mschapv2.ts";
import { EAP_TLS, EapTlsServer, encodeEapTls, F_LENGTH, F_MORE, F_START, parseEapTls, printable, tlsAlertText, type EapTlsEngineResult } from "../../lib/ike/v2/eap/tls.ts";
import { nodeEapTlsEngine, nodeEapTlsEngines } from "../../lib/platform/bun/eap-tls-engine.ts";
import { havePki, makePki } from "../helpers/pki.ts";

const rng = (n: number) => new Uint8Array(randomBytes(n));
const resp = (id: number, type: number, data: Uint8Array) => encodeEap({ code: EAP_RESPONSE, id, type, data });
const tlsResp = (id: number, flags: number, data: Uint8Array, length?: number) => resp(id, EAP_TLS, encodeEapTls(flags, data, length));
const ACK = (id: number) => tlsResp(id, 0, new Uint8Array(0));

/** Identity, then the Start request; returns the server and the Start's identifier. */
function started(limits = {}): { s: EapTlsServer; id: number } {
  const s = new EapTlsServer(rng, limits);
  const idReq = parseEap(s.start())!;
  expect(idReq.code).toBe(EAP_REQUEST);
  expect(idReq.type).toBe(EAP_IDENTITY);
  const r = s.step(resp(idReq.id, EAP_IDENTITY, new TextEncoder().encode("carol@example.org")));
  if (!("send" in r) || "done" in r) throw new Error("no Start");
  const st = parseEap(r.send)!;
  expect(st.type).toBe(EAP_TLS);
  expect(st.data[0] & F_START).toBe(F_START);
  return { s, id: st.id };
}

function sent(r: ReturnType<EapTlsServer["step"]>): { id: number; flags: number; length: number | null; data: Uint8Array } {
  if (!("send" in r) || "done" in r) throw new Error(`expected a request, got ${JSON.stringify(r)}`);
  const m = parseEap(r.send)!;
  expect(m.code).toBe(EAP_REQUEST);
  expect(m.type).toBe(EAP_TLS);
  const t = parseEapTls(m.data)!;
  return { id: m.id, ...t };
}

describe("EAP-TLS framing (RFC 5216 §2.1.5, §3.1)", () => {
  test("a client flight in fragments: each but the last is ACKed, the whole is handed to the engine", () => {
    const { s, id } = started();
    const flight = rng(2500);
    let r = s.step(tlsResp(id, F_MORE, flight.subarray(0, 1000), 2500));
    let ack = sent(r);
    expect(ack.flags).toBe(0);
    expect(ack.data.length).toBe(0);
    r = s.step(tlsResp(ack.id, F_MORE, flight.subarray(1000, 2000)));
    ack = sent(r);
    r = s.step(tlsResp(ack.id, 0, flight.subarray(2000)));
    expect("tls" in r && Buffer.from(r.tls).equals(Buffer.from(flight))).toBe(true);
    expect(s.waiting).toBe(true);
  });

  test("a large server flight goes out in fragments: L on the first, M on all but the last; ACKs fetch the next; the final ACK gives EAP-Success", () => {
    const { s, id } = started({ fragment: 1000 });
    const r = s.step(tlsResp(id, 0, rng(300)));
    expect("tls" in r).toBe(true);
    const out = rng(2345);
    let m = parseEap(s.flight(out, false))!;
    let t = parseEapTls(m.data)!;
    expect(t.flags & (F_LENGTH | F_MORE)).toBe(F_LENGTH | F_MORE);
    expect(t.length).toBe(2345);
    const got = [t.data];
    for (;;) {
      const n = sent(s.step(ACK(m.id)));
      got.push(n.data);
      expect(n.length).toBeNull();
      m = { code: EAP_REQUEST, id: n.id, data: new Uint8Array(0) };
      if (!(n.flags & F_MORE)) break;
    }
    expect(got.map((g) => g.length)).toEqual([1000, 1000, 345]);
    expect(Buffer.concat(got).equals(Buffer.from(out))).toBe(true);
    // the client's next flight, then our final flight and its ACK
    const r2 = s.step(tlsResp(m.id, 0, rng(100)));
    expect("tls" in r2).toBe(true);
    const fin = parseEap(s.flight(rng(51), true))!;
    const done = s.step(ACK(fin.id));
    expect("done" in done && done.done).toBe("success");
    if ("done" in done && done.done === "success") {
      expect(done.user).toBe("carol@example.org");
      const ok = parseEap(done.send)!;
      expect(ok.code).toBe(EAP_SUCCESS);
      expect(ok.id).toBe(fin.id);
    }
  });

  test("bounds: a TLS Message Length over the cap, fragments beyond the announced length, the total over the cap, too many rounds", () => {
    let { s, id } = started({ maxMessage: 4000 });
    let r = s.step(tlsResp(id, F_MORE, rng(100), 4001));
    expect("done" in r && r.done === "failure" && r.reason).toContain("TLS Message Length 4001");
    expect(parseEap((r as { send: Uint8Array }).send)!.code).toBe(EAP_FAILURE);

    ({ s, id } = started());
    r = s.step(tlsResp(id, F_MORE, rng(600), 1000));
    r = s.step(tlsResp(sent(r).id, F_MORE, rng(600)));
    expect("done" in r && r.done === "failure" && r.reason).toContain("exceed the TLS Message Length");

    ({ s, id } = started({ maxMessage: 4000, maxTotal: 5000 }));
    r = s.step(tlsResp(id, 0, rng(3000)));
    expect("tls" in r).toBe(true);
    const m = parseEap(s.flight(rng(10), false))!;
    r = s.step(tlsResp(m.id, 0, rng(3000)));
    expect("done" in r && r.done === "failure" && r.reason).toContain("more than 5000 bytes");

    ({ s, id } = started({ maxRounds: 5, maxMessage: 1 << 20, maxTotal: 1 << 20 }));
    r = s.step(tlsResp(id, F_MORE, rng(10), 1 << 20));
    for (let i = 0; i < 10 && !("done" in r); i++) r = s.step(tlsResp(sent(r).id, F_MORE, rng(10)));
    expect("done" in r && r.done === "failure" && r.reason).toContain("more than 5 EAP-TLS rounds");
  });

  test("protocol errors fail with a reason: wrong identifier, Nak, first fragment without L, data instead of an ACK, an alert instead of the final ACK", () => {
    let { s, id } = started();
    let r = s.step(tlsResp((id + 1) & 0xff, 0, rng(10)));
    expect("done" in r && r.done === "failure" && r.reason).toContain("identifier");
    ({ s, id } = started());
    r = s.step(resp(id, 3, Uint8Array.of(26)));
    expect("done" in r && r.done === "failure" && r.reason).toContain("Nak");
    ({ s, id } = started());
    r = s.step(tlsResp(id, F_MORE, rng(10)));
    expect("done" in r && r.done === "failure" && r.reason).toContain("without the L flag");
    ({ s, id } = started({ fragment: 100 }));
    r = s.step(tlsResp(id, 0, rng(10)));
    let m = parseEap(s.flight(rng(300), false))!;
    r = s.step(tlsResp(m.id, 0, rng(10)));
    expect("done" in r && r.done === "failure" && r.reason).toContain("acknowledgement");
    ({ s, id } = started());
    s.step(tlsResp(id, 0, rng(10)));
    m = parseEap(s.flight(rng(30), true))!;
    r = s.step(tlsResp(m.id, 0, Uint8Array.of(21, 3, 3, 0, 2, 2, 48)));
    expect("done" in r && r.done === "failure" && r.reason).toBe("client ended the TLS handshake with fatal alert 48 unknown_ca");
    expect(tlsAlertText(Uint8Array.of(22, 3, 3))).toBeNull();
    // an EAP identity from the wire cannot forge log lines
    expect(printable("eve\nIKE SA established\u2028\u0085x")).toBe("eve\\x0aIKE SA established\\u2028\\x85x");
    // our refusal: a fatal alert request (L flag), then EAP-Failure whatever the client answers
    ({ s, id } = started());
    s.step(tlsResp(id, 0, rng(10)));
    const al = parseEap(s.alert(46))!;
    const at = parseEapTls(al.data)!;
    expect([at.flags, at.length, tlsAlertText(at.data)]).toEqual([F_LENGTH, 7, "fatal alert 46 certificate_unknown"]);
    r = s.step(ACK(al.id));
    expect("done" in r && r.done === "failure" && r.reason).toBe("client acknowledged our TLS alert");
    expect(parseEap((r as { send: Uint8Array }).send)!.code).toBe(EAP_FAILURE);
  });

  test("property: random EAP messages never throw, every step ends in a request, a TLS flight or an outcome; client data stays bounded", () => {
    const eapMsg = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.record({ id: fc.integer({ min: 0, max: 255 }), flags: fc.integer({ min: 0, max: 255 }), data: fc.uint8Array({ maxLength: 1200 }), len: fc.option(fc.integer({ min: 0, max: 0xffffffff })) })
        .map((x) => tlsResp(x.id, x.flags, x.data, x.len ?? undefined)),
    );
    fc.assert(fc.property(fc.array(eapMsg, { maxLength: 40 }), fc.boolean(), (msgs, useId) => {
      const { s, id } = started({ maxMessage: 3000, maxTotal: 5000 });
      let cur = id, got = 0;
      for (const raw of msgs) {
        // half the runs keep the identifier right, so the deeper states are reached
        if (useId && raw.length > 1) raw[1] = cur;
        const r = s.step(raw);
        if ("tls" in r) {
          got += r.tls.length;
          expect(r.tls.length).toBeLessThanOrEqual(3000);
          const m = parseEap(s.flight(rng(50), false))!;
          cur = m.id;
        } else if ("done" in r) {
          expect(parseEap(r.send)).not.toBeNull();
          break;
        } else cur = parseEap(r.send)!.id;
      }
      expect(got).toBeLessThanOrEqual(5000);
    }), { numRuns: 400 });
  });
});

// ---------------------------------------------------------------- a whole handshake through node:tls

/** TLS 1.2 PRF with SHA-256 (RFC 5246 §5). */
function prf(secret: Uint8Array, label: string, seed: Uint8Array, n: number): Uint8Array {
  const s = Buffer.concat([Buffer.from(label, "latin1"), seed]);
  const out: Buffer[] = [];
  let a: Buffer = s;
  let len = 0;
  while (len < n) {
    a = createHmac("sha256", secret).update(a).digest();
    const b = createHmac("sha256", secret).update(Buffer.concat([a, s])).digest();
    out.push(b);
    len += b.length;
  }
  return new Uint8Array(Buffer.concat(out).subarray(0, n));
}

/** A node:tls client speaking EAP-TLS through `s` (fragments of `frag` bytes), as a native client would. */
async function clientRun(s: EapTlsServer, engine: ReturnType<typeof nodeEapTlsEngine>, key: string, cert: string, identity: string, frag: number) {
  const wireOut: Buffer[] = [];
  const wire = new Duplex({ read() {}, write(c, _e, cb) { wireOut.push(Buffer.from(c)); cb(); } });
  let keylog = "";
  const c = tls.connect({ socket: wire, key, cert, rejectUnauthorized: false, maxVersion: "TLSv1.2" });
  c.on("keylog", (l: Buffer) => { keylog += l.toString(); });
  c.on("error", () => {});
  const settle = () => new Promise((r) => setTimeout(r, 40));
  const poll = async (): Promise<EapTlsEngineResult> => {
    for (let i = 0; i < 200; i++) {
      const r = engine.poll();
      if (r) return r;
      await settle();
    }
    throw new Error("engine timeout");
  };
  let req = parseEap(s.start())!;
  let r = s.step(resp(req.id, EAP_IDENTITY, new TextEncoder().encode(identity)));
  let serverRandom: Uint8Array | null = null;
  let result: EapTlsEngineResult | null = null;
  const inbound: Buffer[] = [];
  for (let round = 0; round < 60; round++) {
    if ("done" in r) return { r, keylog, serverRandom, result };
    if ("tls" in r) {
      engine.write(r.tls);
      result = await poll();
      if (result.state === "failed") return { r: { done: "failure" as const, reason: result.error }, keylog, serverRandom, result };
      r = { send: s.flight(result.out, result.state === "done") };
      continue;
    }
    req = parseEap(r.send)!;
    const t = parseEapTls(req.data)!;
    inbound.push(Buffer.from(t.data));
    if (t.flags & F_MORE) {
      r = s.step(ACK(req.id));
      continue;
    }
    const flight = Buffer.concat(inbound.splice(0));
    if (flight.length) {
      serverRandom ??= new Uint8Array(flight.subarray(11, 43)); // record 5 + handshake 4 + version 2
      wire.push(flight);
    }
    await settle();
    const mine = Buffer.concat(wireOut.splice(0));
    if (!mine.length) {
      r = s.step(ACK(req.id));
      continue;
    }
    // our flight, fragmented: L on the first, M while more follow; the server ACKs each
    let off = 0, id = req.id;
    for (;;) {
      const n = Math.min(frag, mine.length - off);
      const more = off + n < mine.length;
      r = s.step(tlsResp(id, more ? F_MORE : 0, mine.subarray(off, off + n), off === 0 ? mine.length : undefined));
      off += n;
      if (!more) break;
      const a = sent(r);
      expect(a.data.length).toBe(0);
      id = a.id;
    }
  }
  throw new Error("too many rounds");
}

const have = havePki();
describe.skipIf(!have && process.env.CI !== "true")("EAP-TLS handshake with node:tls (platform engine)", () => {
  test("client certificate from the CA: EAP-Success; MSK = TLS-PRF(master, \"client EAP encryption\", randoms)[0..63]", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vke-eaptls-"));
    try {
      const p = makePki(dir);
      p.issue("server", "root", "C=CH, O=vpnkit test, CN=server.example.org", ["--san", "server.example.org"]);
      p.issue("carol", "root", "C=CH, O=vpnkit test, CN=carol", ["--san", "carol@example.org"]);
      const rd = (f: string) => readFileSync(f, "utf8");
      const engine = nodeEapTlsEngine({ certificate: rd(p.cert("server")), privateKey: rd(p.key("server")), ca: [rd(p.cert("root"))] });
      const s = new EapTlsServer(rng, { fragment: 300 });
      const out = await clientRun(s, engine, rd(p.key("carol")), rd(p.cert("carol")), "carol@example.org", 200);
      engine.destroy();
      expect(out.r).toMatchObject({ done: "success", user: "carol@example.org" });
      const res = out.result!;
      expect(res.state).toBe("done");
      if (res.state !== "done") return;
      expect(res.version).toBe("TLSv1.2");
      expect(Buffer.from(res.peerCerts[0]).equals(Buffer.from(p.der("carol")))).toBe(true);
      // RFC 5216 §2.3 from the client's key log: CLIENT_RANDOM <client random> <master secret>
      const line = out.keylog.split("\n").find((l) => l.startsWith("CLIENT_RANDOM "))!;
      const [, cr, ms] = line.trim().split(" ");
      const msk = prf(Buffer.from(ms, "hex"), "client EAP encryption", Buffer.concat([Buffer.from(cr, "hex"), out.serverRandom!]), 64);
      expect(Buffer.from(res.msk).toString("hex")).toBe(Buffer.from(msk).toString("hex"));
      // at most `max` engines live at once; destroying one (twice is harmless) frees its place
      const f = nodeEapTlsEngines(2);
      const o = { certificate: rd(p.cert("server")), privateKey: rd(p.key("server")), ca: [rd(p.cert("root"))] };
      const a = f(o), b = f(o);
      expect(() => f(o)).toThrow("2 EAP-TLS handshakes already in progress");
      a.destroy();
      a.destroy();
      expect(f.live()).toBe(1);
      f(o).destroy();
      b.destroy();
      expect(f.live()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
