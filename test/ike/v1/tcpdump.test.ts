/**
 * Comparison with tcpdump's own expected outputs for its ISAKMP regression
 * cases (fixtures/tcpdump/cases.tsv): isakmp5-v (ISAKMP_sa_setup.pcap, -v),
 * isakmp4 (isakmp4500.pcap, cleartext parts and encryption flags),
 * isakmp1/2/3 (delete-segfault, pointer-loop, identification-segfault).
 *
 * tcpdump's vocabulary (e.g. `ident`, `oakley-quick`, `type=enc value=aes`) is
 * translated to numbers here, in the test; the library is not told the answers.
 */
import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { toHex } from "../../../lib/core/bytes.ts";
import { decodeIsakmp, type IsakmpMessage } from "../../../lib/ike/v1/message.ts";
import { IsakmpRoles } from "../../../lib/ike/v1/roles.ts";
import { ikeVersion } from "../../../lib/ike/version.ts";
import { fixtureText, golden } from "./helpers.ts";

/** tcpdump exchange words → exchange type. */
const EXCH: Record<string, number> = { base: 1, ident: 2, auth: 3, agg: 4, inf: 5, "oakley-quick": 32, "oakley-newgroup": 33 };
/** tcpdump payload words → payload type. */
const PAY: Record<string, number> = { sa: 1, p: 2, t: 3, ke: 4, id: 5, cert: 6, cr: 7, hash: 8, sig: 9, nonce: 10, n: 11, d: 12, vid: 13 };
/** tcpdump IKE attribute words → [class, value words]. */
const ATTR: Record<string, [number, Record<string, number>]> = {
  enc: [1, { des: 1, idea: 2, blowfish: 3, rc5: 4, "3des": 5, cast: 6, aes: 7 }],
  hash: [2, { md5: 1, sha1: 2, tiger: 3, "sha2-256": 4, "sha2-384": 5, "sha2-512": 6 }],
  auth: [3, { preshared: 1, dss: 2, "rsa sig": 3, "rsa enc": 4, "rsa enc revised": 5 }],
  "group desc": [4, { modp768: 1, modp1024: 2, "EC2N 2^155": 3, "EC2N 2^185": 4, modp1536: 5 }],
  lifetype: [11, { sec: 1, kb: 2 }],
  lifeduration: [12, {}],
  keylen: [14, {}],
};

interface TcpdumpFrame {
  frame: number;
  exchange?: number;
  mid?: string;
  encrypted: boolean;
  /** tcpdump's I/R/? and the sender IP address (without port: NAT-T moves 500 → 4500). */
  role?: string;
  sender?: string;
  /** Top-level payload types (for [E]: the first, from "[encrypted x]"). */
  payloads: number[];
  lines: string[];
}

