import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { concat, toHex } from "../../lib/core/bytes.ts";
import { decodeEsp } from "../../lib/ipsec/esp.ts";
import { classifyUdp, decodeNatt } from "../../lib/ipsec/natt.ts";
import { IKETCP_PREFIX } from "../../lib/ipsec/registry.ts";
import { type TcpEncapFrame, TcpEncapParser } from "../../lib/ipsec/tcpencap.ts";
import { loadGolden, udpPayload } from "./helpers.ts";

interface Msg {
  kind: "ike" | "esp" | "keepalive";
  data: Uint8Array;
  no: number;
}

/** Real IKE and ESP messages of one direction of a strongSwan capture. */
function messages(name: string, src: string): Msg[] {
  const out: Msg[] = [];
  for (const f of loadGolden(name)) {
    if (!f.udp || f.ip!.src !== src) continue;
    const [off, end] = udpPayload(f);
    if (classifyUdp(f.udp.srcport, f.udp.dstport) === "ike") {
      out.push({ kind: "ike", data: f.bytes.slice(off, end), no: f.no });
      continue;
    }
    const l = decodeNatt(f.bytes, off, end, []);
    if (l.kind === "ike" || l.kind === "esp") out.push({ kind: l.kind, data: f.bytes.slice(l.off, end), no: f.no });
  }
  return out;
}

/** RFC 9329 framing of one message. */
function frame(m: Msg): Uint8Array {
  const body = m.kind === "ike" ? concat(new Uint8Array(4), m.data) : m.data;
  const L = body.length + 2;
  return concat(new Uint8Array([L >>> 8, L & 0xff]), body);
}

function build(msgs: Msg[], prefix: boolean): { stream: Uint8Array; offsets: number[] } {
  const parts: Uint8Array[] = prefix ? [IKETCP_PREFIX] : [];
  const offsets: number[] = [];
  let pos = prefix ? 6 : 0;
  for (const m of msgs) {
    const f = frame(m);
    offsets.push(pos);
    pos += f.length;
    parts.push(f);
  }
  return { stream: concat(...parts), offsets };
}

function simple(fs: TcpEncapFrame[]) {
  return fs.map((f) => ({ kind: f.kind, data: toHex(f.data), at: f.streamOffset, len: f.length }));
}

function expected(msgs: Msg[], offsets: number[]) {
  return msgs.map((m, i) => ({ kind: m.kind, data: toHex(m.data), at: offsets[i], len: frame(m).length }));
}

const init = messages("a_ikev2_psk_gcm_natt", "192.0.2.1");
const resp = messages("a_ikev2_psk_gcm_natt", "192.0.2.2");

