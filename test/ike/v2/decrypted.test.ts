/**
 * decodeIkev2Payloads on real decrypted SK/SKF content: every encrypted
 * IKEv2 message of the strongSwan captures is decrypted here with the keys
 * stored next to the capture (ikev2_decryption_table, Wireshark's format) —
 * AES-GCM (tag verified) or AES-CBC + HMAC-SHA2 (ICV verified) — SKF
 * fragments are reassembled (RFC 7383), and the inner payloads are compared
 * with tshark's decrypted -V tree: IDs, AUTH (PSK and RFC 7427 Digital
 * Signature AlgorithmIdentifier), CERT, CERTREQ, child SA proposals, TSi/TSr,
 * Notify (incl. REKEY_SA SPI, ADDITIONAL_IP4_ADDRESS), Delete, KE, Nonce.
 * Decryption lives in the tests only (decrypt.ts); the library decodes plaintext.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { decodeIkev2Payloads } from "../../../lib/ike/v2/message.ts";
import { ikev2Summary } from "../../../lib/ike/v2/summary.ts";
import { validateIkev2Payloads } from "../../../lib/ike/v2/validate.ts";
import { CASES, decryptGolden } from "./decrypt.ts";
import { kids, parseTsharkV, ROOT, type TNode } from "./helpers.ts";
import { comparePayload, isakmpNode } from "./tshark-compare.ts";

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
      const frames = parseTsharkV(readFileSync(`${ROOT}${prefix}.tshark.txt`, "utf8"));
      // charon's own one-line logs of the decrypted messages (fixtures/made only).
      const dir = prefix.slice(0, prefix.lastIndexOf("/"));
      const logs = new Set<string>();
      for (const f of ["charon-vf1.log.gz", "charon-vf2.log.gz"]) {
        if (!existsSync(`${ROOT}${dir}/${f}`)) continue;
        const text = gunzipSync(readFileSync(`${ROOT}${dir}/${f}`)).toString("utf8");
        for (const x of text.matchAll(/(?:generating|parsed) (\S+ (?:request|response) \d+ \[ .*\])/g)) logs.add(x[1]);
      }
      for (const { frame, msg, plain, firstType: first } of decryptGolden(golden, prefix)) {
        const ian: Anomaly[] = [];
        const pls = decodeIkev2Payloads(plain, 0, plain.length, first, ian, "ikev2.sk");
        const ctx = `${golden} frame ${frame} (decrypted)`;
        expect(ian, ctx).toEqual([]);
        expect(validateIkev2Payloads(pls), ctx).toEqual([]);
        const wsP = kids(isakmpNode(frames.get(frame)!)!, "Payload: ");
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
