/**
 * Test helper: open a local HTML file in headless Chromium (Debian's `chromium`) and
 * drive it over the DevTools protocol (CDP, a WebSocket: Bun's built-in client, no
 * playwright): evaluate scripts in the page, emulate dark/print media, take PNG
 * screenshots, and see which network requests the page made. Plus a minimal PNG
 * decoder to check a screenshot is not blank.
 *
 * Chromium runs as root with --no-sandbox, a fresh --user-data-dir (deleted afterwards)
 * and everything that phones home switched off; it is started in its own process group
 * and that group is killed when the page is done.
 *
 * Under CI=true a missing chromium is an error ({@link requireChromium}); elsewhere tests
 * skip with a reason.
 */
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";

/** The chromium binary, or null when there is none. `VPNKIT_CHROMIUM` overrides. */
export function findChromium(): string | null {
  const env = process.env.VPNKIT_CHROMIUM;
  for (const c of [env, "/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    if (c && existsSync(c)) return c;
  }
  try {
    return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

/** The chromium binary; under CI=true a missing one throws (prerequisites must fail there, not skip). */
export function requireChromium(): string | null {
  const c = findChromium();
  if (!c && process.env.CI === "true") throw new Error("chromium is required under CI (apt-get install chromium)");
  return c;
}

export const CHROMIUM_FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
];

/** A page in a running headless Chromium. */
export interface Page {
  /** Evaluate a JavaScript expression in the page; returns its (JSON) value. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** A PNG screenshot of the viewport (`full`: the whole page). */
  screenshot(opts?: { full?: boolean }): Promise<Uint8Array>;
  /** Emulate CSS media: type "print"/"screen" and features such as prefers-color-scheme. */
  emulateMedia(media: string, features?: { name: string; value: string }[]): Promise<void>;
  /** Every URL the page requested so far (the page itself included). */
  requests: string[];
  /** Raw CDP call. */
  send<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
}

const WAIT_MS = 30_000;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`chromium: ${what}: no answer within ${ms / 1000} s`)), ms);
    }),
  ]);
}

/**
 * Start chromium, load `file` (a path) into a `width`×`height` viewport, run `fn` with the
 * page, then stop chromium (its whole process group) and delete its profile directory.
 */
