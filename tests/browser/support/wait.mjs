// Bounded polling: tests wait for what a person would see, never for a fixed time.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `probe` (sync or async) every 100 ms until `accept(value)` holds; returns that value.
 * Throws after `timeoutMs`, naming `what` and the last value seen.
 */
export async function eventually(what, probe, accept = Boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await probe();
    if (accept(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last saw ${JSON.stringify(last)}`);
    }
    await sleep(100);
  }
}
