import { expect, test } from "bun:test";
import { ipv6Text, ipv4Text, fromHex, toHex, ctEqual } from "../lib/core/bytes.ts";

// Reference: RFC 5952 text as produced by the platform's URL parser.
function ref(b: Uint8Array): string {
  const raw = Array.from({ length: 8 }, (_, i) => ((b[2 * i] << 8) | b[2 * i + 1]).toString(16)).join(":");
  const host = new URL(`http://[${raw}]/`).hostname;
  return host.slice(1, -1);
}

test("ipv6Text matches RFC 5952 canonical text on fixed and random addresses", () => {
  const fixed = ["fe80::ac8c:71ff:fe6b:e5ad", "ff02::16", "::", "::1", "1::", "1:0:0:2::3", "2001:db8::1:0:0:1", "1:2:3:4:5:6:7:8"];
  for (const t of fixed) {
    const b = new Uint8Array(16);
    const host = new URL(`http://[${t}]/`).hostname.slice(1, -1);
    const full = host.includes("::") ? host : host;
    // round-trip through the platform parser to bytes
    const parts = full.split("::");
    const head = parts[0] ? parts[0].split(":") : [];
    const tail = parts.length > 1 && parts[1] ? parts[1].split(":") : [];
    const words = [...head, ...Array(8 - head.length - tail.length).fill("0"), ...tail].map((x) => parseInt(x, 16));
    words.forEach((w, i) => {
      b[2 * i] = w >> 8;
      b[2 * i + 1] = w & 0xff;
    });
    expect(ipv6Text(b)).toBe(ref(b));
  }
  for (let k = 0; k < 20000; k++) {
    const b = new Uint8Array(16);
    for (let i = 0; i < 8; i++) if (Math.random() < 0.5) { b[2 * i] = Math.random() * 256; b[2 * i + 1] = Math.random() * 256; }
    const r = ref(b);
    if (!r.includes(".")) expect(ipv6Text(b)).toBe(r);
  }
});

test("hex, ipv4 and constant-time compare", () => {
  expect(toHex(fromHex("0xdeadBEEF")!)).toBe("deadbeef");
  expect(fromHex("abc")).toBeNull();
  expect(ipv4Text(new Uint8Array([192, 0, 2, 1]))).toBe("192.0.2.1");
  expect(ctEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
  expect(ctEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
});

test("toHex: whole arrays, ranges and views give the same text as a byte-by-byte rendering", () => {
  const slow = (b: Uint8Array, s = 0, e = b.length) => Array.from(b.subarray(s, e), (x) => x.toString(16).padStart(2, "0")).join("");
  for (const n of [0, 1, 7, 8, 9, 16, 33, 300]) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255);
    expect(toHex(b)).toBe(slow(b));
    expect(toHex(b, 1, n - 1)).toBe(slow(b, 1, Math.max(1, n - 1)));
    expect(toHex(b.subarray(Math.min(2, n)))).toBe(slow(b, Math.min(2, n)));
  }
  expect(toHex(Buffer.from("ab", "utf8"))).toBe("6162");
});
