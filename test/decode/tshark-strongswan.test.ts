// Acceptance: every capture between real strongSwan daemons decodes, and
// vpnkit's --json output matches tshark's decode field by field for
// everything in clear text: the header of every IKE message, every
// IKE_SA_INIT (and IKEv1 main mode) payload, ESP SPI and sequence number, and
// the NAT-T framing. tshark is the oracle: it runs live (installed by .ci/run).
import { describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { readdirSync, existsSync } from "node:fs";
import { packetJson } from "../../lib/decode/render-json.ts";
import { decodeFile, FIX } from "./helpers.ts";

const haveTshark = (() => {
  try {
    execFileSync("tshark", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (!haveTshark && process.env.CI === "true") throw new Error("tshark is required under CI (apt-get install tshark)");

const FIELDS = [
  "frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "udp.srcport", "udp.dstport",
  "udpencap.non_esp_marker", "udpencap.nat_keepalive",
  "isakmp.ispi", "isakmp.rspi", "isakmp.nextpayload", "isakmp.mjver", "isakmp.mnver", "isakmp.exchangetype",
  "isakmp.flags", "isakmp.messageid", "isakmp.length", "isakmp.typepayload",
  "isakmp.tf.type", "isakmp.tf.id.encr", "isakmp.tf.id.prf", "isakmp.tf.id.integ", "isakmp.tf.id.dh", "isakmp.tf.id.esn", "isakmp.ike2.attr.key_length", "isakmp.key_exchange.dh_group",
  "isakmp.key_exchange.data", "isakmp.nonce", "isakmp.notify.msgtype", "isakmp.notify.data", "isakmp.vid_bytes",
  "isakmp.ike.nat_hash", "isakmp.trans.id", "isakmp.ike.attr.type",
  "esp.spi", "esp.sequence",
] as const;
type Row = Record<(typeof FIELDS)[number], string[]>;

function tshark(file: string): Row[] {
  const args = ["-r", file, "-n", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|", "-o", "esp.enable_encryption_decode:FALSE"];
  for (const f of FIELDS) args.push("-e", f);
  let out: string;
  try {
    out = execFileSync("tshark", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    // older tshark may reject the -o settings: run without them
    out = execFileSync("tshark", args.filter((_, i) => !(args[i] === "-o" || args[i - 1] === "-o")), { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  }
  return out.trimEnd().split("\n").map((line) => {
    const cols = line.split("\t");
    const r = {} as Row;
    FIELDS.forEach((f, i) => (r[f] = cols[i] ? cols[i].split("|") : []));
    return r;
  });
}

const hex = (s: string) => s.replace(/^0x/, "").replace(/:/g, "").toLowerCase();
const num = (s: string) => (s.startsWith("0x") ? parseInt(s, 16) : Number(s));

type J = Record<string, any>; // parsed --json output

const captures: string[] = [];
for (const d of readdirSync(`${FIX}strongswan`)) {
  for (const f of readdirSync(`${FIX}strongswan/${d}`)) if (/\.pcap(ng)?$/.test(f)) captures.push(`${FIX}strongswan/${d}/${f}`);
}
if (existsSync(`${FIX}made`)) {
  for (const d of readdirSync(`${FIX}made`)) {
    if (!existsSync(`${FIX}made/${d}`) || d.endsWith(".md")) continue;
    for (const f of readdirSync(`${FIX}made/${d}`)) if (/\.pcap(ng)?$/.test(f)) captures.push(`${FIX}made/${d}/${f}`);
  }
}

/** Captures of manually keyed tunnels: no IKE in them. */
const MANUAL_KEYS = new Set(["made/g_vpnkit_udp_gso/g_vpnkit_udp_gso.pcap"]);

describe.skipIf(!haveTshark)("strongSwan captures: --json against tshark", () => {
  for (const file of captures) {
    const name = file.slice(FIX.length);
    test(name, async () => {
      const { packets } = await decodeFile(file);
      const rows = tshark(file);
      expect(packets.length).toBe(rows.length);
      const counts = { ike: 0, initPayloads: 0, esp: 0, natt: 0 };
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        const j: J = JSON.parse(packetJson(packets[i]));
        expect(j.no).toBe(Number(r["frame.number"][0]));
        const L = (name: string) => j.layers.filter((l: J) => l.layer === name);
        const ip = L("ipv4")[0] ?? L("ipv6")[0];
        const src = r["ip.src"][0] ?? r["ipv6.src"][0];
        if (src) {
          expect(ip.src).toBe(src);
          expect(ip.dst).toBe(r["ip.dst"][0] ?? r["ipv6.dst"][0]);
        }
        // tshark also dissects the datagram quoted inside ICMP errors; vpnkit shows
        // the ICMP error itself, so compare nothing beyond the outer IP there.
        if (L("icmp").length || L("icmpv6").length) continue;
        const udp = L("udp")[0];
        if (r["udp.srcport"][0]) {
          expect(udp.srcPort).toBe(Number(r["udp.srcport"][0]));
          expect(udp.dstPort).toBe(Number(r["udp.dstport"][0]));
        }
        // NAT-T framing
        const natt = L("natt")[0];
        if (r["udpencap.non_esp_marker"].length) {
          expect(natt.kind).toBe("ike");
          counts.natt++;
        }
        if (r["udpencap.nat_keepalive"].length) expect(natt.kind).toBe("keepalive");
        // ESP
        if (r["esp.spi"].length) {
          const esp = L("esp")[0];
          expect(esp.spi >>> 0).toBe(num(r["esp.spi"][0]));
          expect(esp.seq).toBe(Number(r["esp.sequence"][0]));
          if (natt) expect(natt.kind).toBe("esp");
          counts.esp++;
        }
        // IKE header (v1 and v2)
        if (r["isakmp.ispi"].length) {
          const m = L("ikev2")[0] ?? L("isakmp")[0];
          expect(m).toBeDefined();
          counts.ike++;
          const v2 = m.layer === "ikev2";
          expect(v2 ? m.ispi : m.icookie).toBe(hex(r["isakmp.ispi"][0]));
          expect(v2 ? m.rspi : m.rcookie).toBe(hex(r["isakmp.rspi"][0]));
          expect(m.nextPayload).toBe(Number(r["isakmp.nextpayload"][0]));
          expect(m.majorVersion).toBe(Number(r["isakmp.mjver"][0]));
          expect(m.minorVersion).toBe(Number(r["isakmp.mnver"][0]));
          expect(m.exchange).toBe(Number(r["isakmp.exchangetype"][0]));
          expect(v2 ? m.flags.raw : m.flags.value).toBe(num(r["isakmp.flags"][0]));
          expect(m.messageId >>> 0).toBe(num(r["isakmp.messageid"][0]));
          expect(v2 ? m.declaredLength : m.declaredLength ?? m.length).toBe(Number(r["isakmp.length"][0]));
          const encrypted = v2 ? m.payloads.some((p: J) => p.kind === "sk" || p.kind === "skf") : m.flags.encryption;
          if (!encrypted) {
            counts.initPayloads++;
            // top-level payload types (tshark also lists the nested Proposal/Transform substructures)
            const types = r["isakmp.typepayload"].map(Number).filter((t) => t !== 2 && t !== 3);
            expect(m.payloads.map((p: J) => p.type)).toEqual(types);
            const of = (k: string) => m.payloads.filter((p: J) => p.kind === k);
            if (v2) {
              const tfs = of("sa").flatMap((s: J) => s.proposals.flatMap((p: J) => p.transforms));
              expect(tfs.map((t: J) => t.type)).toEqual(r["isakmp.tf.type"].map(Number));
              const byType: [number, string][] = [[1, "encr"], [2, "prf"], [3, "integ"], [4, "dh"], [5, "esn"]];
              for (const [ty, f] of byType) {
                expect(tfs.filter((t: J) => t.type === ty).map((t: J) => t.id)).toEqual(r[`isakmp.tf.id.${f}` as keyof Row].map(Number));
              }
              expect(tfs.filter((t: J) => t.keyLength !== undefined).map((t: J) => t.keyLength)).toEqual(r["isakmp.ike2.attr.key_length"].map(Number));
              expect(of("ke").map((k: J) => k.group)).toEqual(r["isakmp.key_exchange.dh_group"].map(Number));
              expect(of("ke").map((k: J) => k.data)).toEqual(r["isakmp.key_exchange.data"].map(hex));
              expect(of("vendor").map((v: J) => v.data)).toEqual(r["isakmp.vid_bytes"].map(hex));
            } else {
              expect(of("ke").map((k: J) => k.keyData)).toEqual(r["isakmp.key_exchange.data"].map(hex));
              expect(of("vendor").map((v: J) => v.vendorId)).toEqual(r["isakmp.vid_bytes"].map(hex));
              expect(of("natd").map((n: J) => n.hash)).toEqual(r["isakmp.ike.nat_hash"].map(hex));
              const tfs = of("sa").flatMap((s: J) => s.proposals.flatMap((p: J) => p.transforms));
              expect(tfs.map((t: J) => t.transformId)).toEqual(r["isakmp.trans.id"].map(Number));
              expect(tfs.flatMap((t: J) => t.attributes.map((a: J) => a.type))).toEqual(r["isakmp.ike.attr.type"].map(Number));
            }
            expect(of("nonce").map((n: J) => n.nonce)).toEqual(r["isakmp.nonce"].map(hex));
            expect(of("notify").map((n: J) => n.notifyType)).toEqual(r["isakmp.notify.msgtype"].map(Number));
          }
        }
      }
      // every capture but the manually keyed one (vpnkit up without IKE) has IKE messages
      if (MANUAL_KEYS.has(name)) {
        expect(counts.ike).toBe(0);
        expect(counts.esp).toBe(rows.length);
      } else {
        expect(counts.ike).toBeGreaterThan(0);
        expect(counts.initPayloads).toBeGreaterThan(0);
      }
    });
  }
});
