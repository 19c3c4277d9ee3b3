/**
 * The diagnoser on synthetic captures (real IKEv2 bytes from the encoder,
 * raw IPv4 frames through the real Decoder) for the cases no fixture has:
 * INVALID_KE_PAYLOAD with and without a retry, answered retransmissions,
 * ESP sequence gaps and replays, missing NAT-keepalives; plus the memory
 * bounds and robustness on mutated real packets.
 */
import { describe, expect, test } from "bun:test";
import { openCapture } from "../../lib/capture/index.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import { Diagnoser } from "../../lib/diagnose/diagnoser.ts";
import { renderDiagnosisJson, renderDiagnosisText } from "../../lib/diagnose/render.ts";
import { MAX_IKE_SAS, MAX_TIMELINE } from "../../lib/diagnose/state.ts";
import { loadKeyStore } from "../../lib/keys/load.ts";
import type { HeaderSpec } from "../../lib/ike/v2/encode/message.ts";
import type { PayloadSpec } from "../../lib/ike/v2/encode/payloads.ts";
import { FIX } from "../decode/helpers.ts";
import { diagnoseFrames, espFrame, ikeFrame, keepaliveFrame, problems, SPI_I, SPI_R, udpFrame, withCode, ZERO_SPI } from "./helpers.ts";

const A = "198.18.0.1";
const B = "198.18.0.2";
const IKE_PROPOSAL: PayloadSpec = {
  type: "sa",
  proposals: [{ protocol: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 20, keyLength: 256 }, { type: 2, id: 5 }, { type: 4, id: 31 }, { type: 4, id: 19 }] }],
};
const nonce: PayloadSpec = { type: "nonce", nonce: new Uint8Array(32).fill(7) };
const ke = (group: number): PayloadSpec => ({ type: "ke", group, data: new Uint8Array(group === 31 ? 32 : 64).fill(3) });
const hdr = (ispi: Uint8Array, rspi: Uint8Array, exchange: number, initiator: boolean, response: boolean, messageId: number): HeaderSpec => ({ ispi, rspi, exchange, initiator, response, messageId });
const initReq = (ispi: Uint8Array, group: number) => ikeFrame(A, B, hdr(ispi, ZERO_SPI, 34, true, false, 0), [IKE_PROPOSAL, ke(group), nonce]);
const invalidKe = (ispi: Uint8Array, want: number) => ikeFrame(B, A, hdr(ispi, ZERO_SPI, 34, false, true, 0), [{ type: "notify", notifyType: 17, data: new Uint8Array([want >> 8, want & 0xff]) }]);
const initResp = (ispi: Uint8Array, group: number) => ikeFrame(B, A, hdr(ispi, SPI_R, 34, false, true, 0), [IKE_PROPOSAL, ke(group), nonce]);

/** IKE_SA_INIT with Curve25519, INVALID_KE_PAYLOAD asking for ECP-256, then (with `retrySpi`) the retry and its answer. */
const keRetry = (retrySpi?: Uint8Array) => {
  const f = [{ t: 1000, data: initReq(SPI_I, 31) }, { t: 1000.01, data: invalidKe(SPI_I, 19) }];
  if (retrySpi) f.push({ t: 1000.02, data: initReq(retrySpi, 19) }, { t: 1000.03, data: initResp(retrySpi, 19) });
  return diagnoseFrames(f);
};

describe("INVALID_KE_PAYLOAD", () => {
  test("group offered → group requested → retry seen and answered (warning)", () => {
    const d = keRetry(new Uint8Array([0xaa, 2, 3, 4, 5, 6, 7, 8]));
    const [f] = withCode(d, "INVALID_KE_PAYLOAD");
    expect(f.severity).toBe("warning");
    expect(f.data).toEqual({ offeredGroup: 31, requestedGroup: 19, retryNo: 3, retrySucceeded: true });
    expect(f.packets).toEqual([1, 2, 3, 4]);
    expect(f.summary).toContain("Curve25519");
    expect(f.summary).toContain("the retry succeeded");
  });

  test("no retry: error", () => {
    const d = keRetry();
    const [f] = withCode(d, "INVALID_KE_PAYLOAD");
    expect(f.severity).toBe("error");
    expect(f.data).toMatchObject({ offeredGroup: 31, requestedGroup: 19, retryNo: null, retrySucceeded: false });
    expect(d.ikeSas[0].state).toBe("failed");
  });

  test("a retry with the same SPI is a new attempt, not a retransmission", () => {
    const d = keRetry(SPI_I);
    expect(d.ikeSas).toHaveLength(1);
    expect(d.ikeSas[0].timeline.some((t) => t.retransmission)).toBe(false);
    expect(withCode(d, "INVALID_KE_PAYLOAD")[0].data).toMatchObject({ retryNo: 3, retrySucceeded: true });
    expect(withCode(d, "NO_RESPONSE")).toEqual([]);
  });
});

