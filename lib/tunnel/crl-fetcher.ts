/**
 * CRLs from certificate distribution points, fetched over HTTP in the background for the
 * IKE core's non-blocking {@link CrlLookup}: the first lookup of a URI starts a fetch and
 * answers "pending" (the exchange waits for the peer's or its own retransmission); later
 * lookups answer from the cache until the CRL's nextUpdate (or `ttlMs` without one). A
 * failed fetch is remembered as "unreachable" for `retryMs`. Bounded: at most `maxBytes`
 * per CRL, `timeoutMs` per fetch, `maxEntries` URIs cached, `maxConcurrent` fetches.
 * @module
 */
import { parseCrl } from "../ike/pki/crl.ts";
import type { CrlLookup } from "../ike/pki/validate.ts";
import { derBlocks } from "../ike/pki/x509.ts";

export interface CrlFetcherOptions {
  timeoutMs?: number;
  maxBytes?: number;
  ttlMs?: number;
  retryMs?: number;
  maxEntries?: number;
  maxConcurrent?: number;
  /** Injected for tests; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Wall clock, ms. */
  now?: () => number;
  log?: (level: "info" | "warn" | "debug", msg: string) => void;
}

type Entry = { state: "pending" } | { state: "ok"; der: Uint8Array; until: number } | { state: "unreachable"; until: number };

export class CrlFetcher {
  private readonly o: Required<Omit<CrlFetcherOptions, "log">> & Pick<CrlFetcherOptions, "log">;
  private readonly cache = new Map<string, Entry>();
  private running = 0;
  readonly stats = { fetched: 0, failed: 0, refused: 0 };

  constructor(o: CrlFetcherOptions = {}) {
    this.o = {
      timeoutMs: o.timeoutMs ?? 5000, maxBytes: o.maxBytes ?? 4 << 20, ttlMs: o.ttlMs ?? 3600_000, retryMs: o.retryMs ?? 60_000,
      maxEntries: o.maxEntries ?? 256, maxConcurrent: o.maxConcurrent ?? 4, fetch: o.fetch ?? globalThis.fetch.bind(globalThis),
      now: o.now ?? Date.now, log: o.log,
    };
  }

  /** The {@link CrlLookup} to put in the IKE configuration. */
  readonly lookup: CrlLookup = (uri) => {
    const now = this.o.now();
    const e = this.cache.get(uri);
    if (e?.state === "pending") return "pending";
    if (e && now < e.until) return e.state === "ok" ? e.der : "unreachable";
    if (!/^https?:\/\//i.test(uri)) return "unreachable"; // ldap: and others are not fetched
    if (this.running >= this.o.maxConcurrent || (!e && this.cache.size >= this.o.maxEntries && !this.evict(now))) {
      this.stats.refused++;
      return "unreachable";
    }
    this.cache.set(uri, { state: "pending" });
    void this.fetchOne(uri);
    return "pending";
  };

  /** Resolves when no fetch is running (tests). */
  async idle(): Promise<void> {
    while (this.running > 0) await new Promise((r) => setTimeout(r, 5));
  }

  private evict(now: number): boolean {
    for (const [k, v] of this.cache) {
      if (v.state !== "pending" && now >= v.until) {
        this.cache.delete(k);
        return true;
      }
    }
    return false;
  }

  private async fetchOne(uri: string): Promise<void> {
    this.running++;
    try {
      const res = await this.o.fetch(uri, { signal: AbortSignal.timeout(this.o.timeoutMs), redirect: "follow" });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const len = Number(res.headers.get("content-length") ?? "0");
      if (len > this.o.maxBytes) throw new Error(`CRL of ${len} bytes is over the ${this.o.maxBytes}-byte limit`);
      const body = await this.readBounded(res);
      const der = body[0] === 0x30 ? body : derBlocks(body)[0];
      const crl = der ? parseCrl(der) : null;
      if (!crl) throw new Error("not a CRL");
      const now = this.o.now();
      const until = Number.isNaN(crl.nextUpdate) || crl.nextUpdate <= now ? now + this.o.ttlMs : Math.min(crl.nextUpdate, now + 24 * 3600_000);
      this.cache.set(uri, { state: "ok", der, until });
      this.stats.fetched++;
      this.o.log?.("info", `CRL fetched from ${uri}: ${crl.revoked.size} revoked certificate(s)`);
    } catch (e) {
      this.cache.set(uri, { state: "unreachable", until: this.o.now() + this.o.retryMs });
      this.stats.failed++;
      this.o.log?.("warn", `CRL from ${uri} could not be fetched: ${(e as Error).message}`);
    } finally {
      this.running--;
    }
  }

  private async readBounded(res: Response): Promise<Uint8Array> {
    if (!res.body) return new Uint8Array(await res.arrayBuffer());
    const parts: Uint8Array[] = [];
    let n = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > this.o.maxBytes) {
        await reader.cancel();
        throw new Error(`CRL over the ${this.o.maxBytes}-byte limit`);
      }
      parts.push(value);
    }
    const out = new Uint8Array(n);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}
