import { closeSync, openSync, readSync } from 'node:fs';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32, as ULID specifies
let lastTime = -1;
let lastRandom: number[] = [];
/** The time part of the ids made at `prefixTime` (a run of ids in one millisecond shares it). */
let prefixTime = Number.NaN;
let prefix = '';
// random bytes drawn 4 KB at a time: one call into the crypto library per 256 ids, not per id
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

/**
 * A new run id: a ULID (26 characters, sorts by creation time). Ids made in the same
 * millisecond by this process increase monotonically; across processes the 80 random bits
 * make a collision practically impossible.
 */
export function newRunId(nowMs: number = Date.now()): string {
  if (nowMs <= lastTime) {
    incrementRandom();
  } else {
    lastTime = nowMs;
    if (poolAt + 16 > pool.length) {
      fillRandom(pool);
      poolAt = 0;
    }
    const random: number[] = [];
    for (let i = 0; i < 16; i++) random.push(pool[poolAt + i]! & 31);
    lastRandom = random;
    poolAt += 16;
  }
  if (prefixTime !== lastTime) {
    let time = '';
    let t = lastTime;
    for (let i = 0; i < 10; i++) {
      time = ALPHABET[t % 32] + time;
      t = Math.floor(t / 32);
    }
    prefix = time;
    prefixTime = lastTime;
  }
  let id = prefix;
  for (const d of lastRandom) id += ALPHABET[d];
  return id;
}

/**
 * Fill `buffer` from the OS's random source: read from /dev/urandom where there is one (what
 * node:crypto's randomFillSync draws from too), so a cold start does not load node:crypto (~3 ms
 * of module loading); else, or when the read falls short, from node:crypto.
 */
function fillRandom(buffer: Buffer): void {
  if (process.platform !== 'win32') {
    try {
      const fd = openSync('/dev/urandom', 'r');
      try {
        if (readSync(fd, buffer, 0, buffer.length, null) === buffer.length) return;
      } finally {
        closeSync(fd);
      }
    } catch {
      // no /dev/urandom (a sandbox, another OS): node:crypto below
    }
  }
  (require('node:crypto') as typeof import('node:crypto')).randomFillSync(buffer); // eslint-disable-line @typescript-eslint/no-require-imports
}

function incrementRandom(): void {
  for (let i = lastRandom.length - 1; i >= 0; i--) {
    if (lastRandom[i]! < 31) {
      lastRandom[i]!++;
      return;
    }
    lastRandom[i] = 0;
  }
}

/** The creation time (ms since epoch) encoded in a run id made by {@link newRunId}. */
export function runIdTime(runId: string): number {
  let ms = 0;
  for (const char of runId.slice(0, 10)) ms = ms * 32 + ALPHABET.indexOf(char);
  return ms;
}

/**
 * The lowest run id made at `ms`: every run id made before `ms` sorts below it, every one made at
 * or after it sorts above (a 10-character time prefix; run ids are compared as strings).
 */
export function runIdFloor(ms: number): string {
  let time = '';
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time;
}
