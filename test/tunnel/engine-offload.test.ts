/**
 * TUN offload helpers (lib/tunnel/offload.ts): TSO super-packet segmentation and GRO-like
 * coalescing, checked against an independent (naive) checksum implementation.
 */
import { describe, expect, test } from "bun:test";
import {
  forEachSegment, GSO_NONE, GSO_TCPV4, GSO_TCPV6, TcpCoalescer, VIRTIO_NET_HDR_F_NEEDS_CSUM, VNET_HDR_LEN,
} from "../../lib/tunnel/offload.ts";

/** Naive RFC 1071 checksum over a list of byte arrays (each treated as concatenated). */
function refSum(parts: Uint8Array[]): number {
  const all: number[] = [];
  for (const p of parts) all.push(...p);
  if (all.length & 1) all.push(0);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) {
    s += all[i] * 256 + all[i + 1];
    s = (s & 0xffff) + (s >>> 16);
  }
  return s;
}

function be16(b: Uint8Array, o: number): number {
  return b[o] * 256 + b[o + 1];
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function ipHdrOk(p: Uint8Array): boolean {
  return refSum([p.subarray(0, (p[0] & 15) * 4)]) === 0xffff;
}

function tcpOk(p: Uint8Array): boolean {
  const v6 = p[0] >> 4 === 6;
  const ihl = v6 ? 40 : (p[0] & 15) * 4;
  const l4 = p.length - ihl;
  const pseudo = v6
    ? [p.subarray(8, 40), new Uint8Array([0, 0, l4 >> 8, l4 & 0xff, 0, 0, 0, 6])]
    : [p.subarray(12, 20), new Uint8Array([0, 6, l4 >> 8, l4 & 0xff])];
  return refSum([...pseudo, p.subarray(ihl)]) === 0xffff;
}

/** Set a full (valid) TCP checksum with the reference implementation. */
function setTcpCsum(p: Uint8Array): void {
  const v6 = p[0] >> 4 === 6;
  const ihl = v6 ? 40 : 20;
  p[ihl + 16] = 0;
  p[ihl + 17] = 0;
  const l4 = p.length - ihl;
  const pseudo = v6
    ? [p.subarray(8, 40), new Uint8Array([0, 0, l4 >> 8, l4 & 0xff, 0, 0, 0, 6])]
    : [p.subarray(12, 20), new Uint8Array([0, 6, l4 >> 8, l4 & 0xff])];
  const c = ~refSum([...pseudo, p.subarray(ihl)]) & 0xffff;
  p[ihl + 16] = c >> 8;
  p[ihl + 17] = c & 0xff;
}

function setIpCsum(p: Uint8Array): void {
  p[10] = 0;
  p[11] = 0;
  const c = ~refSum([p.subarray(0, 20)]) & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 0xff;
}

const OPTS = new Uint8Array([1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78]); // NOP NOP TS

/** A TCP packet (IPv4 or IPv6) with the timestamp option, payload bytes from `fill(i)`. */
function tcpPacket(v6: boolean, seq: number, payload: Uint8Array, flags = 0x10, id = 0x1000, srcPort = 40000): Uint8Array {
  const ihl = v6 ? 40 : 20;
  const thl = 20 + OPTS.length;
  const p = new Uint8Array(ihl + thl + payload.length);
  if (v6) {
    p[0] = 0x60;
    p[4] = (p.length - 40) >> 8;
    p[5] = (p.length - 40) & 0xff;
    p[6] = 6;
    p[7] = 64;
    p[23] = 1;
    p[24] = 0xfd;
    p[39] = 2;
    p[8] = 0xfd;
  } else {
    p[0] = 0x45;
    p[2] = p.length >> 8;
    p[3] = p.length & 0xff;
    p[4] = id >> 8;
    p[5] = id & 0xff;
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 6;
    p.set([10, 202, 0, 1, 10, 202, 0, 2], 12);
    setIpCsum(p);
  }
  const t = ihl;
  p[t] = srcPort >> 8;
  p[t + 1] = srcPort & 0xff;
  p[t + 2] = 0x14;
  p[t + 3] = 0x51;
  p[t + 4] = seq >>> 24;
  p[t + 5] = (seq >>> 16) & 0xff;
  p[t + 6] = (seq >>> 8) & 0xff;
  p[t + 7] = seq & 0xff;
  p.set([0xaa, 0xbb, 0xcc, 0xdd], t + 8);
  p[t + 12] = (thl / 4) << 4;
  p[t + 13] = flags;
  p[t + 14] = 0x01;
  p[t + 15] = 0xf5;
  p.set(OPTS, t + 20);
  p.set(payload, ihl + thl);
  setTcpCsum(p);
  return p;
}

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 0xff);
}

