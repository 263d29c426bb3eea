// A fresh Chromium profile folder for one driver run, removed when the process exits, however it
// exits: a profile holds about 200 MB after a run, and left behind, test and benchmark runs fill
// the disk.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function profileDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
