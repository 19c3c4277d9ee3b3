/**
 * ikev2Summary(style "strongswan") against the real charon logs kept with
 * the fixtures/made captures: every unencrypted message (IKE_SA_INIT) and
 * every SKF fragment's one-liner must appear verbatim among the
 * "generating …" / "parsed …" lines of the two daemons' logs. (Messages
 * with an SK payload are logged by charon with their decrypted content, so
 * they are not comparable here.)
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { decodeIkev2 } from "../../../lib/ike/v2/message.ts";
import { ikev2Summary } from "../../../lib/ike/v2/summary.ts";
import { bytesOf, loadGolden, ROOT } from "./helpers.ts";

const CASES: [string, string][] = [
  ["made_c_cert_frag", "fixtures/made/c_ikev2_cert_frag"],
  ["made_d_rekey", "fixtures/made/d_ikev2_rekey"],
  ["made_h_ipv6_outer", "fixtures/made/h_ikev2_ipv6_outer"],
  ["made_i_ipfrag", "fixtures/made/i_ikev2_ipfrag"],
];

function charonLines(dir: string): Set<string> {
  const s = new Set<string>();
  for (const f of ["charon-vf1.log.gz", "charon-vf2.log.gz"]) {
    const text = gunzipSync(readFileSync(`${ROOT}${dir}/${f}`)).toString("utf8");
    for (const m of text.matchAll(/(?:generating|parsed) (\S+ (?:request|response) \d+ \[ .*\])/g)) s.add(m[1]);
  }
  return s;
}

describe("summary matches charon's log notation", () => {
  let compared = 0;
  for (const [golden, dir] of CASES) {
    test(golden, () => {
      const lines = charonLines(dir);
      expect(lines.size).toBeGreaterThan(0);
      for (const m of loadGolden(golden).messages) {
        const b = bytesOf(m);
        const an: Anomaly[] = [];
        const msg = decodeIkev2(b, 0, b.length, an)!;
        if (msg.payloads.some((p) => p.kind === "sk")) continue;
        const s = ikev2Summary(msg, { style: "strongswan" });
        expect(lines.has(s), `${golden} frame ${m.frame}: ${s}`).toBe(true);
        compared++;
      }
    });
  }
  test("count", () => {
    // 8 IKE_SA_INIT messages + 13 SKF fragments.
    expect(compared).toBe(21);
  });
});
