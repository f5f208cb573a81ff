import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import { type Clock, systemClock } from "../lib/clock.js";

/**
 * One process per embedded data directory. PGlite takes no lock of its own, and two
 * processes writing one cluster each keep their own copy in memory: after a restart only
 * one of them is there. The lock is a file beside the directory (`<DATA_DIR>.lock`),
 * created atomically (a hard link of a file that holds our pid, which fails if the lock
 * exists), so it is taken before anything inside the directory is touched.
 *
 * A lock left by a process that is gone is taken over: on the same host when its pid is
 * no longer alive (or is our own: a container restarts as pid 1 again), from another
 * host (a volume shared between containers) when the holder stopped refreshing it.
 */
export type DataDirLock = {
  path: string;
  /** Deletes the lock file, if it is still ours. */
  release(): void;
};

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
    readonly lockPath: string,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by process ${holder.pid}` +
        `${holder.host === hostname() ? "" : ` on ${holder.host}`} (lock ${lockPath}); ` +
        "stop that gateway or give this one another DATA_DIR",
    );
    this.name = "DataDirLockedError";
  }
}

type LockHolder = { pid: number; host: string };

/** How often the holder touches its lock, so another host can tell it is alive. */
const REFRESH_INTERVAL_MS = 5_000;
/** A lock from another host not touched for this long is left by a process that died. */
const STALE_AFTER_MS = 6 * REFRESH_INTERVAL_MS;

export function lockDataDir(dataDir: string, clock: Clock = systemClock): DataDirLock {
  const directory = resolve(dataDir);
  const path = `${directory.replace(/\/+$/, "")}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  const mine: LockHolder = { pid: process.pid, host: hostname() };

  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, mine, clock)) return holdLock(path, mine, clock);
    const holder = readHolder(path);
    if (holder && isAlive(holder, path, clock))
      throw new DataDirLockedError(directory, holder, path);
    // Left behind by a process that is gone (or half-written by one that died while
    // writing it): remove it and try again.
    try {
      unlinkSync(path);
    } catch {
      // Someone else removed it first; the next attempt decides.
    }
  }
  const holder = readHolder(path) ?? { pid: 0, host: "unknown" };
  throw new DataDirLockedError(directory, holder, path);
}

/** Writes our pid to a file of our own, then links it in place: all or nothing. */
function tryCreate(path: string, holder: LockHolder, clock: Clock): boolean {
  const draft = `${path}.${process.pid}.${clock.now()}`;
  const fd = openSync(draft, "wx", 0o644);
  try {
    writeSync(fd, JSON.stringify(holder));
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(draft, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  } finally {
    unlinkSync(draft);
  }
}

function readHolder(path: string): LockHolder | null {
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as Partial<LockHolder>;
    if (typeof parsed.pid !== "number" || typeof parsed.host !== "string") return null;
    return { pid: parsed.pid, host: parsed.host };
  } catch {
    return null;
  }
}

function isAlive(holder: LockHolder, path: string, clock: Clock): boolean {
  if (holder.host !== hostname()) {
    try {
      return clock.now() - statSync(path).mtimeMs < STALE_AFTER_MS;
    } catch {
      return false;
    }
  }
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function holdLock(path: string, mine: LockHolder, clock: Clock): DataDirLock {
  const refresh = setInterval(() => {
    try {
      const now = new Date(clock.now());
      utimesSync(path, now, now);
    } catch {
      // A lock file deleted by hand is not recreated; the next start decides again.
    }
  }, REFRESH_INTERVAL_MS);
  refresh.unref();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    clearInterval(refresh);
    process.off("exit", release);
    const holder = readHolder(path);
    if (holder?.pid === mine.pid && holder.host === mine.host) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
  };
  // An exit by any path (an uncaught error included) leaves no lock behind; only a
  // SIGKILL does, and the pid check above takes that one over.
  process.on("exit", release);
  return { path, release };
}
