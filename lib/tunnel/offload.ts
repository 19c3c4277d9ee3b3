/**
 * TCP segmentation / coalescing for a TUN device opened with IFF_VNET_HDR (Linux
 * `struct virtio_net_hdr`, 10 bytes, little-endian). Runtime-neutral: byte arrays only.
 *
 * Read side ({@link forEachSegment}): with TUNSETOFFLOAD (TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6)
 * the kernel hands us TCP super-packets of up to 64 KiB (gso_type TCPV4/TCPV6, gso_size =
 * MSS) and packets whose transport checksum is only partial (flags NEEDS_CSUM:
 * the field at csum_start+csum_offset holds the pseudo-header sum). Each super-packet is
 * cut into MSS-sized IP packets, built in place (the header is written just before each
 * payload chunk, over bytes already consumed), with IPv4 total length / ID / header
 * checksum, IPv6 payload length, TCP sequence number, flags (FIN/PSH only on the last
 * segment, CWR only on the first) and a full TCP checksum per segment.
 *
 * Write side ({@link TcpCoalescer}): GRO-like. Consecutive in-sequence TCP segments of one
 * flow (same addresses/ports, ACK, window, identical options, pure ACK/ACK|PSH flags,
 * full-MSS segments except the last) are merged into one super-packet written with
 * gso_type TCPV4/TCPV6 and NEEDS_CSUM. Each segment's TCP checksum is verified before it
 * is merged (a bad one is written alone, for the kernel to drop), so the partial checksum
 * of the merged packet never hides a corrupt segment.
 * @module
 */

/** Size of `struct virtio_net_hdr` (TUNSETVNETHDRSZ default). */
export const VNET_HDR_LEN = 10;
export const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP = 3;
export const GSO_TCPV6 = 4;
export const GSO_ECN = 0x80;

/** Ones'-complement sum (not folded beyond 32 bits' worth of safety) of b[start, end), added to `sum`. */
export function csumAdd(b: Uint8Array, start: number, end: number, sum: number): number {
  let i = start;
  const e1 = end - 1;
  // Accumulate 16-bit words; fold every 2^15 words at most (a Number holds 2^53 exactly, so fold only at the end).
  for (; i < e1; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  return sum;
}

/** Fold a running sum to 16 bits (not complemented). */
export function csumFold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return sum;
}

/** Pseudo-header sum (unfolded) for TCP/UDP over IPv4 or IPv6 packet `p` (IP header at 0). */
export function pseudoSum(p: Uint8Array, v6: boolean, proto: number, l4len: number): number {
  let s = v6 ? csumAdd(p, 8, 40, 0) : csumAdd(p, 12, 20, 0);
  s += proto + (l4len >>> 16) + (l4len & 0xffff);
  return s;
}

/** IPv4 header checksum over p[0, ihl), written at bytes 10-11. */
export function fixIpv4HeaderChecksum(p: Uint8Array, ihl: number): void {
  p[10] = 0;
  p[11] = 0;
  const c = ~csumFold(csumAdd(p, 0, ihl, 0)) & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 0xff;
}

/** True when the TCP/UDP checksum of IP packet `p` (transport header at `l4`) verifies. */
export function l4ChecksumOk(p: Uint8Array, v6: boolean, proto: number, l4: number): boolean {
  const s = csumAdd(p, l4, p.length, pseudoSum(p, v6, proto, p.length - l4));
  return csumFold(s) === 0xffff;
}

/** Parsed virtio_net_hdr. */
export interface VnetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function readVnetHdr(b: Uint8Array, off: number): VnetHdr {
  return {
    flags: b[off],
    gsoType: b[off + 1],
    hdrLen: b[off + 2] | (b[off + 3] << 8),
    gsoSize: b[off + 4] | (b[off + 5] << 8),
    csumStart: b[off + 6] | (b[off + 7] << 8),
    csumOffset: b[off + 8] | (b[off + 9] << 8),
  };
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

function putLe16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >> 8) & 0xff;
}

/**
 * Complete a NEEDS_CSUM checksum in place: the 16-bit field at `start+offset` holds the
 * pseudo-header sum; the result is the complemented sum over p[start, end).
 * Returns false when the offsets do not fit the packet.
 */
export function completeChecksum(p: Uint8Array, start: number, offset: number): boolean {
  const f = start + offset;
  if (start >= p.length || f + 2 > p.length) return false;
  let c = ~csumFold(csumAdd(p, start, p.length, 0)) & 0xffff;
  // UDP: a computed 0 is sent as 0xffff (RFC 768); harmless for TCP (both mean the same sum).
  if (c === 0 && offset === 6) c = 0xffff;
  put16(p, f, c);
  return true;
}