function parseOut(rel: string): Map<number, TcpdumpFrame> {
  const out = new Map<number, TcpdumpFrame>();
  let cur: TcpdumpFrame | null = null;
  for (const line of fixtureText(rel).split("\n")) {
    const fm = /^\s{0,4}(\d+)\s+\d{4}-\d\d-\d\d /.exec(line);
    if (fm) {
      cur = { frame: Number(fm[1]), encrypted: false, payloads: [], lines: [] };
      out.set(cur.frame, cur);
    }
    if (!cur) continue;
    cur.lines.push(line);
    const sm = /(\d+\.\d+\.\d+\.\d+)\.\d+ > /.exec(line);
    if (sm && !cur.sender) cur.sender = sm[1];
    const rm = /: phase \S+(?: \S+)? ([IR?]) /.exec(line);
    if (rm) cur.role = rm[1];
    const im = /isakmp(?: [\d.]+ msgid ([0-9a-f]{8}))?(?: cookie \S+)?: phase \S+(?: \S+)? (?:[IR?] )?([\w-]+|#\d+)(\[E\])?/.exec(line);
    if (im) {
      cur.mid = im[1];
      cur.exchange = im[2].startsWith("#") ? Number(im[2].slice(1)) : EXCH[im[2]];
      cur.encrypted = im[3] !== undefined;
      const em = /\[encrypted (\w+)\]/.exec(line);
      if (em) cur.payloads.push(PAY[em[1]]);
    }
    const pm = /^    \((\w+)[:)]/.exec(line);
    if (pm) cur.payloads.push(pm[1].startsWith("pay") ? Number(pm[1].slice(3)) : PAY[pm[1]]);
  }
  return out;
}

function decodeAll(name: string): Map<number, { m: IsakmpMessage | null; an: Anomaly[] }> {
  const r = new Map<number, { m: IsakmpMessage | null; an: Anomaly[] }>();
  for (const p of golden(name)) {
    const an: Anomaly[] = [];
    r.set(p.frame, { m: decodeIsakmp(p.bytes, 0, p.bytes.length, an), an });
  }
  return r;
}

const midHex = (m: IsakmpMessage) => m.messageId.toString(16).padStart(8, "0");

describe("isakmp5-v (ISAKMP_sa_setup.pcap) vs tcpdump -v", () => {
  const td = parseOut("fixtures/tcpdump/isakmp5-v.out");
  const ours = decodeAll("isakmp_sa_setup");

  test("same frames, exchanges, message ids, encryption flags, payload lists", () => {
    expect([...ours.keys()]).toEqual([...td.keys()]);
    for (const [fr, t] of td) {
      const { m, an } = ours.get(fr)!;
      expect(an).toEqual([]);
      expect(m!.exchange).toBe(t.exchange!);
      expect(midHex(m!)).toBe(t.mid!);
      expect(m!.flags.encryption).toBe(t.encrypted);
      expect(m!.majorVersion).toBe(1);
      if (t.encrypted) {
        expect(m!.payloads).toEqual([]);
        expect(m!.encrypted!.length).toBeGreaterThan(0);
        expect([m!.nextPayload]).toEqual(t.payloads);
      } else {
        expect(m!.payloads.map((p) => p.type)).toEqual(t.payloads);
      }
    }
  });

  test("SA, transform attributes, and payload lengths as tcpdump prints them", () => {
    for (const fr of [1, 2]) {
      const t = td.get(fr)!;
      const m = ours.get(fr)!.m!;
      const sa = m.payloads[0];
      if (sa.kind !== "sa") throw new Error("SA expected");
      expect(t.lines.some((l) => l.includes("(sa: doi=ipsec situation=identity"))).toBe(true);
      expect(sa.doiName).toBe("IPSEC");
      expect(sa.situationNames).toEqual(["SIT_IDENTITY_ONLY"]);
      const pl = t.lines.find((l) => l.includes("(p: #"))!;
      const pm = /\(p: #(\d+) protoid=(\w+) transform=(\d+)/.exec(pl)!;
      const pr = sa.proposals[0];
      expect(pr.proposalNumber).toBe(Number(pm[1]));
      expect(pr.protocolName.toLowerCase()).toBe(pm[2]);
      expect(pr.transformCount).toBe(Number(pm[3]));
      const tl = t.lines.find((l) => l.includes("(t: #"))!;
      const tm = /\(t: #(\d+) id=(\w+)/.exec(tl)!;
      const tr = pr.transforms[0];
      expect(tr.transformNumber).toBe(Number(tm[1]));
      expect(tr.transformIdName).toBe("KEY_" + tm[2].toUpperCase());
      const attrs = [...tl.matchAll(/\(type=([\w ]+?) (?:len=\d+ )?value=([\w-]+)\)/g)].map(([, ty, v]) => {
        const [cls, vals] = ATTR[ty];
        return [cls, vals[v] ?? parseInt(v, 16)];
      });
      expect(attrs.length).toBe(7);
      expect(tr.attributes.map((a) => [a.type, a.value])).toEqual(attrs);
      // The life duration is the only TLV attribute: "len=4 value=00015180".
      expect(tr.attributes.filter((a) => a.format === "TLV").map((a) => toHex(a.data!))).toEqual(["00015180"]);
    }
    for (const [fr, t] of td) {
      const m = ours.get(fr)!.m!;
      const vidLens = t.lines.flatMap((l) => [...l.matchAll(/\(vid: len=(\d+)\)/g)].map((x) => Number(x[1])));
      expect(m.payloads.flatMap((p) => (p.kind === "vendor" ? [p.vendorId.length] : []))).toEqual(vidLens);
      const ke = t.lines.flatMap((l) => [...l.matchAll(/\(ke: key len=(\d+)\)/g)].map((x) => Number(x[1])));
      expect(m.payloads.flatMap((p) => (p.kind === "ke" ? [p.keyData.length] : []))).toEqual(ke);
      const no = t.lines.flatMap((l) => [...l.matchAll(/\(nonce: n len=(\d+)\)/g)].map((x) => Number(x[1])));
      expect(m.payloads.flatMap((p) => (p.kind === "nonce" ? [p.nonce.length] : []))).toEqual(no);
    }
  });

  test("payload 15 in Main Mode is the pre-RFC NAT-D (20-byte SHA-1 hashes)", () => {
    const m = ours.get(3)!.m!;
    const natd = m.payloads.filter((p) => p.type === 15);
    expect(natd.length).toBe(2);
    for (const p of natd) {
      expect(p.kind).toBe("natd");
      if (p.kind === "natd") {
        expect(p.draft).toBe(true);
        expect(p.hash.length).toBe(20);
      }
    }
  });
});

describe("isakmp4 (isakmp4500.pcap) vs tcpdump", () => {
  const td = parseOut("fixtures/tcpdump/isakmp4.out");
  const ours = decodeAll("isakmp4500");

  test("every ISAKMP frame (ports 500 and 4500, non-ESP marker stripped) matches exchange and [E]", () => {
    const tdIsakmp = [...td.values()].filter((t) => t.exchange !== undefined);
    expect([...ours.keys()]).toEqual(tdIsakmp.map((t) => t.frame));
    for (const t of tdIsakmp) {
      const { m, an } = ours.get(t.frame)!;
      expect(an).toEqual([]);
      expect(ikeVersion(golden("isakmp4500").find((p) => p.frame === t.frame)!.bytes, 0, 1e9)).toBe(1);
      expect(m!.exchange).toBe(t.exchange!);
      expect(m!.flags.encryption).toBe(t.encrypted);
      expect(m!.encrypted !== undefined).toBe(t.encrypted);
    }
  });

  test("cleartext Main Mode messages: SA / KE No NAT-D NAT-D, RFC 3947 NAT-T vendor IDs", () => {
    const types = (fr: number) => ours.get(fr)!.m!.payloads.map((p) => p.typeName);
    expect(types(3)[0]).toBe("SA");
    expect(types(4)[0]).toBe("SA");
    expect(types(5)).toEqual(["KE", "NONCE", "NAT-D", "NAT-D"]);
    expect(types(6)).toEqual(["KE", "NONCE", "NAT-D", "NAT-D"]);
    const names = ours.get(3)!.m!.payloads.flatMap((p) => (p.kind === "vendor" ? [p.vendorName ?? "?"] : []));
    expect(names).toContain("RFC 3947 (NAT-T)");
    expect(names).toContain("draft-ietf-ipsec-dpd (RFC 3706 DPD)");
  });
});

describe("initiator/responder roles as tcpdump prints them", () => {
  for (const [out, name] of [["isakmp5-v", "isakmp_sa_setup"], ["isakmp4", "isakmp4500"]]) {
    test(`${out}: IsakmpRoles gives tcpdump's I/R for every ISAKMP frame`, () => {
      const td = parseOut(`fixtures/tcpdump/${out}.out`);
      const ours = decodeAll(name);
      const roles = new IsakmpRoles();
      let n = 0;
      for (const [fr, { m }] of ours) {
        const t = td.get(fr)!;
        expect(t.sender).toBeDefined();
        expect(roles.role(m!, t.sender!)).toBe(t.role as "I" | "R");
        n++;
      }
      expect(n).toBeGreaterThanOrEqual(9);
    });
  }
});

describe("tcpdump crash cases isakmp1/2/3", () => {
  test("isakmp1 (delete-segfault): tcpdump prints nothing; we report the bad version and the SPI overrun", () => {
    expect(parseOut("fixtures/tcpdump/isakmp1.out").get(1)!.exchange).toBeUndefined();
    const { m, an } = decodeAll("isakmp-delete-segfault").get(1)!;
    expect(m).not.toBeNull();
    expect(an.some((a) => /major version 11/.test(a.reason))).toBe(true);
    expect(an.some((a) => a.layer === "isakmp.d" && /SPIs of/.test(a.reason))).toBe(true);
  });

  test("isakmp2 (pointer-loop): Base exchange, zero length and a truncated payload are anomalies", () => {
    expect(parseOut("fixtures/tcpdump/isakmp2.out").get(1)!.exchange).toBe(1);
    const { m, an } = decodeAll("isakmp-pointer-loop").get(1)!;
    expect(m!.exchange).toBe(1);
    expect(an.some((a) => /length field 0/.test(a.reason))).toBe(true);
    expect(an.some((a) => /truncated/.test(a.reason))).toBe(true);
  });

  test("isakmp3 (identification-segfault): ID idtype=FQDN protoid=0 port=0 len=248", () => {
    const t = parseOut("fixtures/tcpdump/isakmp3.out").get(1)!;
    expect(t.exchange).toBe(2);
    expect(t.payloads).toEqual([5]);
    const { m, an } = decodeAll("isakmp-identification-segfault").get(1)!;
    expect(midHex(m!)).toBe(t.mid!);
    const id = m!.payloads[0];
    if (id.kind !== "id") throw new Error("ID expected");
    const tm = /idtype=(\w+) protoid=(\d+) port=(\d+) len=(\d+)/.exec(t.lines.join("\n"))!;
    expect(id.idTypeName).toBe(tm[1]);
    expect(id.protocolId).toBe(Number(tm[2]));
    expect(id.port).toBe(Number(tm[3]));
    expect(id.data.length).toBe(Number(tm[4]));
    expect(an.some((a) => /not printable/.test(a.reason))).toBe(true);
  });
});
