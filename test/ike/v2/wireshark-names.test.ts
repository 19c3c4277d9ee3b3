/**
 * Cross-check of registry names against the names the installed Wireshark
 * (Debian libwireshark) knows: `strings -n 6 libwireshark.so.*`. A name
 * counts as known when some string equals it or ends with it (the linker
 * merges string tails). Names Wireshark 4.0 does not have (newer RFCs, or
 * where Wireshark prints a descriptive label instead of the IANA name) are
 * listed explicitly with the reason. Skips when libwireshark is not
 * installed, fails then under CI=true.
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import type { Registry } from "../../../lib/core/registry.ts";
import * as R from "../../../lib/ike/v2/registry.ts";

const LIBDIR = "/usr/lib/x86_64-linux-gnu";
const lib = (() => {
  try { return readdirSync(LIBDIR).find((f) => /^libwireshark\.so\.\d+$/.test(f)); } catch { return undefined; }
})();

/** IANA names Wireshark 4.0 lacks, with why. */
const NOT_IN_WIRESHARK_4_0: Record<string, string> = {
  TS_MAX_QUEUE: "RFC 9611 (2024)",
  REGISTRATION_FAILED: "G-IKEv2", IKE_SA_INIT_FULL_TRANSCRIPT_AUTH: "newer than Wireshark 4.0",
  GROUP_SENDER: "G-IKEv2 renamed SENDER_REQUEST_ID (16429), the name Wireshark 4.0 has",
  CLONE_IKE_SA_SUPPORTED: "RFC 7791, not in Wireshark 4.0's table",
  CLONE_IKE_SA: "RFC 7791, not in Wireshark 4.0's table",
  USE_PPK: "RFC 8784", PPK_IDENTITY: "RFC 8784", NO_PPK_AUTH: "RFC 8784",
  INTERMEDIATE_EXCHANGE_SUPPORTED: "RFC 9242", IP4_ALLOWED: "RFC 8983", IP6_ALLOWED: "RFC 8983",
  ADDITIONAL_KEY_EXCHANGE: "RFC 9370", USE_AGGFRAG: "RFC 9347", SUPPORTED_AUTH_METHODS: "RFC 9593",
  SA_RESOURCE_INFO: "RFC 9611", USE_PPK_INT: "RFC 9867", PPK_IDENTITY_KEY: "RFC 9867",
  GSA_AUTH: "G-IKEv2", GSA_REGISTRATION: "G-IKEv2", GSA_REKEY: "G-IKEv2", GSA_INBAND_REKEY: "G-IKEv2",
  IKE_INTERMEDIATE: "RFC 9242", IKE_FOLLOWUP_KE: "RFC 9370",
  ID_DER_ASN1_GN: "not among Wireshark 4.0's strings", ID_FC_NAME: "RFC 4595", ID_NULL: "RFC 7619",
  TS_SECLABEL: "RFC 9478",
  PRF_AES128_XCBC: "Wireshark 4.0 has PRF_AES128_CBC instead", PRF_AES128_CMAC: "Wireshark 4.0 has PRF_AES128_CMAC6 instead",
  PRF_HMAC_STREEBOG_512: "RFC 9385",
  EXTERNAL_SOURCE_IP4_NAT_INFO: "RFC 7651 attribute", TIMEOUT_PERIOD_FOR_LIVENESS_CHECK: "3GPP",
  INTERNAL_DNS_DOMAIN: "RFC 8598", INTERNAL_DNSSEC_TA: "RFC 8598",
  ENCDNS_IP4: "RFC 9464", ENCDNS_IP6: "RFC 9464", ENCDNS_DIGEST_INFO: "RFC 9464",
};
/** ENCR names Wireshark prints descriptively ("AES-GCM with a 16 octet ICV", …). */
const ENCR_DESCRIPTIVE = /^ENCR_(AES_(CCM|GCM)|CAMELLIA_CCM|KUZNYECHIK|MAGMA)|_IIV$/;

test.skipIf(!lib && process.env.CI !== "true")("IANA names agree with Wireshark's", () => {
  expect(lib, "libwireshark not installed").toBeDefined();
  const r = spawnSync("strings", ["-n", "6", `${LIBDIR}/${lib}`], { encoding: "utf8", maxBuffer: 256 << 20 });
  expect(r.status).toBe(0);
  const all = "\n" + r.stdout;
  const known = (n: string) => all.includes(n + "\n");
  const check: [string, Registry, (code: number) => boolean][] = [
    ["EXCHANGE_TYPES", R.EXCHANGE_TYPES, () => true],
    ["NOTIFY_TYPES", R.NOTIFY_TYPES, (c) => c !== 0],
    ["ENCR_IDS", R.ENCR_IDS, (c) => c !== 0],
    ["PRF_IDS", R.PRF_IDS, (c) => c !== 0],
    ["INTEG_IDS", R.INTEG_IDS, (c) => c !== 0],
    ["ID_TYPES", R.ID_TYPES, (c) => c !== 0],
    ["TS_TYPES", R.TS_TYPES, () => true],
    ["CP_ATTRIBUTE_TYPES", R.CP_ATTRIBUTE_TYPES, (c) => R.CP_ATTRIBUTE_TYPES.name(c) !== "RESERVED"],
  ];
  const missing: string[] = [];
  let checked = 0;
  for (const [title, reg, want] of check) {
    for (const [code, name] of reg.entries()) {
      if (!want(code) || NOT_IN_WIRESHARK_4_0[name] || (title === "ENCR_IDS" && ENCR_DESCRIPTIVE.test(name))) continue;
      checked++;
      if (!known(name)) missing.push(`${title} ${code} ${name}`);
    }
  }
  expect(missing).toEqual([]);
  expect(checked).toBeGreaterThan(120);
}, 60_000);
