/**
 * `vpnkit diagnose --html`: the report of real captures opens in headless Chromium, with one
 * ladder per IKE SA and one arrow per IKE message. The expected numbers come from tshark
 * (IKE messages: ISAKMP frames minus RFC 7383 fragments after the first; IKE SAs: distinct
 * initiator SPIs; fragment packets), never from the renderer. Also: light/dark/print styles,
 * no network requests, nothing executable from capture text (escaping).
 */
import { describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderDiagnosisHtml } from "../../lib/diagnose/html.ts";
import { esc } from "../../lib/diagnose/ladder.ts";
import { FIX } from "../decode/helpers.ts";
import { pngStats, requireChromium, withPage, type Page } from "../helpers/chromium.ts";
import { diagnoseFixture } from "./helpers.ts";

const ENTRY = new URL("./run-cli.ts", import.meta.url).pathname;
const CHROMIUM = requireChromium();
let haveTshark = false;
try {
  execFileSync("tshark", ["-v"], { stdio: "ignore" });
  haveTshark = true;
} catch { /* checked below */ }
if (!haveTshark && process.env.CI === "true") throw new Error("tshark is required under CI (apt-get install tshark)");

const tshark = (pcap: string, filter: string, field = "frame.number"): string[] =>
  execFileSync("tshark", ["-2", "-r", pcap, "-Y", filter, "-T", "fields", "-e", field], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n").filter(Boolean);

/**
 * What tshark says is in the capture: IKE messages (fragments of one message count once, IKE
 * quoted inside ICMP errors not at all), plus datagrams seen only as a first IP fragment that
 * never reassembled (tshark cannot dissect their IKE header; vpnkit draws them as lost
 * messages), IKE SAs, SKF fragment packets.
 */
function oracle(pcap: string) {
  const lost = tshark(pcap, "!icmp && ip.flags.mf == 1 && ip.frag_offset == 0 && !ip.reassembled_in").length;
  return {
    messages: tshark(pcap, "isakmp && !icmp && !(isakmp.frag.number > 1)").length + lost,
    lost,
    sas: new Set(tshark(pcap, "isakmp && !icmp", "isakmp.ispi")).size,
    fragments: tshark(pcap, "isakmp.frag.number").length,
    fragmented: tshark(pcap, "isakmp.frag.number == 1").length,
  };
}

interface Dom {
  svgs: number;
  arrows: number;
  lines: number;
  ticks: number;
  fragmented: number;
  lost: number;
  crosses: number;
  retransmits: number;
  failing: string[];
  notifyErrors: string[];
  overflow: string[];
  scripts: number;
  bodyBg: string;
  findings: number;
}
const DOM_SCRIPT = `(() => {
  const svgs = [...document.querySelectorAll("svg.ladder")];
  const overflow = [];
  for (const s of svgs) {
    const w = s.viewBox.baseVal.width, b = s.getBBox();
    if (b.x < -0.5 || b.x + b.width > w + 0.5) overflow.push(s.id + " " + b.x + "+" + b.width + " > " + w);
  }
  const label = (g) => g.querySelector("text.label").textContent;
  return {
    svgs: svgs.length,
    arrows: document.querySelectorAll("svg.ladder g.msg").length,
    lines: document.querySelectorAll("svg.ladder g.msg line.arrow").length,
    ticks: document.querySelectorAll("svg.ladder g.msg line.tick").length,
    fragmented: document.querySelectorAll("svg.ladder g.msg.fragmented").length,
    lost: document.querySelectorAll("svg.ladder g.msg.lost").length,
    crosses: document.querySelectorAll("svg.ladder g.msg .cross").length,
    retransmits: document.querySelectorAll("svg.ladder g.msg.retransmit").length,
    failing: [...document.querySelectorAll("svg.ladder g.msg.failing")].map(label),
    notifyErrors: [...document.querySelectorAll("svg.ladder g.msg.notify-error")].map(label),
    overflow,
    scripts: document.querySelectorAll("script, iframe, object, embed, img").length,
    bodyBg: getComputedStyle(document.body).backgroundColor,
    findings: document.querySelectorAll(".finding").length,
  };
})()`;

const lum = (css: string) => {
  const m = /rgba?\((\d+), (\d+), (\d+)/.exec(css);
  if (!m) throw new Error(`not a colour: ${css}`);
  return 0.2126 * +m[1] + 0.7152 * +m[2] + 0.0722 * +m[3];
};

/** Screenshot checks shared by every report: the right size, not blank, a light page. */
async function checkScreenshot(page: Page, width: number, height: number) {
  const png = await page.screenshot();
  expect(png.length).toBeGreaterThan(10_000);
  const s = pngStats(png);
  expect([s.width, s.height]).toEqual([width, height]);
  expect(s.colours).toBeGreaterThan(16); // text, arrows, boxes: not a single colour
  expect(s.dominant).toBeLessThan(0.97);
  expect(s.dominant).toBeGreaterThan(0.4); // mostly background
  expect(lum(`rgb(${s.background.join(", ")})`)).toBeGreaterThan(200); // light by default
}

const CASES = [
  { name: "f1_ikev2_auth_failed (failed AUTH, keys given)", pcap: `${FIX}strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap`, keys: `${FIX}strongswan/f1_ikev2_auth_failed/ikev2_decryption_table` },
  { name: "d_ikev2_rekey_dpd (CHILD and IKE rekey, DPD)", pcap: `${FIX}made/d_ikev2_rekey_dpd/d_ikev2_rekey_dpd.pcap` },
  { name: "c_ikev2_cert_frag (IKE_AUTH in RFC 7383 fragments)", pcap: `${FIX}made/c_ikev2_cert_frag/c_ikev2_cert_frag.pcap` },
  // 4 transmissions of one IKE_AUTH request, each only a first IP fragment (fixtures/made/README.md): 3 retransmissions
  { name: "f6_ikev2_ipfrag_dropped (IKE_AUTH lost to IP fragmentation, retransmitted)", pcap: `${FIX}made/f6_ikev2_ipfrag_dropped/f6_ikev2_ipfrag_dropped.pcap`, retransmits: 3 },
];

describe.skipIf(!CHROMIUM || !haveTshark)("diagnose --html in headless Chromium", () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const tmp = mkdtempSync(join(tmpdir(), "vkd-html-"));
      try {
        const out = join(tmp, "report.html");
        const r = spawnSync(process.execPath, [ENTRY, "diagnose", "--html", out, ...(c.keys ? ["--keys", c.keys] : []), c.pcap], { encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const html = readFileSync(out, "utf8");
        // self-contained: no script, nothing loaded from elsewhere (the only URL is the SVG namespace)
        expect(html.match(/<script|\b(?:src|href)\s*=|url\((?!#)|@import/gi)).toBeNull();
        expect(html.replaceAll("http://www.w3.org/2000/svg", "").match(/https?:/gi)).toBeNull();
        const want = oracle(c.pcap);
        const W = 1280, H = 900;
        await withPage(out, async (page) => {
          const dom = await page.evaluate<Dom>(DOM_SCRIPT);
          expect(dom.svgs).toBe(want.sas);
          expect(dom.arrows).toBe(want.messages);
          expect(dom.lines).toBe(want.messages);
          expect(dom.fragmented).toBe(want.fragmented);
          expect(dom.ticks).toBe(want.fragments);
          expect(dom.lost).toBe(want.lost);
          expect(dom.crosses).toBe(want.lost);
          expect(dom.retransmits).toBe(c.retransmits ?? 0);
          expect(dom.overflow).toEqual([]);
          expect(dom.scripts).toBe(0);
          expect(lum(dom.bodyBg)).toBeGreaterThan(200);
          if (c.keys) {
            // the failing message: the AUTHENTICATION_FAILED notify in the decrypted IKE_AUTH response
            expect(dom.notifyErrors).toEqual(["IKE_AUTH response mid 1 · AUTHENTICATION_FAILED"]);
            expect(dom.failing).toContain("IKE_AUTH response mid 1 · AUTHENTICATION_FAILED");
            expect(dom.findings).toBe(1);
          } else if (want.lost) {
            // the failing messages: every lost copy, cited by the IKE_FRAGMENT_LOSS error
            expect(dom.failing.length).toBe(want.lost);
          } else {
            expect(dom.failing).toEqual([]);
          }
          await checkScreenshot(page, W, H);
          // only the report itself was loaded: no external resource
          expect(page.requests.filter((u) => !u.startsWith("file://"))).toEqual([]);
          // dark: the page follows prefers-color-scheme
          await page.emulateMedia("screen", [{ name: "prefers-color-scheme", value: "dark" }]);
          const dark = await page.evaluate<Dom>(DOM_SCRIPT);
          expect(lum(dark.bodyBg)).toBeLessThan(60);
          const darkPng = pngStats(await page.screenshot());
          expect(lum(`rgb(${darkPng.background.join(", ")})`)).toBeLessThan(60);
          expect(darkPng.colours).toBeGreaterThan(16);
          // print: light background even when the screen is dark
          await page.emulateMedia("print", [{ name: "prefers-color-scheme", value: "dark" }]);
          expect(lum((await page.evaluate<Dom>(DOM_SCRIPT)).bodyBg)).toBeGreaterThan(200);
        }, { width: W, height: H, chromium: CHROMIUM! });
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }

  test("capture text is escaped: markup in payloads, identities and notes stays text", async () => {
    const d = await diagnoseFixture("strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap", ["ikev2_decryption_table"]);
    const evil = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>&amp;'"`;
    d.ikeSas[0].timeline[0].payloads = evil;
    d.ikeSas[0].timeline[1].note = evil;
    d.ikeSas[0].initiator = evil;
    d.findings[0].evidence[0].text = evil;
    d.findings[0].summary = evil;
    d.verdict = evil;
    const html = renderDiagnosisHtml(d, { title: evil });
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script");
    expect(html).toContain(esc(evil));
    const tmp = mkdtempSync(join(tmpdir(), "vkd-html-"));
    try {
      writeFileSync(join(tmp, "evil.html"), html);
      await withPage(join(tmp, "evil.html"), async (page) => {
        const r = await page.evaluate<{ title: string; active: number; verdict: string; arrows: number }>(`({
          title: document.title,
          active: document.querySelectorAll("script, img, iframe, object, embed").length,
          verdict: document.querySelector(".verdict").textContent,
          arrows: document.querySelectorAll("svg.ladder g.msg").length,
        })`);
        expect(r.title).toBe(`vpnkit diagnose: ${evil}`);
        expect(r.active).toBe(0);
        expect(r.verdict).toBe(`Verdict: ${evil}`);
        expect(r.arrows).toBe(4);
        expect(page.requests.filter((u) => !u.startsWith("file://"))).toEqual([]);
      }, { chromium: CHROMIUM! });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

test("esc: markup characters and characters XML forbids", () => {
  expect(esc(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  expect(esc("a\u0000b\u001bc\ud800d")).toBe("a\ufffdb\ufffdc\ufffdd");
  expect(esc("😀 ok\t\n")).toBe("😀 ok\t\n");
});

describe("every text field is escaped (property: arbitrary strings in every string of a real diagnosis)", () => {
  const ALLOWED = new Set(["!doctype", "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "b", "br", "span", "code", "section", "div", "ul", "li", "table", "tr", "th", "td", "svg", "defs", "marker", "path", "g", "rect", "text", "line", "circle"]);
  /** Replace every string in `v` (deeply) with one drawn from `next`. */
  const poison = (v: unknown, next: () => string): unknown => {
    if (typeof v === "string") return next();
    if (Array.isArray(v)) return v.map((x) => poison(x, next));
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, poison(x, next)]));
    return v;
  };
  test("no tag, attribute or entity comes from the data", async () => {
    const fc = (await import("fast-check")).default;
    const bases = await Promise.all([
      diagnoseFixture("strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap", ["ikev2_decryption_table"]),
      diagnoseFixture("made/f6_ikev2_ipfrag_dropped/f6_ikev2_ipfrag_dropped.pcap"),
    ]);
    const evil = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 40 }),
      fc.string({ unit: fc.constantFrom("<", ">", "&", "\"", "'", "=", "/", "a", "s", "c", "r", "i", "p", "t", " ", "\u0000", "\ud800", "#", ";"), maxLength: 40 }),
      fc.constantFrom("<script>alert(1)</script>", "\"><svg onload=alert(1)>", "' onmouseover='x", "&lt;", "]]>", "<!--", "</style><img src=x>", "url(http://x)"),
    );
    fc.assert(fc.property(fc.integer({ min: 0, max: bases.length - 1 }), fc.array(evil, { minLength: 1, maxLength: 64 }), (which, pool) => {
      let i = 0;
      const d = poison(structuredClone(bases[which]), () => pool[i++ % pool.length]) as typeof bases[0];
      const html = renderDiagnosisHtml(d, { title: pool[0] });
      const tags = new Set([...html.matchAll(/<\/?([!a-zA-Z][\w-]*)/g)].map((m) => m[1].toLowerCase()));
      for (const t of tags) if (!ALLOWED.has(t)) throw new Error(`tag <${t}> in the output`);
      // attributes are only ours: no event handlers, no references to elsewhere (quoted values
      // and text between tags are data, so they are blanked before looking at attribute names)
      const markup = html.replace(/"[^"]*"/g, '""').replace(/>[^<]*</g, "><");
      if (/\son[a-z]+\s*=/i.test(markup)) throw new Error("event handler attribute");
      if (/\s(?:src|href)\s*=/i.test(markup)) throw new Error("src/href attribute");
      // every & starts an entity
      if (/&(?!(?:amp|lt|gt|quot|#39);)/.test(html)) throw new Error("bare &");
    }), { numRuns: 300 });
  });
});

test("--html to a path that cannot be written: usage error, a message, nothing on stdout", () => {
  const r = spawnSync(process.execPath, [ENTRY, "diagnose", "--html", "/nonexistent-vkd/dir/report.html", `${FIX}strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap`], { encoding: "utf8" });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("vpnkit diagnose: cannot write /nonexistent-vkd/dir/report.html: ENOENT");
  expect(r.stdout).toBe("");
});
