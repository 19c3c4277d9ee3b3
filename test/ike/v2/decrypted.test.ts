/**
 * decodeIkev2Payloads on real decrypted SK/SKF content: every encrypted
 * IKEv2 message of the strongSwan captures is decrypted here with the keys
 * stored next to the capture (ikev2_decryption_table, Wireshark's format) —
 * AES-GCM (tag verified) or AES-CBC + HMAC-SHA2 (ICV verified) — SKF
 * fragments are reassembled (RFC 7383), and the inner payloads are compared
 * with tshark's decrypted -V tree: IDs, AUTH (PSK and RFC 7427 Digital
 * Signature AlgorithmIdentifier), CERT, CERTREQ, child SA proposals, TSi/TSr,
 * Notify (incl. REKEY_SA SPI, ADDITIONAL_IP4_ADDRESS), Delete, KE, Nonce.
 * Decryption lives in this test only; the library decodes plaintext.
 */
import { describe, expect, test } from "bun:test";
import { createDecipheriv, createHmac, type DecipherGCM } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { concat, fromHex, toHex } from "../../../lib/core/bytes.ts";
import { decodeIkev2, decodeIkev2Payloads, type Ikev2Message } from "../../../lib/ike/v2/message.ts";
import { ikev2Summary } from "../../../lib/ike/v2/summary.ts";
import { validateIkev2Payloads } from "../../../lib/ike/v2/validate.ts";
import { gunzipSync } from "node:zlib";
import { existsSync } from "node:fs";
import { bytesOf, kids, loadGolden, parseTsharkV, ROOT, type TNode } from "./helpers.ts";
import { comparePayload, isakmpNode } from "./tshark-compare.ts";

const CASES: [string, string][] = [
  ["strongswan_a_psk_gcm_natt", "fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt"],
  ["strongswan_b_psk_cbc_sha256", "fixtures/strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256"],
  ["strongswan_f1_auth_failed", "fixtures/strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed"],
  ["made_c_cert_frag", "fixtures/made/c_ikev2_cert_frag/c_ikev2_cert_frag"],
  ["made_d_rekey", "fixtures/made/d_ikev2_rekey/d_ikev2_rekey"],
  ["made_h_ipv6_outer", "fixtures/made/h_ikev2_ipv6_outer/h_ikev2_ipv6_outer"],
  ["made_i_ipfrag", "fixtures/made/i_ikev2_ipfrag/i_ikev2_ipfrag"],
];

interface Keys { ei: Uint8Array; er: Uint8Array; ai: Uint8Array; ar: Uint8Array; encr: string; integ: string }

function loadKeys(prefix: string): Map<string, Keys> {
  const dir = prefix.slice(0, prefix.lastIndexOf("/"));
  const m = new Map<string, Keys>();
  for (const line of readFileSync(`${ROOT}${dir}/ikev2_decryption_table`, "utf8").split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const f = line.match(/("[^"]*"|[^,]*)(,|$)/g)!.map((x) => x.replace(/,$/, "").replace(/"/g, ""));
    m.set(f[0] + f[1], { ei: fromHex(f[2])!, er: fromHex(f[3])!, encr: f[4], ai: fromHex(f[5])!, ar: fromHex(f[6])!, integ: f[7] });
  }
  return m;
}

/** Decrypt the body of the SK/SKF payload `p` of `msg` (bytes `b`); returns plaintext without padding. */
function decrypt(b: Uint8Array, msg: Ikev2Message, keys: Keys, enc: Uint8Array, payloadOff: number, hdrLen: number): Uint8Array {
  const init = msg.flags.initiator;
  const ek = init ? keys.ei : keys.er;
  const ak = init ? keys.ai : keys.ar;
  let pt: Uint8Array;
  if (keys.encr.startsWith("AES-GCM")) {
    const key = ek.subarray(0, ek.length - 4);
    const nonce = concat(ek.subarray(ek.length - 4), enc.subarray(0, 8));
    const tag = enc.subarray(enc.length - 16);
    const d = createDecipheriv(`aes-${key.length * 8}-gcm`, key, nonce) as DecipherGCM;
    d.setAAD(b.subarray(0, payloadOff + hdrLen));
    d.setAuthTag(tag);
    pt = new Uint8Array(Buffer.concat([d.update(enc.subarray(8, enc.length - 16)), d.final()]));
  } else {
    const icvLen = keys.integ.startsWith("HMAC_SHA2_384_192") ? 24 : 16;
    const hash = keys.integ.startsWith("HMAC_SHA2_384_192") ? "sha384" : "sha256";
    const mac = createHmac(hash, ak).update(b.subarray(0, b.length - icvLen)).digest().subarray(0, icvLen);
    expect(toHex(mac)).toBe(toHex(b.subarray(b.length - icvLen)));
    const d = createDecipheriv(`aes-${ek.length * 8}-cbc`, ek, enc.subarray(0, 16)).setAutoPadding(false);
    pt = new Uint8Array(Buffer.concat([d.update(enc.subarray(16, enc.length - icvLen)), d.final()]));
  }
  return pt.subarray(0, pt.length - 1 - pt[pt.length - 1]);
}