/** Reason a super-packet could not be segmented (the caller counts and drops it). */
export type SegmentError = "short" | "gso-type" | "not-tcp";

/**
 * Cut the packet `buf[off, end)` that follows a virtio_net_hdr at `buf[off - 10]` into IP
 * packets and call `cb` for each (a view into `buf`, valid only during the call; `buf` is
 * modified). Non-GSO packets are passed through (after completing a partial checksum).
 * Returns the number of packets delivered, or an error.
 */
export function forEachSegment(buf: Uint8Array, off: number, end: number, cb: (pkt: Uint8Array) => void): number | SegmentError {
  const h = off - VNET_HDR_LEN;
  const flags = buf[h];
  const gsoType = buf[h + 1] & ~GSO_ECN;
  const gsoSize = buf[h + 4] | (buf[h + 5] << 8);
  const csumStart = buf[h + 6] | (buf[h + 7] << 8);
  const csumOffset = buf[h + 8] | (buf[h + 9] << 8);
  if (gsoType === GSO_NONE) {
    const pkt = buf.subarray(off, end);
    if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && !completeChecksum(pkt, csumStart, csumOffset)) return "short";
    cb(pkt);
    return 1;
  }
  if (gsoType !== GSO_TCPV4 && gsoType !== GSO_TCPV6) return "gso-type";
  const len = end - off;
  if (len < 20) return "short";
  const v6 = gsoType === GSO_TCPV6;
  let ihl: number;
  if (v6) {
    if (len < 60 || buf[off] >> 4 !== 6) return "short";
    if (buf[off + 6] !== 6) return "not-tcp"; // extension headers: not produced for TSO here
    ihl = 40;
  } else {
    if (buf[off] >> 4 !== 4) return "short";
    ihl = (buf[off] & 15) * 4;
    if (ihl < 20 || buf[off + 9] !== 6) return "not-tcp";
  }
  const t = off + ihl;
  if (t + 20 > end) return "short";
  const thl = (buf[t + 12] >> 4) * 4;
  const hl = ihl + thl;
  if (thl < 20 || off + hl > end || gsoSize === 0) return "short";
  const payloadLen = len - hl;
  if (payloadLen <= gsoSize) {
    // one segment: finish the checksum like a plain packet
    const pkt = buf.subarray(off, end);
    if (!v6) {
      put16(pkt, 2, len);
      fixIpv4HeaderChecksum(pkt, ihl);
    } else put16(pkt, 4, len - 40);
    put16(pkt, ihl + 16, csumFold(pseudoSum(pkt, v6, 6, len - ihl)));
    completeChecksum(pkt, ihl, 16);
    cb(pkt);
    return 1;
  }
  // template header (the in-place build overwrites the bytes before each chunk)
  const tpl = buf.slice(off, off + hl);
  const seq0 = ((tpl[ihl + 4] << 24) | (tpl[ihl + 5] << 16) | (tpl[ihl + 6] << 8) | tpl[ihl + 7]) >>> 0;
  const flags0 = tpl[ihl + 13];
  const id0 = v6 ? 0 : (tpl[4] << 8) | tpl[5];
  let n = 0;
  for (let p = 0; p < payloadLen; p += gsoSize) {
    const seg = Math.min(gsoSize, payloadLen - p);
    const last = p + seg >= payloadLen;
    const start = off + hl + p - hl; // header goes right before this chunk
    const pkt = buf.subarray(start, start + hl + seg);
    if (n > 0) pkt.set(tpl, 0);
    const total = hl + seg;
    if (v6) put16(pkt, 4, total - 40);
    else {
      put16(pkt, 2, total);
      put16(pkt, 4, (id0 + n) & 0xffff);
      fixIpv4HeaderChecksum(pkt, ihl);
    }
    const seq = (seq0 + p) >>> 0;
    pkt[ihl + 4] = seq >>> 24;
    pkt[ihl + 5] = (seq >>> 16) & 0xff;
    pkt[ihl + 6] = (seq >>> 8) & 0xff;
    pkt[ihl + 7] = seq & 0xff;
    let f = flags0;
    if (!last) f &= ~0x09; // FIN, PSH only on the last segment
    if (n > 0) f &= ~0x80; // CWR only on the first
    pkt[ihl + 13] = f;
    put16(pkt, ihl + 16, 0);
    const c = ~csumFold(csumAdd(pkt, ihl, total, pseudoSum(pkt, v6, 6, total - ihl))) & 0xffff;
    put16(pkt, ihl + 16, c);
    cb(pkt);
    n++;
  }
  return n;
}