test("retransmissions that were answered: IKE_RETRANSMIT warning with every copy", () => {
  const d = diagnoseFrames([
    { t: 1000, data: initReq(SPI_I, 19) },
    { t: 1002, data: initReq(SPI_I, 19) },
    { t: 1005.6, data: initReq(SPI_I, 19) },
    { t: 1005.61, data: initResp(SPI_I, 19) },
  ]);
  const [f] = withCode(d, "IKE_RETRANSMIT");
  expect(f.severity).toBe("warning");
  expect(f.packets).toEqual([1, 2, 3, 4]);
  expect(f.summary).toContain("3 times");
  expect(withCode(d, "NO_RESPONSE")).toEqual([]);
});

describe("ESP", () => {
  test("sequence gaps and duplicates, with packet numbers", () => {
    const frames: { t: number; data: Uint8Array }[] = [];
    let t = 2000;
    for (const seq of [1, 2, 3, 7, 8, 8, 9]) frames.push({ t: (t += 0.1), data: espFrame(A, B, 0x11111111, seq) });
    for (const seq of [1, 2, 3, 4, 5, 6, 7]) frames.push({ t: (t += 0.1), data: espFrame(B, A, 0x22222222, seq) });
    const d = diagnoseFrames(frames);
    const [gap] = withCode(d, "ESP_SEQ_GAP");
    expect(gap.espSpis).toEqual(["11111111"]);
    expect(gap.data).toMatchObject({ missing: 3 });
    expect(gap.evidence[0].text).toContain("seq 4..6 (3) missing between packet 3 and packet 4");
    const [dup] = withCode(d, "ESP_REPLAY");
    expect(dup.espSpis).toEqual(["11111111"]);
    expect(dup.data).toEqual({ duplicates: 1 });
    expect(withCode(d, "ESP_ONE_WAY")).toEqual([]);
  });

  test("a short one-way burst at the end is only a warning", () => {
    const d = diagnoseFrames([{ t: 1, data: espFrame(A, B, 0x33333333, 1) }]);
    expect(withCode(d, "ESP_ONE_WAY")[0].severity).toBe("warning");
  });
});

describe("NAT-keepalives", () => {
  // NAT_DETECTION_SOURCE_IP that cannot match: the initiator is behind a NAT (as seen here).
  const natdBad: PayloadSpec = { type: "notify", notifyType: 16388, data: new Uint8Array(20).fill(0x5a) };
  const frames = (keepalives: boolean) => {
    const f: { t: number; data: Uint8Array }[] = [
      { t: 100, data: ikeFrame(A, B, hdr(SPI_I, ZERO_SPI, 34, true, false, 0), [IKE_PROPOSAL, ke(19), nonce, natdBad]) },
      { t: 100.01, data: initResp(SPI_I, 19) },
      { t: 100.02, data: espFrame(A, B, 0x44444444, 1) },
      { t: 100.03, data: espFrame(B, A, 0x55555555, 1) },
    ];
    if (keepalives) for (let t = 120; t < 160; t += 20) f.push({ t, data: keepaliveFrame(A, B) });
    f.push({ t: 160, data: espFrame(A, B, 0x44444444, 2) }, { t: 160.01, data: espFrame(B, A, 0x55555555, 2) });
    return f;
  };

  test("NAT detected, 60 s of silence from the NATed side: NAT_KEEPALIVE_MISSING", () => {
    const d = diagnoseFrames(frames(false));
    expect(d.ikeSas[0].nat).toMatchObject({ initiatorBehindNat: true, responderBehindNat: false });
    const [f] = withCode(d, "NAT_KEEPALIVE_MISSING");
    expect(f.severity).toBe("warning");
    expect(f.data).toMatchObject({ side: A, keepalives: 0 });
    expect(f.evidence.some((e) => e.packet === 5 && e.text.includes("between packet 3 and packet 5"))).toBe(true);
  });

  test("keepalives every 20 s: no finding", () => {
    const d = diagnoseFrames(frames(true));
    expect(withCode(d, "NAT_KEEPALIVE_MISSING")).toEqual([]);
  });
});

