/**
 * The diagnoser on the real failure captures (fixtures/strongswan f1, f2;
 * fixtures/made f3..f7) and on the good ones: each failure gives the right
 * cause code with its key evidence; good captures give no error or warning;
 * the rekey chain of d_ikev2_rekey is the same with keys (REKEY_SA, SA
 * payloads, DELETE) and without (timing).
 */
import { describe, expect, test } from "bun:test";
import { Diagnoser } from "../../lib/diagnose/diagnoser.ts";
import { renderDiagnosisText } from "../../lib/diagnose/render.ts";
import type { RekeyLink } from "../../lib/diagnose/types.ts";
import { decodeFile, FIX } from "../decode/helpers.ts";
import { diagnoseFixture, problems, withCode } from "./helpers.ts";

const F1 = "strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap";
const F2 = "strongswan/f2_ikev2_ike_no_proposal/f2_ikev2_ike_no_proposal.pcap";
const F3 = "made/f3_ikev2_child_no_proposal/f3_ikev2_child_no_proposal.pcap";
const F4 = "made/f4_ikev2_ts_unacceptable/f4_ikev2_ts_unacceptable.pcap";
const F5 = "made/f5_ikev2_no_response/f5_ikev2_no_response.pcap";
const F6 = "made/f6_ikev2_ipfrag_dropped/f6_ikev2_ipfrag_dropped.pcap";
const F7 = "made/f7_esp_one_way/f7_esp_one_way.pcap";
const IKE_KEYS = ["ikev2_decryption_table"];
const ALL_KEYS = ["ikev2_decryption_table", "esp_sa"];

describe("failure captures: the cause from the packets", () => {
  test("f2: IKE proposal mismatch in cleartext IKE_SA_INIT", async () => {
    const d = await diagnoseFixture(F2);
    const [f] = withCode(d, "NO_PROPOSAL_CHOSEN_IKE");
    expect(f).toBeDefined();
    expect(f.severity).toBe("error");
    expect(f.packets).toEqual([3, 4]);
    const offered = f.data!.offered as { protocol: string; transforms: Record<string, string[]> }[];
    expect(offered).toHaveLength(1);
    expect(offered[0].protocol).toBe("IKE");
    expect(offered[0].transforms).toEqual({ ENCR: ["AES_GCM_16 256-bit"], PRF: ["HMAC_SHA2_256"], KE: ["Curve25519"] });
    expect(f.data!.accepted).toBeNull();
    expect(f.explanation.join(" ")).toContain("only answers NO_PROPOSAL_CHOSEN");
    expect(d.verdict.startsWith("NO_PROPOSAL_CHOSEN_IKE")).toBe(true);
    expect(d.ikeSas[0].state).toBe("failed");
    expect(problems(d)).toHaveLength(1);
  });

  test("f5: IKE_SA_INIT retransmitted 4 times, never answered", async () => {
    const d = await diagnoseFixture(F5);
    const [f] = withCode(d, "NO_RESPONSE");
    expect(f.severity).toBe("error");
    expect(f.data).toMatchObject({ exchange: "IKE_SA_INIT", requests: [3, 4, 5, 6], port: 500 });
    expect(f.summary).toContain("192.0.2.2");
    expect(f.explanation.join(" ")).toContain("UDP 500");
    expect(d.ikeSas[0].state).toBe("no-response");
    expect(d.ikeSas[0].timeline.map((t) => t.retransmission ?? 0)).toEqual([0, 1, 2, 3]);
    expect(problems(d)).toHaveLength(1);
  });

  test("f6: IKE_AUTH lost to IP fragmentation (first fragments only, ICMP reassembly time exceeded)", async () => {
    const d = await diagnoseFixture(F6);
    const [f] = withCode(d, "IKE_FRAGMENT_LOSS");
    expect(f.severity).toBe("error");
    expect(f.data).toMatchObject({ exchange: "IKE_AUTH", firstFragments: [5, 6, 10, 13], icmpReassembly: [9, 11, 12, 14] });
    expect(f.explanation.join(" ")).toContain("no FRAGMENTATION_SUPPORTED");
    expect(f.suggestions.join(" ")).toContain("fragmentation = yes");
    expect(withCode(d, "NO_RESPONSE")).toHaveLength(0);
    expect(d.ikeSas[0].timeline.filter((t) => t.fragmentOnly).map((t) => t.no)).toEqual([5, 6, 10, 13]);
  });

  test("f7: one-way ESP", async () => {
    const d = await diagnoseFixture(F7);
    const [f] = withCode(d, "ESP_ONE_WAY");
    expect(f.severity).toBe("error");
    expect(f.espSpis).toEqual(["76a8a6a2"]);
    expect(f.packets).toEqual([7, 12]);
    expect(f.data).toMatchObject({ src: "192.0.2.1", dst: "192.0.2.2", packets: 6 });
    expect(d.ikeSas[0].state).toBe("established");
    expect(problems(d)).toHaveLength(1);
  });

  test("f7 with keys: the reverse SPI negotiated and the inner echo requests", async () => {
    const d = await diagnoseFixture(F7, ALL_KEYS);
    const [f] = withCode(d, "ESP_ONE_WAY");
    expect(d.keysUsed).toBe(true);
    expect(f.data!.expectedReverseSpi).toBe("46135366");
    expect(f.evidence.some((e) => e.text.includes("6 × ICMP Echo Request 198.51.100.1 > 203.0.113.1"))).toBe(true);
    expect(d.espSas[0].icv).toEqual({ good: 6, bad: 0, none: 0 });
  });
});