/** Write a virtio_net_hdr for a plain packet (no offload). */
export function putPlainVnetHdr(b: Uint8Array, off: number): void {
  b.fill(0, off, off + VNET_HDR_LEN);
}

interface Slot {
  /** Buffer: virtio_net_hdr + merged IP packet. */
  buf: Uint8Array;
  /** Bytes used in buf (header included). */
  used: number;
  v6: boolean;
  ihl: number;
  thl: number;
  mss: number;
  segs: number;
  nextSeq: number;
  /** No more segments may follow (short segment or PSH). */
  closed: boolean;
  active: boolean;
}

/** Max bytes of one merged IP packet (IPv4 total length / IPv6 payload length limit). */
const MAX_MERGED = 65535;
const MAX_SEGS = 64;

/**
 * GRO-like coalescer for TUN writes. `push(pkt)` takes one IP packet (copied); whole
 * super-packets (virtio_net_hdr included) come out through `emit` when a flow cannot grow
 * or on {@link flush}. Packets that cannot be merged are emitted at once (with a plain
 * header), after any pending data of the same flow, so each flow keeps its order.
 */
export class TcpCoalescer {
  private readonly slots: Slot[] = [];
  private activeCount = 0;
  /** Packets merged into a previous one (stats). */
  merged = 0;
  private readonly one: Uint8Array;

  constructor(private readonly emit: (frame: Uint8Array) => void, nSlots = 8) {
    for (let i = 0; i < nSlots; i++) {
      this.slots.push({ buf: new Uint8Array(VNET_HDR_LEN + MAX_MERGED), used: 0, v6: false, ihl: 0, thl: 0, mss: 0, segs: 0, nextSeq: 0, closed: false, active: false });
    }
    this.one = new Uint8Array(VNET_HDR_LEN + MAX_MERGED);
  }

  /** True when something waits for {@link flush}. */
  get pending(): boolean {
    return this.activeCount > 0;
  }

  /** Emit one packet alone with a plain (all-zero) virtio_net_hdr. */
  private emitPlain(pkt: Uint8Array): void {
    const f = this.one;
    f.fill(0, 0, VNET_HDR_LEN);
    f.set(pkt, VNET_HDR_LEN);
    this.emit(f.subarray(0, VNET_HDR_LEN + pkt.length));
  }

  private emitSlot(s: Slot): void {
    s.active = false;
    this.activeCount--;
    const b = s.buf;
    const o = VNET_HDR_LEN;
    const pkt = b.subarray(o, s.used);
    const len = pkt.length;
    if (s.segs === 1) {
      b.fill(0, 0, VNET_HDR_LEN); // the original packet, untouched checksums
      this.emit(b.subarray(0, s.used));
      return;
    }
    const ihl = s.ihl;
    if (s.v6) put16(pkt, 4, len - 40);
    else {
      put16(pkt, 2, len);
      fixIpv4HeaderChecksum(pkt, ihl);
    }
    // partial checksum: the pseudo-header sum (not complemented), the kernel finishes it
    put16(pkt, ihl + 16, csumFold(pseudoSum(pkt, s.v6, 6, len - ihl)));
    b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    b[1] = s.v6 ? GSO_TCPV6 : GSO_TCPV4;
    putLe16(b, 2, ihl + s.thl);
    putLe16(b, 4, s.mss);
    putLe16(b, 6, ihl);
    putLe16(b, 8, 16);
    this.emit(b.subarray(0, s.used));
  }

  /** Emit every pending super-packet. */
  flush(): void {
    if (this.activeCount === 0) return;
    for (const s of this.slots) if (s.active) this.emitSlot(s);
  }

  /** Does slot `s` hold the same flow as `p` (addresses, ports)? */
  private sameFlow(s: Slot, p: Uint8Array, v6: boolean, ihl: number): boolean {
    const b = s.buf;
    const o = VNET_HDR_LEN;
    if (s.v6 !== v6 || s.ihl !== ihl) return false;
    const a0 = v6 ? 8 : 12, a1 = v6 ? 40 : 20;
    for (let i = a0; i < a1; i++) if (b[o + i] !== p[i]) return false;
    for (let i = 0; i < 4; i++) if (b[o + ihl + i] !== p[ihl + i]) return false;
    return true;
  }