describe("bounds and robustness", () => {
  test("IKE SAs beyond the cap are counted, not kept; timelines are capped", () => {
    const frames: { t: number; data: Uint8Array }[] = [];
    for (let i = 0; i < MAX_IKE_SAS + 50; i++) {
      const spi = new Uint8Array(8);
      new DataView(spi.buffer).setUint32(4, i + 1);
      frames.push({ t: 1000 + i * 0.001, data: initReq(spi, 19) });
    }
    for (let i = 0; i < MAX_TIMELINE + 20; i++) frames.push({ t: 2000 + i, data: initReq(SPI_I, 19) });
    const d = diagnoseFrames(frames);
    expect(d.ikeSas).toHaveLength(MAX_IKE_SAS);
    expect(d.ikeSasUntracked).toBe(50 + MAX_TIMELINE + 20);
    const dec = new Decoder();
    const dia = new Diagnoser();
    frames.slice(-(MAX_TIMELINE + 20)).forEach((f, i) => dia.observe(dec.decode({ no: i + 1, iface: 0, linkType: 101, tsSec: 2000 + i, tsNsec: 0, caplen: f.data.length, len: f.data.length, data: f.data })));
    const r = dia.report();
    expect(r.ikeSas[0].timeline).toHaveLength(MAX_TIMELINE);
    expect(r.ikeSas[0].timelineOmitted).toBe(20);
  });

  test("mutated real packets: observe and report never throw, renderers run", async () => {
    const files = ["made/d_ikev2_rekey/d_ikev2_rekey.pcap", "made/f6_ikev2_ipfrag_dropped/f6_ikev2_ipfrag_dropped.pcap", "made/c_ikev2_cert_frag/c_ikev2_cert_frag.pcap"];
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    for (const f of files) {
      const reader = await openCapture(FIX + f);
      const recs = [];
      for await (const b of reader.batches()) for (const r of b) recs.push({ ...r, data: Uint8Array.prototype.slice.call(r.data) });
      for (let round = 0; round < 20; round++) {
        const dec = new Decoder();
        const dia = new Diagnoser();
        for (const r of recs) {
          const data = r.data.slice();
          const flips = 1 + Math.floor(rnd() * 4);
          for (let k = 0; k < flips; k++) data[Math.floor(rnd() * data.length)] = Math.floor(rnd() * 256);
          const cut = rnd() < 0.2 ? Math.floor(rnd() * data.length) : data.length;
          dia.observe(dec.decode({ ...r, data: data.subarray(0, cut), caplen: cut }));
        }
        const rep = dia.report();
        expect(rep.internalErrors.count).toBe(0);
        expect(() => renderDiagnosisText(rep)).not.toThrow();
        expect(JSON.parse(renderDiagnosisJson(rep)).packets).toBe(recs.length);
      }
    }
  });
});

test("no IKE or ESP at all", () => {
  const d = diagnoseFrames([]);
  expect(problems(d)).toEqual([]);
  expect(d.verdict).toBe("no IKE or ESP traffic in this capture");
});