describe("causes inside encrypted IKE_AUTH: without keys, then with keys", () => {
  const cases: [string, string, string][] = [
    ["f1", F1, "508b431a1761aa5f/e049d666c1fdfe9a"],
    ["f3", F3, "59054a00fc9f6468/006684d483f29680"],
    ["f4", F4, "b288b78a74500802/01bc095d5ed739e2"],
  ];
  for (const [name, file, sa] of cases) {
    test(`${name} without keys: the cause is in the encrypted IKE_AUTH response, keys of IKE SA ${sa} reveal it`, async () => {
      const d = await diagnoseFixture(file);
      const [f] = withCode(d, "ENCRYPTED_NEED_KEYS");
      expect(f.severity).toBe("error");
      expect(f.ikeSa).toBe(sa);
      expect(f.data!.responseNo).toBe(6);
      expect(f.packets).toContain(6);
      expect(f.suggestions[0]).toContain(`keys of IKE SA ${sa}`);
      expect(f.suggestions[0]).toContain("--keys");
      expect(d.ikeSas[0].state).toBe("unknown");
      expect(d.keysUsed).toBe(false);
    });
  }

  test("f1 with keys: AUTHENTICATION_FAILED, PSK, identities", async () => {
    const d = await diagnoseFixture(F1, IKE_KEYS);
    const [f] = withCode(d, "AUTH_FAILED");
    expect(f.packets).toEqual([5, 6]);
    expect(f.data).toMatchObject({
      rejectedBy: "responder", idi: "ID_RFC822_ADDR cb1@example.org", idr: "ID_RFC822_ADDR cb2@example.org",
      initiatorAuth: "Shared Key Message Integrity Code", likelyCause: "psk",
    });
    expect(f.explanation.join(" ")).toContain("PSKs differ");
    expect(withCode(d, "ENCRYPTED_NEED_KEYS")).toHaveLength(0);
    expect(d.ikeSas[0].state).toBe("failed");
  });

  test("f3 with keys: CHILD SA proposal mismatch, the ESP offer shown", async () => {
    const d = await diagnoseFixture(F3, IKE_KEYS);
    const [f] = withCode(d, "NO_PROPOSAL_CHOSEN_CHILD");
    expect(f.packets).toEqual([4, 5, 6]);
    const offered = f.data!.offered as { protocol: string; transforms: Record<string, string[]> }[];
    expect(offered.map((p) => p.protocol)).toEqual(["ESP"]);
    expect(offered[0].transforms.ENCR).toEqual(["AES_GCM_16 256-bit"]);
    expect(f.evidence.some((e) => e.packet === 4 && e.text.includes("agreed as IKE #1: ENCR AES_CBC 128-bit"))).toBe(true);
    expect(withCode(d, "NO_PROPOSAL_CHOSEN_IKE")).toHaveLength(0);
    expect(d.ikeSas[0].outcome).toContain("IKE SA established, but");
    expect(d.ikeSas[0].deleted).toBe(true);
  });

  test("f4 with keys: TS_UNACCEPTABLE with the proposed selectors", async () => {
    const d = await diagnoseFixture(F4, IKE_KEYS);
    const [f] = withCode(d, "TS_UNACCEPTABLE");
    expect(f.data!.tsi).toBe("198.51.100.0-198.51.100.255 (any protocol, any port)");
    expect(f.data!.tsr).toBe("203.0.113.0-203.0.113.255 (any protocol, any port)");
    expect(f.packets).toEqual([5, 6]);
    expect(problems(d).map((x) => x.code)).toEqual(["TS_UNACCEPTABLE"]);
  });
});