  /** Take one IP packet from the tunnel (a view, copied here). */
  push(p: Uint8Array): void {
    const len = p.length;
    const ver = len > 0 ? p[0] >> 4 : 0;
    let v6: boolean, ihl: number;
    if (ver === 4 && len >= 40) {
      v6 = false;
      ihl = (p[0] & 15) * 4;
      // plain TCP, no IP options, not a fragment, length field matches
      if (ihl !== 20 || p[9] !== 6 || (p[6] & 0x3f) !== 0 || p[7] !== 0 || ((p[2] << 8) | p[3]) !== len) return this.emitPlain(p);
    } else if (ver === 6 && len >= 60) {
      v6 = true;
      ihl = 40;
      if (p[6] !== 6 || ((p[4] << 8) | p[5]) !== len - 40) return this.emitPlain(p);
    } else return this.emitPlain(p);
    const thl = (p[ihl + 12] >> 4) * 4;
    const payload = len - ihl - thl;
    const flags = p[ihl + 13];
    // find this flow's slot
    let slot: Slot | null = null;
    for (const s of this.slots) {
      if (s.active && this.sameFlow(s, p, v6, ihl)) {
        slot = s;
        break;
      }
    }
    const mergeable = thl >= 20 && payload > 0 && (flags === 0x10 || flags === 0x18) && l4ChecksumOk(p, v6, 6, ihl);
    if (!mergeable) {
      if (slot) this.emitSlot(slot);
      return this.emitPlain(p);
    }
    const seq = ((p[ihl + 4] << 24) | (p[ihl + 5] << 16) | (p[ihl + 6] << 8) | p[ihl + 7]) >>> 0;
    if (slot !== null) {
      if (this.canAppend(slot, p, v6, ihl, thl, payload, seq)) {
        const b = slot.buf;
        b.set(p.subarray(ihl + thl), slot.used);
        slot.used += payload;
        slot.segs++;
        slot.nextSeq = (seq + payload) >>> 0;
        this.merged++;
        if (flags & 0x08) {
          b[VNET_HDR_LEN + ihl + 13] |= 0x08;
          slot.closed = true;
        }
        if (payload < slot.mss) slot.closed = true;
        if (slot.closed || slot.segs >= MAX_SEGS) this.emitSlot(slot);
        return;
      }
      this.emitSlot(slot);
    }
    // start a new slot (evict one when all are busy)
    let free: Slot | null = null;
    for (const s of this.slots) {
      if (!s.active) {
        free = s;
        break;
      }
    }
    if (free === null) {
      free = this.slots[0];
      this.emitSlot(free);
      // rotate so eviction is round-robin
      this.slots.push(this.slots.shift()!);
    }
    free.buf.set(p, VNET_HDR_LEN);
    free.used = VNET_HDR_LEN + len;
    free.v6 = v6;
    free.ihl = ihl;
    free.thl = thl;
    free.mss = payload;
    free.segs = 1;
    free.nextSeq = (seq + payload) >>> 0;
    free.closed = (flags & 0x08) !== 0;
    free.active = true;
    this.activeCount++;
    if (free.closed) this.emitSlot(free);
  }

  private canAppend(s: Slot, p: Uint8Array, v6: boolean, ihl: number, thl: number, payload: number, seq: number): boolean {
    if (s.closed || seq !== s.nextSeq || thl !== s.thl || payload > s.mss) return false;
    if (s.used - VNET_HDR_LEN + payload > MAX_MERGED) return false;
    const b = s.buf;
    const o = VNET_HDR_LEN;
    if (v6) {
      // traffic class / flow label, hop limit
      if (b[o] !== p[0] || b[o + 1] !== p[1] || b[o + 2] !== p[2] || b[o + 3] !== p[3] || b[o + 7] !== p[7]) return false;
    } else {
      // TOS, DF, TTL
      if (b[o + 1] !== p[1] || (b[o + 6] & 0x40) !== (p[6] & 0x40) || b[o + 8] !== p[8]) return false;
    }
    // ACK number, window, urgent pointer, options (bytes 8..11, 14..15, 18..thl)
    const t = o + ihl;
    for (let i = 8; i < 12; i++) if (b[t + i] !== p[ihl + i]) return false;
    if (b[t + 14] !== p[ihl + 14] || b[t + 15] !== p[ihl + 15]) return false;
    for (let i = 18; i < thl; i++) if (b[t + i] !== p[ihl + i]) return false;
    return true;
  }
}