export async function withPage<T>(file: string, fn: (page: Page) => Promise<T>, opts: { width?: number; height?: number; chromium?: string } = {}): Promise<T> {
  const bin = opts.chromium ?? findChromium();
  if (!bin) throw new Error("chromium not found");
  const width = opts.width ?? 1280, height = opts.height ?? 900;
  const profile = mkdtempSync(join(tmpdir(), "vkd-chromium-"));
  const proc = spawn(bin, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, "--remote-debugging-port=0", `--window-size=${width},${height}`, "about:blank"], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: true, // own process group: the renderer/GPU/zygote children go with it
    // its singleton socket dir (org.chromium.Chromium.*) goes into the profile, deleted afterwards
    env: { ...process.env, TMPDIR: profile },
  });
  let ws: WebSocket | undefined;
  try {
    const browserUrl = await within(new Promise<string>((res, rej) => {
      let buf = "";
      proc.stderr!.on("data", (d: Buffer) => {
        buf += d.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(buf);
        if (m) res(m[1]);
        if (buf.length > 1 << 20) buf = buf.slice(-4096);
      });
      proc.on("exit", (code) => rej(new Error(`chromium exited (${code}) before DevTools came up: ${buf.slice(-2000)}`)));
      proc.on("error", rej);
    }), WAIT_MS, "start");
    const port = new URL(browserUrl).port;
    const list = await within(fetch(`http://127.0.0.1:${port}/json/list`).then((r) => r.json() as Promise<{ type: string; webSocketDebuggerUrl: string }[]>), WAIT_MS, "target list");
    const target = list.find((t) => t.type === "page");
    if (!target) throw new Error("chromium: no page target");
    const sock = new WebSocket(target.webSocketDebuggerUrl);
    ws = sock;
    await within(new Promise<void>((res, rej) => {
      sock.onopen = () => res();
      sock.onerror = () => rej(new Error("chromium: DevTools WebSocket error"));
    }), WAIT_MS, "WebSocket");
    let nextId = 1;
    const pending = new Map<number, { res: (v: unknown) => void; rej: (e: Error) => void }>();
    const listeners = new Map<string, ((p: Record<string, unknown>) => void)[]>();
    sock.onmessage = (ev) => {
      const m = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: Record<string, unknown> };
      if (m.id !== undefined) {
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (m.error) p?.rej(new Error(`CDP: ${m.error.message}`));
        else p?.res(m.result);
      } else if (m.method) for (const l of listeners.get(m.method) ?? []) l(m.params ?? {});
    };
    const send = <R = unknown>(method: string, params: Record<string, unknown> = {}): Promise<R> =>
      within(new Promise<R>((res, rej) => {
        const id = nextId++;
        pending.set(id, { res: res as (v: unknown) => void, rej });
        sock.send(JSON.stringify({ id, method, params }));
      }), WAIT_MS, method);
    const once = (method: string) => within(new Promise<void>((res) => {
      const l = listeners.get(method) ?? [];
      l.push(() => res());
      listeners.set(method, l);
    }), WAIT_MS, `waiting for ${method}`);
    const requests: string[] = [];
    listeners.set("Network.requestWillBeSent", [(p) => requests.push(String((p.request as { url: string }).url))]);
    await send("Page.enable");
    await send("Network.enable");
    await send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
    const loaded = once("Page.loadEventFired");
    const url = file.startsWith("file:") ? file : `file://${file}`;
    const nav = await send<{ errorText?: string }>("Page.navigate", { url });
    if (nav.errorText) throw new Error(`chromium: cannot load ${url}: ${nav.errorText}`);
    await loaded;
    const page: Page = {
      requests,
      send,
      async evaluate<R>(expression: string): Promise<R> {
        const r = await send<{ result: { value?: R }; exceptionDetails?: { text: string } }>("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
        if (r.exceptionDetails) throw new Error(`page script failed: ${r.exceptionDetails.text}`);
        return r.result.value as R;
      },
      async screenshot(o = {}) {
        const r = await send<{ data: string }>("Page.captureScreenshot", { format: "png", captureBeyondViewport: !!o.full });
        return new Uint8Array(Buffer.from(r.data, "base64"));
      },
      async emulateMedia(media: string, features = []) {
        await send("Emulation.setEmulatedMedia", { media, features });
      },
    };
    return await fn(page);
  } finally {
    try {
      ws?.close();
    } catch { /* closing anyway */ }
    if (proc.pid !== undefined && proc.exitCode === null) {
      const exited = new Promise<void>((res) => proc.once("exit", () => res()));
      try {
        process.kill(-proc.pid, "SIGTERM");
      } catch { /* already gone */ }
      const t = setTimeout(() => {
        try {
          process.kill(-proc.pid!, "SIGKILL");
        } catch { /* already gone */ }
      }, 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(profile, { recursive: true, force: true });
  }
}

/** What a PNG shows, roughly: size, how many distinct colours, the share of the most common one. */
export interface PngStats {
  width: number;
  height: number;
  /** Distinct RGB colours (counted up to 65536). */
  colours: number;
  /** Share of pixels that have the most common colour (the background), 0..1. */
  dominant: number;
  /** The most common colour as [r, g, b]. */
  background: [number, number, number];
}

/** Decode an 8-bit RGB/RGBA (non-interlaced) PNG, as Chromium writes them, and summarise its pixels. */
export function pngStats(png: Uint8Array): PngStats {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (png.length < 33 || sig.some((b, i) => png[i] !== b)) throw new Error("not a PNG");
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let off = 8, width = 0, height = 0, bitDepth = 0, colorType = 0, interlace = 0;
  const idat: Uint8Array[] = [];
  while (off + 8 <= png.length) {
    const len = dv.getUint32(off);
    const type = String.fromCharCode(...png.subarray(off + 4, off + 8));
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") {
      width = dv.getUint32(off + 8);
      height = dv.getUint32(off + 12);
      bitDepth = png[off + 16];
      colorType = png[off + 17];
      interlace = png[off + 20];
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    off += 12 + len;
  }
  if (bitDepth !== 8 || (colorType !== 2 && colorType !== 6) || interlace !== 0) throw new Error(`unsupported PNG: depth ${bitDepth}, colour type ${colorType}, interlace ${interlace}`);
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  if (raw.length < height * (stride + 1)) throw new Error("PNG data too short");
  const cur = new Uint8Array(stride), prev = new Uint8Array(stride);
  const counts = new Map<number, number>();
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      let v = line[i];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = v & 0xff;
    }
    for (let x = 0; x < width; x++) {
      const k = (cur[x * bpp] << 16) | (cur[x * bpp + 1] << 8) | cur[x * bpp + 2];
      const n = counts.get(k);
      if (n !== undefined) counts.set(k, n + 1);
      else if (counts.size < 65536) counts.set(k, 1);
    }
    prev.set(cur);
  }
  let bg = 0, max = 0;
  for (const [k, n] of counts) if (n > max) [bg, max] = [k, n];
  return { width, height, colours: counts.size, dominant: max / (width * height), background: [bg >> 16, (bg >> 8) & 0xff, bg & 0xff] };
}