describe("good captures: no false failure", () => {
  const good: [string, string[]][] = [
    ["strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap", ALL_KEYS],
    ["strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.pcapng", ALL_KEYS],
    ["strongswan/e1_ikev1_main_psk/e1_ikev1_main_psk.pcap", []],
    ["made/c_ikev2_cert_frag/c_ikev2_cert_frag.pcap", ALL_KEYS],
    ["made/d_ikev2_rekey/d_ikev2_rekey.pcap", ALL_KEYS],
    ["made/d_ikev2_rekey_dpd/d_ikev2_rekey_dpd.pcap", []],
    ["made/e2_ikev1_aggressive_psk/e2_ikev1_aggressive_psk.pcap", ["ikev1_decryption_table", "esp_sa"]],
    ["made/h_ikev2_ipv6_outer/h_ikev2_ipv6_outer.pcap", ALL_KEYS],
    ["made/i_ikev2_ipfrag/i_ikev2_ipfrag.pcap", ALL_KEYS],
    ["made/k_esp_aes128gcm16/k_esp_aes128gcm16.pcap", []],
    ["made/k_esp_chacha20poly1305/k_esp_chacha20poly1305.pcap", []],
  ];
  for (const [file, keys] of good) {
    for (const k of keys.length ? [[], keys] : [[]]) {
      test(`${file}${k.length ? " with keys" : ""}`, async () => {
        const d = await diagnoseFixture(file, k);
        expect(problems(d)).toEqual([]);
        expect(d.ikeSas.length).toBeGreaterThan(0);
        for (const s of d.ikeSas) expect(s.state).toBe("established");
        expect(d.verdict.startsWith("no failure found")).toBe(true);
        expect(d.espSas.every((e) => e.reverse !== undefined)).toBe(true);
      });
    }
  }

  test("i: the IP-fragmented IKE_AUTH is one timeline entry, reassembled from packets 5, 6, 7", async () => {
    const d = await diagnoseFixture("made/i_ikev2_ipfrag/i_ikev2_ipfrag.pcap");
    const auth = d.ikeSas[0].timeline.filter((t) => t.exchange === "IKE_AUTH" && !t.response);
    expect(auth).toHaveLength(1);
    expect(auth[0].packets).toEqual([5, 6, 7]);
    expect(auth[0].fragmentOnly).toBeUndefined();
  });

  test("c with keys: SKF fragments join one entry per message and are read decrypted", async () => {
    const d = await diagnoseFixture("made/c_ikev2_cert_frag/c_ikev2_cert_frag.pcap", IKE_KEYS);
    const auth = d.ikeSas[0].timeline.filter((t) => t.exchange === "IKE_AUTH");
    expect(auth.map((t) => t.packets.length)).toEqual([10, 3]);
    expect(auth.every((t) => t.protection === "decrypted" && !t.retransmission)).toBe(true);
    expect(auth[1].payloads).toContain("AUTH");
  });
});

describe("d_ikev2_rekey: the rekey chain", () => {
  const expected: Omit<RekeyLink, "method">[] = [
    { kind: "child", oldSa: "d1889345/beedfff3", newSa: "dbec7992/62e6ac4c", createNo: 33, createResponseNo: 34, deleteNo: 35 },
    { kind: "child", oldSa: "dbec7992/62e6ac4c", newSa: "058125df/41537f72", createNo: 61, createResponseNo: 62, deleteNo: 63 },
    { kind: "ike", oldSa: "732f456e372e0504/002796ec5b5d1dec", newSa: "83c718ec824dc24e/a73b891646eba9dd", createNo: 77, createResponseNo: 78, deleteNo: 79 },
    { kind: "child", oldSa: "058125df/41537f72", newSa: "5c76699d/9bca3409", createNo: 93, createResponseNo: 94, deleteNo: 95 },
  ];
  const F = "made/d_ikev2_rekey/d_ikev2_rekey.pcap";

  test("without keys: by timing", async () => {
    const d = await diagnoseFixture(F);
    expect(d.rekeys.map(({ method: _m, ...r }) => r)).toEqual(expected);
    expect(d.rekeys.every((r) => r.method === "timing")).toBe(true);
    expect(d.ikeSas[0].rekeyedBy).toBe("83c718ec824dc24e/a73b891646eba9dd");
    expect(d.ikeSas[1].rekeyOf).toBe("732f456e372e0504/002796ec5b5d1dec");
  });

  test("with keys: from REKEY_SA, the SA payloads and DELETE", async () => {
    const d = await diagnoseFixture(F, ALL_KEYS);
    expect(d.rekeys.map(({ method: _m, ...r }) => r)).toEqual(expected);
    expect(d.rekeys.every((r) => r.method === "decrypted")).toBe(true);
    expect(d.ikeSas[0].deleted).toBe(true);
    expect(d.espSas.map((e) => e.ikeSa)).toEqual([...Array(6).fill("732f456e372e0504/002796ec5b5d1dec"), ...Array(2).fill("83c718ec824dc24e/a73b891646eba9dd")]);
  });
});

