/** Child process for stdin.test.ts: reads "-" and prints a JSON summary. Runs under bun and deno. */
import { type CaptureAnomaly, CaptureFormatError, openCapture } from "../../lib/capture/index.ts";

const an: CaptureAnomaly[] = [];
try {
  const r = await openCapture("-", { onAnomaly: (a) => an.push(a) });
  let n = 0;
  let first = "";
  for await (const b of r.batches()) {
    for (const x of b) {
      if (n === 0) first = `${x.tsSec}.${String(x.tsNsec).padStart(9, "0")}`;
      n++;
    }
  }
  console.log(JSON.stringify({ info: r.info, n, first, anomalies: an.length, totalBytes: r.totalBytes ?? null }));
} catch (e) {
  console.log(JSON.stringify({ error: e instanceof CaptureFormatError ? "CaptureFormatError" : String(e), message: (e as Error).message }));
}
