/**
 * Regenerate the golden JSON in this folder from the real captures in
 * fixtures/, using tshark's own dissection (not vpnkit's):
 *
 *     cd /work/main && node_modules/.bin/bun test/ipsec/golden/make-golden.ts
 *
 * For each capture it runs
 *     tshark -r FILE -o esp.enable_encryption_decode:FALSE -T json -x --no-duplicate-keys
 * and keeps, per frame, the raw frame bytes (`frame_raw`), the byte offsets
 * tshark reports for the ip/ipv6/udp/esp/ah layers (`*_raw[1]`) and tshark's
 * field values (esp.spi, esp.sequence, ah.*, udpencap markers). Decryption is
 * off so ESP stays opaque, as vpnkit sees it without keys. Frames without
 * UDP/ESP/AH are skipped except in the `allFrames` (oobr) captures.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const OUT = import.meta.dirname;

interface Cap {
  name: string;
  file: string;
  allFrames?: boolean;
}

const CAPS: Cap[] = [
  { name: "esp0", file: "fixtures/tcpdump/02-sunrise-sunset-esp.pcap" },
  { name: "esp2", file: "fixtures/tcpdump/08-sunrise-sunset-esp2.pcap" },
  { name: "esp_truncated", file: "fixtures/tcpdump/esp_truncated.pcap", allFrames: true },
  { name: "espudp1", file: "fixtures/tcpdump/espudp1.pcap" },
  { name: "isakmp4", file: "fixtures/tcpdump/isakmp4500.pcap" },
  { name: "ospf3_ah", file: "fixtures/tcpdump/OSPFv3_with_AH.pcap" },
  { name: "isakmp-3948-oobr-2", file: "fixtures/tcpdump/isakmp-3948-oobr-2.pcap", allFrames: true },
  { name: "isakmp-rfc3948-oobr", file: "fixtures/tcpdump/isakmp-rfc3948-oobr.pcap", allFrames: true },
  { name: "a_ikev2_psk_gcm_natt", file: "fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap" },
  { name: "a_ikev2_psk_gcm_natt_any_sll2", file: "fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt_any_sll2.pcap" },
  { name: "b_ikev2_psk_cbc_sha256", file: "fixtures/strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.pcapng" },
  { name: "e1_ikev1_main_psk", file: "fixtures/strongswan/e1_ikev1_main_psk/e1_ikev1_main_psk.pcap" },
  { name: "f1_ikev2_auth_failed", file: "fixtures/strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap" },
  { name: "d_ikev2_rekey", file: "fixtures/made/d_ikev2_rekey/d_ikev2_rekey.pcap" },
  { name: "h_ikev2_ipv6_outer", file: "fixtures/made/h_ikev2_ipv6_outer/h_ikev2_ipv6_outer.pcap" },
];

type J = Record<string, unknown>;

/** Depth-first search for the first property named `key`. */
function find(o: unknown, key: string): unknown {
  if (o === null || typeof o !== "object") return undefined;
  if (Array.isArray(o)) {
    for (const x of o) {
      const r = find(x, key);
      if (r !== undefined) return r;
    }
    return undefined;
  }
  const rec = o as J;
  if (key in rec) return rec[key];
  for (const v of Object.values(rec)) {
    const r = find(v, key);
    if (r !== undefined) return r;
  }
  return undefined;
}

const raw = (l: J, k: string): [string, number, number] | undefined => {
  const v = find(l, `${k}_raw`);
  if (!Array.isArray(v)) return undefined;
  // Duplicate keys become arrays of arrays: take the first (outermost).
  const a = Array.isArray(v[0]) ? v[0] : v;
  return [a[0] as string, a[1] as number, a[2] as number];
};
const str = (o: unknown, k: string): string | undefined => {
  const v = find(o, k);
  if (Array.isArray(v)) return v[0] as string;
  return v as string | undefined;
};
const num = (o: unknown, k: string): number | undefined => {
  const s = str(o, k);
  return s === undefined ? undefined : Number(s);
};

const version = execFileSync("tshark", ["--version"], { encoding: "utf8" }).split("\n")[0];
const manifest: J[] = [];
for (const cap of CAPS) {
  const args = ["-r", join(ROOT, cap.file), "-o", "esp.enable_encryption_decode:FALSE", "-T", "json", "-x", "--no-duplicate-keys"];
  const json = JSON.parse(execFileSync("tshark", args, { encoding: "utf8", maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "ignore"] })) as J[];
  const frames: J[] = [];
  for (const pkt of json) {
    const layers = (pkt._source as J).layers as J;
    const fr = layers.frame as J;
    const no = Number(fr["frame.number"]);
    const protocols = fr["frame.protocols"] as string;
    const frameHex = raw(layers, "frame")![0];
    const ip = raw(layers, "ip");
    const ip6 = raw(layers, "ipv6");
    const udp = raw(layers, "udp");
    const esp = raw(layers, "esp");
    const ah = raw(layers, "ah");
    if (!cap.allFrames && !udp && !esp && !ah) continue;
    const [sec, frac = "0"] = String(fr["frame.time_epoch"]).split(".");
    const f: J = { no, tsSec: Number(sec), tsNsec: Number(frac.padEnd(9, "0").slice(0, 9)), protocols, frame: frameHex };
    if (ip6 && (!ip || ip6[1] < ip[1])) {
      const plen = num(layers.ipv6, "ipv6.plen");
      f.ip = { version: 6, off: ip6[1], end: plen === undefined ? undefined : ip6[1] + 40 + plen, src: str(layers.ipv6, "ipv6.src"), dst: str(layers.ipv6, "ipv6.dst") };
    } else if (ip) {
      const len = num(layers.ip, "ip.len");
      f.ip = { version: 4, off: ip[1], end: len === undefined ? undefined : ip[1] + len, src: str(layers.ip, "ip.src"), dst: str(layers.ip, "ip.dst") };
    }
    if (udp) {
      const ulen = num(layers.udp, "udp.length");
      f.udp = {
        off: udp[1],
        srcport: num(layers.udp, "udp.srcport"),
        dstport: num(layers.udp, "udp.dstport"),
        length: ulen,
      };
    }
    const ue = find(layers, "udpencap") as J | undefined;
    if (ue !== undefined) {
      f.udpencap = {
        keepalive: find(ue, "udpencap.nat_keepalive") !== undefined,
        nonEspMarker: find(ue, "udpencap.non_esp_marker") !== undefined,
      };
    }
    if (esp) {
      f.esp = { off: esp[1], len: esp[2], spi: str(layers.esp, "esp.spi"), seq: num(layers.esp, "esp.sequence") };
    }
    if (ah) {
      const a = find(layers, "ah") as J;
      f.ah = {
        off: ah[1],
        len: ah[2],
        nextHeader: num(a, "ah.next_header"),
        length: num(a, "ah.length"),
        reserved: str(a, "ah.reserved"),
        spi: str(a, "ah.spi"),
        seq: num(a, "ah.sequence"),
        icv: str(a, "ah.icv"),
      };
    }
    frames.push(f);
  }
  const doc = { source: cap.file, made: `${version}: tshark ${args.slice(2).join(" ")} (see make-golden.ts)`, frames };
  writeFileSync(join(OUT, `${cap.name}.json`), JSON.stringify(doc, null, 1) + "\n");
  manifest.push({ name: cap.name, source: cap.file, frames: frames.length });
  console.log(`${cap.name}: ${frames.length} frames`);
}
writeFileSync(join(OUT, "index.json"), JSON.stringify(manifest, null, 1) + "\n");
