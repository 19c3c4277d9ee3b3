/** Render a `vpnkit meltdown --json` file: Markdown table + verdict on stdout, HTML to argv[3]. */
import { readFileSync, writeFileSync } from "node:fs";
import type { MeltdownRun } from "../../lib/meltdown/measure.ts";
import { type MeltdownMeta, renderChart, renderHtml, renderMarkdown, verdict } from "../../lib/meltdown/report.ts";

const { meta, runs } = JSON.parse(readFileSync(process.argv[2], "utf8")) as { meta: MeltdownMeta; runs: MeltdownRun[] };
console.log(renderMarkdown(runs) + "\n\n```\n" + renderChart(runs) + "\n```\n\n" + verdict(runs, meta).map((v) => `- ${v}`).join("\n"));
if (process.argv[3]) writeFileSync(process.argv[3], renderHtml(runs, meta));
