/** `vpnkit diagnose` end to end (through test/diagnose/run-cli.ts): text, --json, --keys, --strict, usage errors. */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { FIX } from "../decode/helpers.ts";

const ENTRY = new URL("./run-cli.ts", import.meta.url).pathname;
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [ENTRY, "diagnose", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const F1 = `${FIX}strongswan/f1_ikev2_auth_failed/`;

test("text: verdict, findings with evidence and advice, the timeline", () => {
  const r = run(`${FIX}made/f6_ikev2_ipfrag_dropped/f6_ikev2_ipfrag_dropped.pcap`);
  expect(r.code).toBe(0);
  expect(r.out).toContain("Verdict: IKE_FRAGMENT_LOSS");
  expect(r.out).toContain("[ERROR] IKE_FRAGMENT_LOSS");
  expect(r.out).toContain("What happened:");
  expect(r.out).toContain("What to do:");
  expect(r.out).toMatch(/#9 +\S+ +192\.0\.2\.2 -> 192\.0\.2\.1 ICMP Time Exceeded/);
  expect(r.out).toContain("IKE_AUTH request mid 1 [ SK ] 3848 B  (retransmission 3 of #5; encrypted; only the first IP fragment seen)");
});

test("--json --keys: the structured cause", () => {
  const r = run("--json", "--keys", `${F1}ikev2_decryption_table`, `${F1}f1_ikev2_auth_failed.pcap`);
  expect(r.code).toBe(0);
  const d = JSON.parse(r.out);
  expect(d.keysUsed).toBe(true);
  expect(d.findings.map((f: { code: string }) => f.code)).toEqual(["AUTH_FAILED"]);
  expect(d.findings[0].data.likelyCause).toBe("psk");
});

test("--strict: exit 3 on an error, 0 on a good capture; --no-timeline", () => {
  expect(run("--strict", `${F1}f1_ikev2_auth_failed.pcap`).code).toBe(3);
  const good = run("--strict", "--no-timeline", `${FIX}strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap`);
  expect(good.code).toBe(0);
  expect(good.out).toContain("Verdict: no failure found");
  expect(good.out).not.toContain("timeline:");
});

test("usage errors exit 2 with one line", () => {
  const missing = run(`${FIX}does-not-exist.pcap`);
  expect(missing.code).toBe(2);
  expect(missing.err).toContain("vpnkit diagnose: cannot read");
  const badKeys = run("--keys", `${FIX}README.md`, `${F1}f1_ikev2_auth_failed.pcap`);
  expect(badKeys.code).toBe(2);
  expect(badKeys.err.startsWith("vpnkit diagnose: ")).toBe(true);
});

test("--keys with charon's own log (.gz): f3 gives the CHILD SA proposal mismatch", () => {
  const dir = `${FIX}made/f3_ikev2_child_no_proposal/`;
  const r = run("--keys", `${dir}charon-vf1.log.gz`, "--json", `${dir}f3_ikev2_child_no_proposal.pcap`);
  expect(r.code).toBe(0);
  const d = JSON.parse(r.out);
  expect(d.findings.map((f: { code: string }) => f.code)).toEqual(["NO_PROPOSAL_CHOSEN_CHILD"]);
});