test("d_ikev2_rekey_dpd: the timing chain agrees with the decrypted one (IKE rekey CREATE_CHILD_SA not taken for a CHILD rekey)", async () => {
  const F = "made/d_ikev2_rekey_dpd/d_ikev2_rekey_dpd.pcap";
  const strip = (d: { rekeys: RekeyLink[] }) => d.rekeys.map(({ method: _m, ...r }) => r);
  const dec = strip(await diagnoseFixture(F, ALL_KEYS));
  const timing = await diagnoseFixture(F);
  expect(dec.map((r) => r.createNo)).toEqual([21, 35, 41, 51]);
  // The last CHILD SA (rekeyed at #51) carried no ESP: timing cannot see it.
  const withEsp = dec.filter((r) => r.kind === "ike" || r.newSa.split("/").every((spi) => timing.espSas.some((e) => e.spi === spi)));
  expect(strip(timing)).toEqual(withEsp);
  expect(withEsp).toHaveLength(3);
});

describe("partial views of a good capture", () => {
  const load = () => decodeFile(`${FIX}made/d_ikev2_rekey/d_ikev2_rekey.pcap`);

  test("a capture that starts mid-way: the IKE SA is up, not failed; the chain goes on", async () => {
    const { packets } = await load();
    const dia = new Diagnoser();
    for (const p of packets.slice(39)) dia.observe(p);
    const d = dia.report();
    expect(problems(d)).toEqual([]);
    expect(d.ikeSas[0].state).toBe("established");
    expect(d.ikeSas[0].outcome).toContain("up before the capture started");
    expect(d.ikeSas[1].outcome).toContain("created by rekeying IKE SA 732f456e372e0504/002796ec5b5d1dec");
    expect(d.rekeys.map((r) => r.createNo)).toEqual([61, 77, 93]);
  });

  test("a capture of one direction only: one-way ESP, and the hint that the capture may see one direction", async () => {
    const { packets } = await load();
    const dia = new Diagnoser();
    for (const p of packets) if (p.layers.some((l) => (l as { src?: string }).src === "192.0.2.1")) dia.observe(p);
    const d = dia.report();
    const one = withCode(d, "ESP_ONE_WAY");
    expect(one.map((f) => f.espSpis![0])).toEqual(["d1889345", "dbec7992", "058125df", "5c76699d"]);
    expect(one[0].explanation.join(" ")).toContain("check first that the capture sees both directions");
  });
});

test("text: the f2 offer side by side with the unknown responder side", async () => {
  const text = renderDiagnosisText(await diagnoseFixture(F2)).join("\n");
  expect(text).toContain("offered by the initiator | accepted by the responder: unknown (it only said NO_PROPOSAL_CHOSEN)");
  expect(text).toMatch(/IKE #1 +ENCR AES_GCM_16 256-bit +\|/);
  expect(text).toContain("IKE_SA_INIT response mid 0 [ N(NO_PROP) ] 36 B  (ERROR NO_PROPOSAL_CHOSEN)");
});

test("a good setup without traffic (a, IKE only, no keys): not an error, only a warning that keys would tell", async () => {
  const { packets } = await decodeFile(`${FIX}strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap`);
  const dia = new Diagnoser();
  for (const p of packets.slice(0, 6)) dia.observe(p);
  const d = dia.report();
  expect(d.findings.filter((f) => f.severity === "error")).toEqual([]);
  const [f] = withCode(d, "ENCRYPTED_NEED_KEYS");
  expect(f.severity).toBe("warning");
  expect(f.summary).toContain("no ESP followed in the capture");
  expect(d.ikeSas[0].state).toBe("unknown");
});

test("a response missing from the capture while the exchanges go on: info, not a failure", async () => {
  const { packets } = await decodeFile(`${FIX}made/d_ikev2_rekey/d_ikev2_rekey.pcap`);
  const dia = new Diagnoser();
  for (const p of packets) if (p.no !== 34) dia.observe(p); // the CREATE_CHILD_SA response
  const d = dia.report();
  expect(problems(d)).toEqual([]);
  const [f] = withCode(d, "NO_RESPONSE");
  expect(f.severity).toBe("info");
  expect(f.packets).toEqual([33, 35]);
});

test("sharing the Decoder's ESP tracker gives the same diagnosis as a private one", async () => {
  for (const f of ["made/d_ikev2_rekey/d_ikev2_rekey.pcap", "made/f7_esp_one_way/f7_esp_one_way.pcap"]) {
    const { packets, decoder } = await decodeFile(FIX + f);
    const own = new Diagnoser();
    const shared = new Diagnoser({ esp: decoder.esp });
    for (const p of packets) {
      own.observe(p);
      shared.observe(p);
    }
    expect(shared.report()).toEqual(own.report());
  }
});
