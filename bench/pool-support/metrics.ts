// Reading a worker's /metrics for the pool benchmark: counters, gauges and histogram buckets
// from the Prometheus text format, and quantiles from the difference of two scrapes.

export type Scrape = Map<string, number>;

export async function scrape(port: number): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    // drop the default label every worker metric carries
    out.set(line.slice(0, at).replace(/,?role="worker"/, '').replace('{}', ''), Number(line.slice(at + 1)));
  }
  return out;
}

export const value = (s: Scrape, name: string): number => s.get(name) ?? 0;

/** The q-quantile of a histogram between two scrapes, as the upper bound of its bucket (seconds). */
export function histogramQuantile(before: Scrape, after: Scrape, name: string, q: number): { quantile: number; count: number } {
  const buckets: { le: number; n: number }[] = [];
  for (const [k, v] of after) {
    const m = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}$`).exec(k);
    if (!m) continue;
    buckets.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), n: v - (before.get(k) ?? 0) });
  }
  buckets.sort((a, b) => a.le - b.le);
  const count = buckets.at(-1)?.n ?? 0;
  const want = q * count;
  const hit = buckets.find((b) => b.n >= want);
  return { quantile: hit?.le ?? Infinity, count };
}
