/**
 * Slips found while using `vpnkit diagnose` / `decode --stats` (issue #13, point 5), each on
 * real captures: strongSwan fixtures, cut down or combined where the slip needs it.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { DecodedPacket, LayerBase } from "../../lib/core/layer.ts";
import { toHex } from "../../lib/core/bytes.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import { Diagnoser } from "../../lib/diagnose/diagnoser.ts";
import { renderDiagnosisText } from "../../lib/diagnose/render.ts";
import { parseCharon } from "../../lib/keys/charon.ts";
import { loadKeyStore } from "../../lib/keys/load.ts";
import type { ParsedKeys } from "../../lib/keys/types.ts";
import { decodeFile, FIX } from "../decode/helpers.ts";
import { withCode } from "./helpers.ts";

const M = `${FIX}made/`;
const src = (p: DecodedPacket) => (p.layers.find((l) => l.layer === "ipv4") as (LayerBase & { src: string }) | undefined)?.src;
const diagnose = (ps: DecodedPacket[], keysGiven = 0) => {
  const d = new Diagnoser({ keysGiven });
  for (const p of ps) d.observe(p);
  return d.report();
};

describe("decode --stats: RFC 7383 fragments are not retransmissions", () => {
  const CAP = `${M}c_ikev2_cert_frag/c_ikev2_cert_frag.pcap`;
  test("c_ikev2_cert_frag: IKE_AUTH request in 10 SKF fragments, response in 3: no retransmit, 6 messages", async () => {
    for (const keys of [undefined, loadKeyStore([`${M}c_ikev2_cert_frag/ikev2_decryption_table`])]) {
      const { decoder } = await decodeFile(CAP, keys ? { keys } : {});
      const [sa] = decoder.stats().ikeSas;
      const auth = sa.exchanges.find((e) => e.exchange === "IKE_AUTH")!;
      expect(auth.retransmits).toBe(0);
      expect(auth.requestNo).toBe(5);
      expect(auth.requestFragments).toBe(10);
      expect(auth.responseNo).toBe(15);
      expect(auth.responseFragments).toBe(3);
      expect(sa.exchanges.every((e) => e.retransmits === 0)).toBe(true);
      expect(sa.messages).toBe(6); // IKE_SA_INIT, IKE_AUTH, INFORMATIONAL: request + response each
      expect(sa.fragments).toBe(13);
    }
  });

  test("a real resend of the whole fragmented request (the capture's 10 fragments fed again 2 s later) counts once", async () => {
    const { packets } = await decodeFile(CAP);
    const dec = new Decoder();
    const recs: { no: number; t: number; data: Uint8Array }[] = [];
    const { openCapture } = await import("../../lib/capture/index.ts");
    const reader = await openCapture(CAP);
    for await (const b of reader.batches()) for (const r of b) recs.push({ no: r.no, t: r.tsSec + r.tsNsec / 1e9, data: Uint8Array.prototype.slice.call(r.data) });
    // packets 1..14 (up to the last request fragment), then fragments 5..14 again, then the rest
    const frags = recs.filter((r) => r.no >= 5 && r.no <= 14);
    expect(frags).toHaveLength(packets.slice(4, 14).length);
    const order = [...recs.filter((r) => r.no <= 14), ...frags.map((r) => ({ ...r, t: r.t + 2 })), ...recs.filter((r) => r.no > 14).map((r) => ({ ...r, t: r.t + 2 }))];
    order.forEach((r, i) => {
      const sec = Math.floor(r.t);
      dec.decode({ no: i + 1, iface: 0, linkType: 1, tsSec: sec, tsNsec: Math.round((r.t - sec) * 1e9), caplen: r.data.length, len: r.data.length, data: r.data });
    });
    const auth = dec.stats().ikeSas[0].exchanges.find((e) => e.exchange === "IKE_AUTH")!;
    expect(auth.retransmits).toBe(1);
    expect(auth.requestFragments).toBe(20);
    expect(dec.stats().ikeSas[0].messages).toBe(7);
  });
});

describe("diagnose --keys where nothing could be decrypted", () => {
  test("f6_ikev2_ipfrag_dropped with its keys: says keys were given, not 'no keys given'", async () => {
    const dir = `${M}f6_ikev2_ipfrag_dropped/`;
    const keys = loadKeyStore([`${dir}ikev2_decryption_table`]);
    const { packets } = await decodeFile(`${dir}f6_ikev2_ipfrag_dropped.pcap`, { keys });
    const d = diagnose(packets, keys.size);
    expect(d.keysUsed).toBe(false);
    expect(d.keysGiven).toBe(1);
    const text = renderDiagnosisText(d).join("\n");
    expect(text).not.toContain("no keys given");
    expect(text.split("\n")[0]).toContain("keys given (1 SA), but nothing in this capture was decrypted with them");
    expect(withCode(d, "IKE_FRAGMENT_LOSS")).toHaveLength(1);
    // and without keys it still says none were given
    const plain = renderDiagnosisText(diagnose((await decodeFile(`${dir}f6_ikev2_ipfrag_dropped.pcap`)).packets)).join("\n");
    expect(plain.split("\n")[0]).toContain("no keys given");
  });
});

describe("IKE_SA_INIT then IKE_AUTH, cut from a real capture", () => {
  const F1 = `${FIX}strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap`;
  for (const [second, shift] of [[5, 0], [5, 5], [6, 5]]) {
    test(`f1 packets 3 (IKE_SA_INIT request) and ${second} (IKE_AUTH ${second === 5 ? "request" : "response"}${shift ? `, ${shift} s later` : ""}): no IKE_SA_INIT failure, no retransmission`, async () => {
      const { packets } = await decodeFile(F1);
      const pair = packets.filter((p) => p.no === 3 || p.no === second).map((p) => (p.no === second ? { ...p, tsSec: p.tsSec + shift } : p));
      expect(pair.map((p) => p.no)).toEqual([3, second]);
      const d = diagnose(pair);
      expect(d.ikeSas).toHaveLength(1);
      const tl = d.ikeSas[0].timeline;
      expect(tl.map((t) => t.exchange)).toEqual(["IKE_SA_INIT", "IKE_AUTH"]);
      expect(tl.every((t) => t.retransmission === undefined)).toBe(true);
      expect(withCode(d, "NO_RESPONSE").filter((f) => f.severity !== "info")).toEqual([]);
      // the pair with the response: the encrypted IKE_AUTH answer (f1's AUTHENTICATION_FAILED) needs keys; nothing else
      expect(d.findings.filter((f) => f.severity !== "info").map((f) => f.code)).toEqual(second === 6 ? ["ENCRYPTED_NEED_KEYS"] : []);
      const init = d.findings.find((f) => f.code === "NO_RESPONSE" && (f.data as { exchange: string }).exchange === "IKE_SA_INIT");
      expect(init?.summary).toContain("is not in the capture");
      const text = renderDiagnosisText(d).join("\n");
      expect(text).not.toMatch(/IKE_SA_INIT: sent (twice|once)/);
    });
  }
});

describe("a wrong ESP key on a one-way capture", () => {
  test("f7_esp_one_way cut to 192.0.2.1's packets, one key byte changed: ESP_ICV_FAIL 'wrong key' leads", async () => {
    const dir = `${M}f7_esp_one_way/`;
    const tmp = mkdtempSync(join(tmpdir(), "vkd-keys-"));
    try {
      const good = readFileSync(`${dir}esp_sa`, "utf8");
      const bad = good.replace("0xba7d78a3766e", "0xba7d78a3766f");
      expect(bad).not.toBe(good);
      writeFileSync(join(tmp, "esp_sa"), bad);
      const keys = loadKeyStore([join(tmp, "esp_sa")]);
      const { packets } = await decodeFile(`${dir}f7_esp_one_way.pcap`, { keys });
      const oneWay = packets.filter((p) => src(p) === "192.0.2.1");
      expect(oneWay.length).toBeGreaterThan(0);
      expect(oneWay.length).toBeLessThan(packets.length);
      const d = diagnose(oneWay, keys.size);
      expect(d.findings[0].code).toBe("ESP_ICV_FAIL");
      expect(d.findings[0].summary).toContain("wrong key for ESP SA 76a8a6a2");
      expect(d.verdict.startsWith("ESP_ICV_FAIL: wrong key")).toBe(true);
      expect(renderDiagnosisText(d)[0]).toContain("keys given, but nothing decrypted with them passed its integrity check: wrong keys");
      // the one-way finding stays (the traffic is one-way), and says the key is wrong
      const [ow] = withCode(d, "ESP_ONE_WAY");
      expect(ow.explanation.join(" ")).toContain("that key is wrong");
      // with the right key: one-way only
      const right = loadKeyStore([`${dir}esp_sa`]);
      const d2 = diagnose((await decodeFile(`${dir}f7_esp_one_way.pcap`, { keys: right })).packets.filter((p) => src(p) === "192.0.2.1"), right.size);
      expect(withCode(d2, "ESP_ICV_FAIL")).toEqual([]);
      expect(withCode(d2, "ESP_ONE_WAY")).toHaveLength(1);
      expect(withCode(d2, "ESP_ONE_WAY")[0].explanation.join(" ")).not.toContain("that key is wrong");
      // only one side's packets: the answers to IKE_SA_INIT and IKE_AUTH are missing, but the
      // responder SPI in IKE_AUTH and the ESP that follows prove they were sent
      for (const ex of ["IKE_SA_INIT", "IKE_AUTH"]) {
        const f = withCode(d2, "NO_RESPONSE").find((x) => (x.data as { exchange: string }).exchange === ex);
        expect(`${ex} ${f?.severity} ${f?.summary}`).toMatch(new RegExp(`^${ex} info the response to ${ex} mid \\d \\(packet \\d+\\) is not in the capture, but`));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("charon logs with several IKE SAs of different suites: keys and algorithms bound per SA", () => {
  const sig = (k: ParsedKeys) => [
    ...k.esp.map((e) => `esp ${e.spi} ${e.params.encr} ${toHex(e.params.encKey)} ${e.params.integ} ${e.params.authKey ? toHex(e.params.authKey) : ""}`),
    ...k.ikev2.map((e) => `v2 ${e.ispi}/${e.rspi} ${e.initiator.encr} ${e.initiator.integ} ${toHex(e.initiator.encKey)} ${toHex(e.responder.encKey)} ${e.initiator.integKey ? toHex(e.initiator.integKey) : ""}`),
    ...k.ikev1.map((e) => `v1 ${e.icookie} ${toHex(e.encKey)}`),
  ].sort();

  test("m_two_suites (k_esp_3des_sha1 + d_ikev2_rekey responder logs, captures merged): every IKE message and ESP packet verifies", async () => {
    const dir = `${M}m_two_suites/`;
    const keys = loadKeyStore([`${dir}charon-vf2.log.gz`]);
    const { packets } = await decodeFile(`${dir}m_two_suites.pcap`, { keys });
    const d = diagnose(packets, keys.size);
    expect(d.ikeSas).toHaveLength(3); // k's IKE SA, d's IKE SA and its rekeyed successor
    for (const sa of d.ikeSas) for (const t of sa.timeline) expect(`${t.no} ${t.protection}`).toBe(`${t.no} ${t.exchange === "IKE_SA_INIT" ? "cleartext" : "decrypted"}`);
    expect(d.espSas).toHaveLength(10);
    for (const e of d.espSas) {
      expect(e.icv?.bad).toBe(0);
      expect(e.icv?.good).toBe(e.packets);
    }
    expect(d.findings.filter((f) => f.severity === "error")).toEqual([]);
  });

  test("every pair of real responder logs, concatenated: the same keys as each log alone", () => {
    const logs: [string, string][] = [];
    for (const c of readdirSync(M).sort()) {
      const p = `${M}${c}/charon-vf2.log.gz`;
      if (existsSync(p) && c !== "m_two_suites") logs.push([c, gunzipSync(readFileSync(p)).toString("utf8")]);
    }
    expect(logs.length).toBeGreaterThanOrEqual(15);
    const alone = new Map(logs.map(([n, t]) => [n, sig(parseCharon(t, n))]));
    let pairs = 0;
    for (const [a, ta] of logs) {
      for (const [b, tb] of logs) {
        if (a === b) continue;
        const got = sig(parseCharon(ta + tb, `${a}+${b}`));
        expect(`${a}+${b}: ${got.join("\n")}`).toBe(`${a}+${b}: ${[...new Set([...alone.get(a)!, ...alone.get(b)!])].sort().join("\n")}`);
        pairs++;
      }
    }
    expect(pairs).toBe(logs.length * (logs.length - 1));
  });
});