/** tshark's decoded inner payload nodes for an SK (under Decrypted/Contained Data) or reassembled SKF. */
function innerNodes(wsPayload: TNode): TNode[] {
  const dec = wsPayload.children.find((c) => c.text.startsWith("Decrypted Data"));
  const cont = dec?.children.find((c) => c.text.startsWith("Contained Data"));
  const inCont = cont ? kids(cont, "Payload: ") : [];
  return inCont.length ? inCont : kids(wsPayload, "Payload: ");
}

describe("decrypted SK/SKF content decodes like tshark's decrypted tree", () => {
  let messages = 0;
  let inner = 0;
  let logged = 0;
  const kinds = new Set<string>();
  for (const [golden, prefix] of CASES) {
    test(golden, () => {
      const keys = loadKeys(prefix);
      const frames = parseTsharkV(readFileSync(`${ROOT}${prefix}.tshark.txt`, "utf8"));
      const frags = new Map<string, Uint8Array[]>();
      // charon's own one-line logs of the decrypted messages (fixtures/made only).
      const dir = prefix.slice(0, prefix.lastIndexOf("/"));
      const logs = new Set<string>();
      for (const f of ["charon-vf1.log.gz", "charon-vf2.log.gz"]) {
        if (!existsSync(`${ROOT}${dir}/${f}`)) continue;
        const text = gunzipSync(readFileSync(`${ROOT}${dir}/${f}`)).toString("utf8");
        for (const x of text.matchAll(/(?:generating|parsed) (\S+ (?:request|response) \d+ \[ .*\])/g)) logs.add(x[1]);
      }
      for (const m of loadGolden(golden).messages) {
        const b = bytesOf(m);
        const an: Anomaly[] = [];
        const msg = decodeIkev2(b, 0, b.length, an)!;
        const p = msg.payloads[msg.payloads.length - 1];
        if (p.kind !== "sk" && p.kind !== "skf") continue;
        const k = keys.get(toHex(msg.ispi) + toHex(msg.rspi));
        expect(k, `${golden} frame ${m.frame}: keys`).toBeDefined();
        const pt = decrypt(b, msg, k!, p.encrypted, p.offset, p.kind === "sk" ? 4 : 8);
        let plain = pt;
        let first = p.nextPayload;
        if (p.kind === "skf") {
          const id = `${toHex(msg.ispi)}/${msg.messageId}/${msg.flags.response}`;
          const list = frags.get(id) ?? [];
          list[p.fragmentNumber - 1] = pt;
          frags.set(id, list);
          if (p.fragmentNumber === 1) frags.set(id + "/first", [new Uint8Array([p.nextPayload])]);
          if (p.fragmentNumber !== p.totalFragments) continue;
          expect(list.filter(Boolean).length).toBe(p.totalFragments);
          plain = concat(...list);
          first = frags.get(id + "/first")![0][0];
        }
        const ian: Anomaly[] = [];
        const pls = decodeIkev2Payloads(plain, 0, plain.length, first, ian, "ikev2.sk");
        const ctx = `${golden} frame ${m.frame} (decrypted)`;
        expect(ian, ctx).toEqual([]);
        expect(validateIkev2Payloads(pls), ctx).toEqual([]);
        const wsP = kids(isakmpNode(frames.get(m.frame)!)!, "Payload: ");
        const wsInner = innerNodes(wsP[wsP.length - 1]);
        expect(pls.length, ctx).toBe(wsInner.length);
        pls.forEach((pl, i) => {
          comparePayload(wsInner[i], pl, `${ctx} inner ${i} (${pl.typeName})`);
          kinds.add(pl.kind);
          inner++;
        });
        if (logs.size) {
          const s = ikev2Summary(msg, { style: "strongswan", decrypted: pls });
          expect(logs.has(s), `${ctx}: ${s} not in charon's log`).toBe(true);
          logged++;
        }
        messages++;
      }
    });
  }
  test("coverage", () => {
    expect(messages).toBeGreaterThanOrEqual(40);
    expect(inner).toBeGreaterThan(150);
    expect(logged).toBeGreaterThanOrEqual(25);
    for (const k of ["id", "auth", "sa", "ts", "notify", "delete", "cert", "certreq", "ke", "nonce"]) expect(kinds.has(k), k).toBe(true);
  });
});
