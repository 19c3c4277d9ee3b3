// Acceptance: our own fixtures, made with real strongSwan (scripts/capture/),
// each decode to what the capture is known to contain (see fixtures/made/README.md).
import { describe, expect, test } from "bun:test";
import type { DecodedPacket, LayerBase } from "../../lib/core/layer.ts";
import type { Ikev2Message } from "../../lib/ike/v2/message.ts";
import type { IsakmpMessage } from "../../lib/ike/v1/message.ts";
import { decodeFile, FIX } from "./helpers.ts";

const M = `${FIX}made/`;
const layers = (ps: DecodedPacket[], name: string) => ps.flatMap((p) => p.layers.filter((l) => l.layer === name).map((l) => ({ p, l })));
const noAnomalies = (ps: DecodedPacket[]) => expect(ps.flatMap((p) => p.anomalies.map((a) => `#${p.no} ${a.layer}@${a.offset}: ${a.reason}`))).toEqual([]);

describe("fixtures made with real strongSwan", () => {
  test("c_ikev2_cert_frag: IKE_AUTH carried in RFC 7383 SKF fragments (10 + 3)", async () => {
    const { packets } = await decodeFile(`${M}c_ikev2_cert_frag/c_ikev2_cert_frag.pcap`);
    noAnomalies(packets);
    const skf = layers(packets, "ikev2").flatMap(({ l }) => (l as Ikev2Message).payloads.filter((x) => x.kind === "skf").map((x) => ({ m: l as Ikev2Message, f: x as { fragmentNumber: number; totalFragments: number } })));
    const req = skf.filter((x) => !x.m.flags.response), rsp = skf.filter((x) => x.m.flags.response);
    expect(req.map((x) => x.f.fragmentNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(new Set(req.map((x) => x.f.totalFragments))).toEqual(new Set([10]));
    expect(rsp.map((x) => x.f.fragmentNumber)).toEqual([1, 2, 3]);
    expect(skf.every((x) => x.m.exchangeName === "IKE_AUTH")).toBe(true);
    // IKE_SA_INIT carries the fragmentation support notify and a CERTREQ from the responder
    const init = layers(packets, "ikev2").map(({ l }) => l as Ikev2Message).filter((m) => m.exchangeName === "IKE_SA_INIT");
    expect(init[0].payloads.some((x) => x.kind === "notify" && (x as { notifyName: string }).notifyName === "IKEV2_FRAGMENTATION_SUPPORTED")).toBe(true);
    expect(init[1].payloads.some((x) => x.kind === "certreq")).toBe(true);
  });

  test("d_ikev2_rekey: CREATE_CHILD_SA rekeys, new ESP SA pairs, a second IKE SA", async () => {
    const { packets, decoder } = await decodeFile(`${M}d_ikev2_rekey/d_ikev2_rekey.pcap`);
    noAnomalies(packets);
    const ex = layers(packets, "ikev2").map(({ l }) => (l as Ikev2Message).exchangeName);
    expect(ex.filter((e) => e === "CREATE_CHILD_SA").length).toBeGreaterThanOrEqual(8); // 3 child + 1 IKE rekey, request+response
    const st = decoder.stats();
    expect(st.espSas.length).toBe(8); // 4 CHILD SAs
    expect(st.espPairs.length).toBe(4);
    expect(st.espOneWay).toEqual([]);
    expect(st.ikeSas.length).toBe(2); // the rekeyed IKE SA appears with new SPIs
    for (const e of st.espSas) expect(e.missing).toBe(0);
  });

  test("e2_ikev1_aggressive_psk: aggressive mode then quick mode", async () => {
    const { packets } = await decodeFile(`${M}e2_ikev1_aggressive_psk/e2_ikev1_aggressive_psk.pcap`);
    noAnomalies(packets);
    const msgs = layers(packets, "isakmp").map(({ l }) => l as IsakmpMessage);
    expect(msgs[0].exchange).toBe(4);
    expect(msgs[0].payloads.map((x) => x.kind).slice(0, 4)).toEqual(["sa", "ke", "nonce", "id"]);
    expect(msgs[1].payloads.some((x) => x.kind === "natd")).toBe(true);
    expect(msgs.filter((m) => m.exchange === 32).length).toBe(3);
    expect(msgs.filter((m) => m.flags.encryption).length).toBeGreaterThanOrEqual(4);
  });

  test("h_ikev2_ipv6_outer: IKEv2 and ESP-in-UDP over IPv6", async () => {
    const { packets, decoder } = await decodeFile(`${M}h_ikev2_ipv6_outer/h_ikev2_ipv6_outer.pcap`);
    noAnomalies(packets);
    const ike = packets.filter((p) => p.layers.some((l) => l.layer === "ikev2"));
    expect(ike.length).toBe(6); // IKE_SA_INIT, IKE_AUTH, INFORMATIONAL (delete), each request + response
    for (const p of ike) expect((p.layers.find((l) => l.layer === "ipv6") as LayerBase & { src: string }).src.startsWith("2001:db8::")).toBe(true);
    expect(decoder.stats().espSas.map((e) => e.src).sort()).toEqual(["2001:db8::1", "2001:db8::2"]);
    expect(decoder.stats().ikeSas[0].outcome).not.toContain("failed");
  });

  test("i_ikev2_ipfrag: an IKE_AUTH in 3 IP fragments is reassembled and decoded", async () => {
    const { packets } = await decodeFile(`${M}i_ikev2_ipfrag/i_ikev2_ipfrag.pcap`);
    noAnomalies(packets);
    const re = packets.filter((p) => p.layers.some((l) => l.layer === "reassembled"));
    expect(re.length).toBe(1);
    const r = re[0].layers.find((l) => l.layer === "reassembled") as LayerBase & { fragments: number[] };
    expect(r.fragments.length).toBe(3);
    const m = re[0].layers.find((l) => l.layer === "ikev2") as Ikev2Message;
    expect(m.exchangeName).toBe("IKE_AUTH");
    expect(m.length).toBeGreaterThan(3000);
    expect(m.payloads.map((x) => x.kind)).toEqual(["sk"]);
    // the first fragment is also shown, decoded as far as it goes, without anomalies
    const first = packets.find((p) => p.no === r.fragments[0])!;
    expect(first.layers.some((l) => l.layer === "ikev2")).toBe(true);
    expect(first.anomalies).toEqual([]);
  });

  test("f6_ikev2_ipfrag_dropped: lost IKE_AUTH fragments leave first fragments and incomplete datagrams", async () => {
    const { packets, decoder } = await decodeFile(`${M}f6_ikev2_ipfrag_dropped/f6_ikev2_ipfrag_dropped.pcap`);
    const firsts = packets.filter((p) => p.notes?.some((n) => n.includes("held for reassembly")) && p.layers.some((l) => l.layer === "ikev2"));
    expect(firsts.length).toBe(4);
    expect(packets.some((p) => p.layers.some((l) => l.layer === "reassembled"))).toBe(false);
    const left = decoder.finish();
    expect(left.length + decoder.stats().fragments.expired).toBeGreaterThan(0);
  });
});