test("IKEv1: NO-PROPOSAL-CHOSEN in an Informational after Main Mode 1: phase 1 mismatch, the offer from the real first message", async () => {
  // Main Mode message 1 of the real capture e1, then a cleartext Informational with notify 14.
  const reader = await openCapture(`${FIX}strongswan/e1_ikev1_main_psk/e1_ikev1_main_psk.pcap`);
  let first: Uint8Array | undefined;
  for await (const b of reader.batches()) for (const r of b) if (r.no === 3) first = Uint8Array.prototype.slice.call(r.data);
  const p = new Decoder().decode({ no: 3, iface: 0, linkType: 1, tsSec: 0, tsNsec: 0, caplen: first!.length, len: first!.length, data: first! });
  const udp = p.layers.find((l) => l.layer === "udp") as unknown as { payloadOffset: number; payloadEnd: number };
  const mm1 = first!.slice(udp.payloadOffset, udp.payloadEnd);
  const info = new Uint8Array(28 + 12);
  info.set(mm1.subarray(0, 8), 0); // initiator cookie
  info[16] = 11; // next payload: Notification
  info[17] = 0x10; // version 1.0
  info[18] = 5; // Informational
  info.set([0x12, 0x34, 0x56, 0x78], 20);
  info[27] = info.length;
  info.set([0, 0, 0, 12, 0, 0, 0, 1, 1, 0, 0, 14], 28); // DOI 1, ISAKMP, no SPI, NO-PROPOSAL-CHOSEN
  const d = diagnoseFrames([
    { t: 10, data: udpFrame(A, B, 500, 500, mm1) },
    { t: 10.01, data: udpFrame(B, A, 500, 500, info) },
  ]);
  const [f] = withCode(d, "NO_PROPOSAL_CHOSEN_IKE");
  expect(f.severity).toBe("error");
  expect(f.packets).toEqual([1, 2]);
  const offered = f.data!.offered as { protocol: string; text: string }[];
  expect(offered.length).toBeGreaterThan(0);
  expect(offered[0].protocol).toBe("ISAKMP");
  expect(offered[0].text).toContain("Encryption-Algorithm");
  expect(d.ikeSas[0].version).toBe(1);
});

test("IKEv1 Main Mode message 5 retransmitted without answer (real e1 messages): NO_RESPONSE, most likely a PSK mismatch", async () => {
  const reader = await openCapture(`${FIX}strongswan/e1_ikev1_main_psk/e1_ikev1_main_psk.pcap`);
  const recs = [];
  for await (const b of reader.batches()) for (const r of b) if (r.no >= 3 && r.no <= 7) recs.push({ ...r, data: Uint8Array.prototype.slice.call(r.data) as Uint8Array });
  const mm5 = recs[recs.length - 1];
  recs.push({ ...mm5, no: 8, tsSec: mm5.tsSec + 2 }, { ...mm5, no: 9, tsSec: mm5.tsSec + 5 });
  const dec = new Decoder();
  const dia = new Diagnoser();
  for (const r of recs) dia.observe(dec.decode(r));
  const d = dia.report();
  const [f] = withCode(d, "NO_RESPONSE");
  expect(f.severity).toBe("error");
  expect(f.data).toMatchObject({ exchange: "Identity Protection (Main Mode)", requests: [7, 8, 9] });
  expect(f.explanation.join(" ")).toContain("pre-shared keys differ");
  expect(problems(d).map((x) => `${x.code}: ${x.summary}`)).toEqual([`NO_RESPONSE: ${f.summary}`]);
});

test("NO_PROPOSAL_CHOSEN side by side: what the same responder accepted in a later negotiation", () => {
  const cbc: PayloadSpec = { type: "sa", proposals: [{ protocol: 1, spi: new Uint8Array(0), transforms: [{ type: 1, id: 12, keyLength: 128 }, { type: 3, id: 2 }, { type: 2, id: 2 }, { type: 4, id: 2 }] }] };
  const second = new Uint8Array([0xbb, 2, 3, 4, 5, 6, 7, 8]);
  const d = diagnoseFrames([
    { t: 100, data: ikeFrame(A, B, hdr(SPI_I, ZERO_SPI, 34, true, false, 0), [cbc, ke(2), nonce]) },
    { t: 100.01, data: ikeFrame(B, A, hdr(SPI_I, ZERO_SPI, 34, false, true, 0), [{ type: "notify", notifyType: 14 }]) },
    { t: 160, data: initReq(second, 19) },
    { t: 160.01, data: initResp(second, 19) },
  ]);
  const [f] = withCode(d, "NO_PROPOSAL_CHOSEN_IKE");
  const offered = f.data!.offered as { text: string }[];
  const accepted = f.data!.accepted as { text: string }[];
  expect(offered.map((p) => p.text)).toEqual(["IKE #1: ENCR AES_CBC 128-bit; INTEG HMAC_SHA1_96; PRF HMAC_SHA1; KE 1024-bit MODP Group"]);
  expect(accepted.map((p) => p.text)).toEqual(["IKE #1: ENCR AES_GCM_16 256-bit; PRF HMAC_SHA2_256; KE Curve25519, 256-bit random ECP group"]);
  expect(f.data!.acceptedNo).toBe(4);
  expect(f.packets).toEqual([1, 2, 4]);
});

