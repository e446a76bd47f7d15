// Waiting on a condition without sleeping blindly: poll it, with a deadline that names what
// was awaited. Used by the tests and by `sector chaos`.
/** Polls `probe` until it returns a non-undefined value or the deadline passes. */
export async function pollUntil<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