/** What the kernel hands over with TSO: vnet header + super-packet with a partial checksum. */
function superFrame(v6: boolean, seq: number, payload: Uint8Array, mss: number, flags = 0x18): Uint8Array {
  const p = tcpPacket(v6, seq, payload, flags);
  const ihl = v6 ? 40 : 20;
  // partial checksum: pseudo-header sum only, as the kernel leaves it for NEEDS_CSUM
  const l4 = p.length - ihl;
  const pseudo = v6
    ? [p.subarray(8, 40), new Uint8Array([0, 0, l4 >> 8, l4 & 0xff, 0, 0, 0, 6])]
    : [p.subarray(12, 20), new Uint8Array([0, 6, l4 >> 8, l4 & 0xff])];
  const ps = refSum(pseudo);
  p[ihl + 16] = ps >> 8;
  p[ihl + 17] = ps & 0xff;
  const f = new Uint8Array(VNET_HDR_LEN + p.length);
  f[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  f[1] = v6 ? GSO_TCPV6 : GSO_TCPV4;
  const hl = ihl + 20 + OPTS.length;
  f[2] = hl;
  f[4] = mss & 0xff;
  f[5] = mss >> 8;
  f[6] = ihl;
  f[8] = 16;
  f.set(p, VNET_HDR_LEN);
  return f;
}

function segment(frame: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const r = forEachSegment(frame, VNET_HDR_LEN, frame.length, (p) => out.push(p.slice()));
  expect(typeof r).toBe("number");
  expect(r).toBe(out.length);
  return out;
}

describe("TSO segmentation (forEachSegment)", () => {
  for (const v6 of [false, true]) {
    test(`IPv${v6 ? 6 : 4}: 64 KiB-ish super-packet → MSS segments with valid checksums, seq, flags, lengths`, () => {
      const mss = 1386;
      const payload = bytes(30000, 3);
      const seq0 = 0xfffff000; // wraps
      const segs = segment(superFrame(v6, seq0, payload, mss));
      expect(segs.length).toBe(Math.ceil(30000 / mss));
      const ihl = v6 ? 40 : 20;
      const hl = ihl + 32;
      let off = 0;
      segs.forEach((s, i) => {
        const n = s.length - hl;
        expect(n).toBe(Math.min(mss, 30000 - off));
        expect(s.subarray(hl)).toEqual(payload.subarray(off, off + n));
        if (v6) expect(be16(s, 4)).toBe(s.length - 40);
        else {
          expect(be16(s, 2)).toBe(s.length);
          expect(be16(s, 4)).toBe((0x1000 + i) & 0xffff);
          expect(ipHdrOk(s)).toBe(true);
        }
        expect(tcpOk(s)).toBe(true);
        expect(be32(s, ihl + 4)).toBe((seq0 + off) >>> 0);
        expect(s[ihl + 13]).toBe(i === segs.length - 1 ? 0x18 : 0x10);
        expect(s.subarray(ihl + 20, ihl + 32)).toEqual(OPTS);
        off += n;
      });
      expect(off).toBe(30000);
    });
  }

  test("payload that is an exact multiple of the MSS, odd MSS, FIN on the last segment only", () => {
    const segs = segment(superFrame(false, 1, bytes(999 * 4, 1), 999, 0x19));
    expect(segs.length).toBe(4);
    for (const [i, s] of segs.entries()) {
      expect(tcpOk(s)).toBe(true);
      expect(s[20 + 13]).toBe(i === 3 ? 0x19 : 0x10);
    }
  });

  test("non-GSO packet with NEEDS_CSUM: checksum completed (TCP and UDP)", () => {
    const f = superFrame(false, 5, bytes(100, 2), 1400, 0x18);
    f[1] = GSO_NONE;
    const [s] = segment(f);
    expect(tcpOk(s)).toBe(true);
    // UDP with a partial checksum
    const u = new Uint8Array(VNET_HDR_LEN + 20 + 8 + 33);
    const p = u.subarray(VNET_HDR_LEN);
    p[0] = 0x45; p[2] = 0; p[3] = p.length; p[8] = 64; p[9] = 17;
    p.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
    setIpCsum(p);
    p[20] = 0x13; p[21] = 0x88; p[22] = 0x13; p[23] = 0x89; p[24] = 0; p[25] = 41;
    p.set(bytes(33, 9), 28);
    const ps = refSum([p.subarray(12, 20), new Uint8Array([0, 17, 0, 41])]);
    p[26] = ps >> 8; p[27] = ps & 0xff;
    u[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM; u[6] = 20; u[8] = 6;
    const [q] = segment(u);
    const l4 = 41;
    expect(refSum([q.subarray(12, 20), new Uint8Array([0, 17, 0, l4]), q.subarray(20)])).toBe(0xffff);
  });

  test("plain packet without offload flags is passed through unchanged", () => {
    const p = tcpPacket(false, 7, bytes(50, 1));
    const f = new Uint8Array(VNET_HDR_LEN + p.length);
    f.set(p, VNET_HDR_LEN);
    expect(segment(f)).toEqual([p]);
  });

  test("rejects what it cannot cut: UDP GSO, truncated headers", () => {
    const f = superFrame(false, 1, bytes(5000, 1), 1000);
    f[1] = 3; // UDP
    expect(forEachSegment(f, VNET_HDR_LEN, f.length, () => {})).toBe("gso-type");
    const g = superFrame(false, 1, bytes(5000, 1), 1000);
    expect(forEachSegment(g, VNET_HDR_LEN, VNET_HDR_LEN + 30, () => {})).toBe("short");
  });
});

describe("GRO-like coalescing (TcpCoalescer)", () => {
  function collect(): { frames: Uint8Array[]; c: TcpCoalescer } {
    const frames: Uint8Array[] = [];
    return { frames, c: new TcpCoalescer((f) => frames.push(f.slice())) };
  }

  for (const v6 of [false, true]) {
    test(`IPv${v6 ? 6 : 4}: in-sequence segments merge into one GSO frame that re-segments to the same packets`, () => {
      const mss = 1386;
      const segs = segment(superFrame(v6, 123456, bytes(20000, 5), mss));
      const { frames, c } = collect();
      for (const s of segs) c.push(s);
      expect(frames.length).toBe(1); // PSH on the last segment closes the flow
      expect(c.pending).toBe(false);
      const f = frames[0];
      expect(f[0]).toBe(VIRTIO_NET_HDR_F_NEEDS_CSUM);
      expect(f[1]).toBe(v6 ? GSO_TCPV6 : GSO_TCPV4);
      expect(f[4] | (f[5] << 8)).toBe(mss);
      expect(f[6] | (f[7] << 8)).toBe(v6 ? 40 : 20);
      expect(f[8] | (f[9] << 8)).toBe(16);
      if (!v6) expect(ipHdrOk(f.subarray(VNET_HDR_LEN))).toBe(true);
      // what the kernel would do with it: the same segments again
      expect(segment(f)).toEqual(segs);
    });
  }

  test("without PSH the flow stays pending until flush", () => {
    const segs = segment(superFrame(false, 1, bytes(1386 * 3, 5), 1386, 0x10));
    const { frames, c } = collect();
    for (const s of segs) c.push(s);
    expect(frames.length).toBe(0);
    expect(c.pending).toBe(true);
    c.flush();
    expect(frames.length).toBe(1);
    expect(segment(frames[0])).toEqual(segs);
  });

  test("two interleaved flows merge separately; a single segment is written untouched with a plain header", () => {
    const a = segment(superFrame(false, 1000, bytes(1386 * 4, 1), 1386, 0x10));
    const bPkt = tcpPacket(false, 5000, bytes(1386, 2), 0x10, 0x2000, 40001);
    const b2 = tcpPacket(false, 5000 + 1386, bytes(1386, 3), 0x10, 0x2001, 40001);
    const { frames, c } = collect();
    c.push(a[0]); c.push(bPkt); c.push(a[1]); c.push(b2); c.push(a[2]); c.push(a[3]);
    c.flush();
    expect(frames.length).toBe(2);
    expect(segment(frames[0])).toEqual(a);
    expect(segment(frames[1])).toEqual([bPkt, b2]);
    const { frames: f2, c: c2 } = collect();
    c2.push(bPkt);
    c2.flush();
    expect(f2.length).toBe(1);
    expect(f2[0].subarray(0, VNET_HDR_LEN)).toEqual(new Uint8Array(VNET_HDR_LEN));
    expect(f2[0].subarray(VNET_HDR_LEN)).toEqual(bPkt);
  });

  test("a segment with a bad TCP checksum is never merged (written alone, after the pending data)", () => {
    const segs = segment(superFrame(false, 1, bytes(1386 * 3, 5), 1386, 0x10));
    const bad = segs[1].slice();
    bad[bad.length - 1] ^= 1;
    const { frames, c } = collect();
    c.push(segs[0]); c.push(bad); c.push(segs[2]);
    c.flush();
    expect(frames.length).toBe(3);
    expect(frames[0].subarray(VNET_HDR_LEN)).toEqual(segs[0]);
    expect(frames[1].subarray(VNET_HDR_LEN)).toEqual(bad);
    expect(frames[2].subarray(VNET_HDR_LEN)).toEqual(segs[2]);
  });

  test("gaps, different ACK/options, and non-TCP packets are not merged; order within a flow is kept", () => {
    const segs = segment(superFrame(false, 1, bytes(1386 * 4, 5), 1386, 0x10));
    const { frames, c } = collect();
    c.push(segs[0]);
    c.push(segs[2]); // gap: segs[0] goes out first
    expect(frames.length).toBe(1);
    expect(frames[0].subarray(VNET_HDR_LEN)).toEqual(segs[0]);
    const otherAck = segs[3].slice();
    otherAck[20 + 8] ^= 1;
    setTcpCsum(otherAck);
    c.push(otherAck); // seq fits but ACK differs
    expect(frames.length).toBe(2);
    const udp = new Uint8Array(40);
    udp[0] = 0x45; udp[3] = 40; udp[9] = 17;
    c.push(udp);
    expect(frames.length).toBe(3);
    expect(frames[2].subarray(VNET_HDR_LEN)).toEqual(udp);
    c.flush();
    expect(frames.length).toBe(4);
    expect(frames[3].subarray(VNET_HDR_LEN)).toEqual(otherAck);
  });

  test("merged size stays within 64 KiB", () => {
    const mss = 1386;
    const segs = segment(superFrame(false, 1, bytes(mss * 60, 5), mss, 0x10));
    const { frames, c } = collect();
    for (const s of segs) c.push(s);
    c.flush();
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(f.length - VNET_HDR_LEN).toBeLessThanOrEqual(65535);
    expect(frames.flatMap((f) => segment(f))).toEqual(segs);
  });
});