describe("TcpEncapParser on a stream built from real strongSwan IKE and ESP messages", () => {
  test("the fixture gives IKE and ESP in both directions", () => {
    expect(init.map((m) => m.kind)).toEqual(["ike", "ike", "esp", "esp", "esp", "esp", "ike"]);
    expect(resp.map((m) => m.kind)).toEqual(["ike", "ike", "esp", "esp", "esp", "esp", "ike"]);
  });

  const { stream, offsets } = build(init, true);
  const want = expected(init, offsets);

  test("whole initiator stream in one push: prefix stripped, every frame exact", () => {
    const p = new TcpEncapParser({ prefix: "required" });
    const an: Anomaly[] = [];
    const got = p.push(stream, an);
    expect(an).toEqual([]);
    expect(p.prefixSeen).toBe(true);
    expect(simple(got)).toEqual(want);
    expect(p.streamOffset).toBe(stream.length);
    // ESP frames decode to the fixture's SPI/seq
    for (const f of got.filter((x) => x.kind === "esp")) {
      const esp = decodeEsp(f.data, 0, f.data.length, an)!;
      expect(esp.spi).toBe(0xc4ba5861);
    }
    expect(an).toEqual([]);
  });

  test(`split into two pushes at every one of the ${stream.length + 1} split points`, () => {
    for (let i = 0; i <= stream.length; i++) {
      const p = new TcpEncapParser();
      const an: Anomaly[] = [];
      const got = [...p.push(stream.subarray(0, i), an), ...p.push(stream.subarray(i), an)];
      if (an.length !== 0 || got.length !== want.length) throw new Error(`split at ${i}: ${JSON.stringify(an)}`);
      expect(simple(got)).toEqual(want);
    }
  });

  test("three pushes at every pair of split points around frame boundaries, and byte by byte", () => {
    const cuts = new Set<number>();
    for (const o of [0, 6, ...offsets]) for (let d = -3; d <= 8; d++) if (o + d >= 0 && o + d <= stream.length) cuts.add(o + d);
    const cs = [...cuts].sort((a, b) => a - b);
    for (const i of cs) {
      for (const j of cs) {
        if (j < i) continue;
        const p = new TcpEncapParser();
        const an: Anomaly[] = [];
        const got = [...p.push(stream.subarray(0, i), an), ...p.push(stream.subarray(i, j), an), ...p.push(stream.subarray(j), an)];
        expect(an).toEqual([]);
        expect(got.map((f) => [f.kind, f.streamOffset, f.data.length])).toEqual(want.map((w) => [w.kind, w.at, w.data.length / 2]));
      }
    }
    const p = new TcpEncapParser();
    const an: Anomaly[] = [];
    const got: TcpEncapFrame[] = [];
    for (let i = 0; i < stream.length; i++) got.push(...p.push(stream.subarray(i, i + 1), an));
    expect(an).toEqual([]);
    expect(simple(got)).toEqual(want);
  });

  test("responder stream (no prefix) with prefix 'auto' and 'none'; 'required' flags it", () => {
    const r = build(resp, false);
    const w = expected(resp, r.offsets);
    for (const mode of ["auto", "none"] as const) {
      const an: Anomaly[] = [];
      expect(simple(new TcpEncapParser({ prefix: mode }).push(r.stream, an))).toEqual(w);
      expect(an).toEqual([]);
    }
    const an: Anomaly[] = [];
    expect(simple(new TcpEncapParser({ prefix: "required" }).push(r.stream, an))).toEqual(w);
    expect(an.length).toBe(1);
    expect(an[0].reason).toContain("IKETCP");
  });

  test("frame data is a standalone copy", () => {
    const s = stream.slice();
    const got = new TcpEncapParser().push(s, []);
    const before = got.map((f) => toHex(f.data));
    s.fill(0xee);
    expect(got.map((f) => toHex(f.data))).toEqual(before);
    for (const f of got) expect(f.data.buffer).not.toBe(s.buffer);
    expect(got[0].data.byteOffset).toBe(0);
  });

  test("keepalive frame (Length 3, 0xff) and short frames (Length 2–5) keep the framing", () => {
    const ka = new Uint8Array([0, 3, 0xff]);
    const short = [new Uint8Array([0, 2]), new Uint8Array([0, 3, 1]), new Uint8Array([0, 5, 1, 2, 3])];
    const s = concat(frame(init[0]), ka, ...short, frame(init[2]));
    const an: Anomaly[] = [];
    const got = new TcpEncapParser({ prefix: "none" }).push(s, an);
    expect(got.map((f) => f.kind)).toEqual(["ike", "keepalive", "esp"]);
    expect(toHex(got[2].data)).toBe(toHex(init[2].data));
    expect(an.length).toBe(3);
    expect(an[0].reason).toContain("empty frame");
    expect(an[1].reason).toContain("too short");
    expect(an[2].reason).toContain("too short");
  });

  test("Length 0 loses framing: resync on the next IKE frame, ESP in between discarded and counted", () => {
    const head = concat(IKETCP_PREFIX, frame(init[0]), frame(init[1]));
    const espBytes = concat(...init.slice(2, 6).map(frame));
    const s = concat(head, new Uint8Array([0, 0]), espBytes, frame(init[6]));
    for (const step of [s.length, 1, 7, 100]) {
      const p = new TcpEncapParser();
      const an: Anomaly[] = [];
      const got: TcpEncapFrame[] = [];
      for (let i = 0; i < s.length; i += step) got.push(...p.push(s.subarray(i, i + step), an));
      expect(got.map((f) => f.kind)).toEqual(["ike", "ike", "ike"]);
      expect(toHex(got[2].data)).toBe(toHex(init[6].data));
      expect(got[2].streamOffset).toBe(head.length + 2 + espBytes.length);
      expect(an.length).toBe(2);
      expect(an[0]).toEqual({ layer: "tcpencap", offset: head.length, reason: "Length 0 is a fatal framing error (RFC 9329 §3): framing lost, resynchronising" });
      expect(an[1].offset).toBe(head.length + 2 + espBytes.length);
      expect(an[1].reason).toContain(`after discarding ${2 + espBytes.length} bytes`);
      expect(p.resyncs).toBe(1);
      expect(p.discardedBytes).toBe(2 + espBytes.length);
      expect(p.resyncing).toBe(false);
    }
  });

  test("gap() (bytes lost before the reassembler) resyncs; maxFrame bounds frames; finish() reports a cut frame", () => {
    const p = new TcpEncapParser({ prefix: "none" });
    const an: Anomaly[] = [];
    const f0 = frame(init[0]);
    const got = p.push(f0.subarray(0, 100), an);
    p.gap(50, an);
    expect(p.resyncing).toBe(true);
    got.push(...p.push(concat(f0.subarray(150), frame(init[2]), frame(init[1])), an));
    expect(got.map((f) => toHex(f.data))).toEqual([toHex(init[1].data)]);
    expect(an[0].reason).toContain("50 bytes missing");

    const q = new TcpEncapParser({ prefix: "none", maxFrame: 200 });
    const an2: Anomaly[] = [];
    const got2 = q.push(concat(frame(init[0]), frame(init[2])), an2); // IKE_SA_INIT is > 200 bytes
    // the oversized IKE frame loses framing; the ESP frame after it cannot be resynced on
    expect(got2).toEqual([]);
    expect(q.resyncing).toBe(true);
    expect(an2[0].reason).toContain("exceeds the maximum frame size 200");

    const r = new TcpEncapParser({ prefix: "none" });
    const an3: Anomaly[] = [];
    r.push(f0.subarray(0, 40), an3);
    r.finish(an3);
    expect(an3[0].reason).toBe(`stream ended inside a frame: have 40 of ${f0.length} bytes`);
  });

  test("an IKE header length that disagrees with the frame is reported", () => {
    const m = { ...init[0], data: init[0].data.slice() };
    m.data[27] ^= 1;
    const an: Anomaly[] = [];
    const got = new TcpEncapParser({ prefix: "none" }).push(frame(m), an);
    expect(got.length).toBe(1);
    expect(an[0].reason).toContain("differs from the frame");
  });
});
