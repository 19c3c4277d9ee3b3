/**
 * One test run at a time owns a set of network namespaces: a lock file holding the
 * owner's pid. A live owner makes another run fail with a clear message; a dead
 * owner's lock is taken over. Shared by the namespace test harnesses.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";

/** Take `file` for this process; `what` names the namespaces in the error. Throws when a live run holds it. */
export function takeNetnsLock(file: string, what: string): void {
  for (let i = 0; i < 2; i++) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      return;
    } catch {
      let pid = 0;
      try {
        pid = Number(readFileSync(file, "utf8"));
      } catch {
        // vanished: retry
      }
      if (pid > 0 && pid !== process.pid) {
        let alive = true;
        try {
          process.kill(pid, 0);
        } catch {
          alive = false;
        }
        if (alive) throw new Error(`namespaces ${what} are in use by another test run (pid ${pid}, ${file})`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new Error(`cannot take ${file}`);
}

/** Release `file` if this process holds it. */
export function releaseNetnsLock(file: string): void {
  try {
    if (readFileSync(file, "utf8") === String(process.pid)) rmSync(file, { force: true });
  } catch {
    // no lock
  }
}