test("NAT-keepalives without IKE_SA_INIT in the capture: UDP-encapsulated ESP idle for 40 s", () => {
  const d = diagnoseFrames([
    { t: 10, data: espFrame(A, B, 0x66666666, 1) },
    { t: 10.01, data: espFrame(B, A, 0x77777777, 1) },
    { t: 50, data: espFrame(A, B, 0x66666666, 2) },
    { t: 50.01, data: espFrame(B, A, 0x77777777, 2) },
  ]);
  const f = withCode(d, "NAT_KEEPALIVE_MISSING");
  expect(f.map((x) => x.data!.side)).toEqual([A, B]);
  expect(f[0].data!.natConfirmed).toBe(false);
  expect(f[0].summary).toContain("UDP-encapsulated ESP");
});

test("real captures with packets dropped, duplicated and swapped (with and without keys): report never fails", async () => {
  const cases: [string, string[]][] = [
    ["made/d_ikev2_rekey/d_ikev2_rekey.pcap", ["ikev2_decryption_table", "esp_sa"]],
    ["made/e2_ikev1_aggressive_psk/e2_ikev1_aggressive_psk.pcap", ["ikev1_decryption_table", "esp_sa"]],
    ["made/c_ikev2_cert_frag/c_ikev2_cert_frag.pcap", ["ikev2_decryption_table"]],
    ["made/f6_ikev2_ipfrag_dropped/f6_ikev2_ipfrag_dropped.pcap", []],
    ["strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap", ["ikev2_decryption_table"]],
    ["strongswan/e1_ikev1_main_psk/e1_ikev1_main_psk.pcap", []],
  ];
  let seed = 777;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
  for (const [f, keys] of cases) {
    const dir = FIX + f.slice(0, f.lastIndexOf("/") + 1);
    const reader = await openCapture(FIX + f);
    const recs = [];
    for await (const b of reader.batches()) for (const r of b) recs.push({ ...r, data: Uint8Array.prototype.slice.call(r.data) as Uint8Array });
    for (let round = 0; round < 30; round++) {
      const list = [];
      for (const r of recs) {
        const x = rnd();
        if (x < 0.15) continue;
        list.push(r);
        if (x > 0.93) list.push(r);
      }
      for (let i = 0; i + 1 < list.length; i++) if (rnd() < 0.1) [list[i], list[i + 1]] = [list[i + 1], list[i]];
      const dec = new Decoder(keys.length && round % 2 ? { keys: loadKeyStore(keys.map((k) => dir + k)) } : {});
      const dia = new Diagnoser();
      list.forEach((r, i) => dia.observe(dec.decode({ ...r, no: i + 1, data: r.data.slice() })));
      const rep = dia.report();
      expect(rep.internalErrors, `${f} round ${round}`).toEqual({ count: 0, packets: [] });
      renderDiagnosisText(rep);
    }
  }
});

test("IKE_SA_INIT answered on 500, IKE_AUTH on 4500 never answered: NO_RESPONSE pointing at UDP 4500", () => {
  const sk: PayloadSpec = { type: "raw", payloadType: 46, body: new Uint8Array(200).fill(0x42) };
  const auth = (t: number) => ({ t, data: ikeFrame(A, B, hdr(SPI_I, SPI_R, 35, true, false, 1), [sk], true) });
  const d = diagnoseFrames([{ t: 50, data: initReq(SPI_I, 19) }, { t: 50.01, data: initResp(SPI_I, 19) }, auth(50.02), auth(52.02), auth(55.6)]);
  const [f] = withCode(d, "NO_RESPONSE");
  expect(f.severity).toBe("error");
  expect(f.data).toMatchObject({ exchange: "IKE_AUTH", requests: [3, 4, 5], port: 4500 });
  expect(f.explanation[0]).toContain("UDP 4500 is likely blocked");
  expect(d.ikeSas[0].state).toBe("no-response");
});
