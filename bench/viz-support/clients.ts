// Benchmark client process: N WebSocket clients on one URL. Each message that carries a
// `tick` event gives a latency sample (receipt time - the event's ts, which the worker takes
// just before it commits the tick). Prints `{"phase":"measuring"}` when the window opens and
// one JSON result line when it closes.
//   tsx bench/viz-support/clients.ts <ws url> <clients> <warmup ms> <window ms>
import { WebSocket } from 'ws';

const [url = '', countArg = '100', warmupArg = '1000', windowArg = '8000'] = process.argv.slice(2);
const count = Number(countArg);
const TICK_TS = /"type":"tick","tick":\d+,"ts":(\d+)/;

let measuring = false;
let messages = 0;
let bytes = 0;
const latencies: number[] = [];

function onMessage(data: Buffer): void {
  if (!measuring) return;
  const now = Date.now();
  messages += 1;
  bytes += data.length;
  // Only events messages are searched; the per-tick state carries no event timestamps.
  if (data[9] !== 0x65 /* 'e' of {"type":"events" */) return;
  const m = TICK_TS.exec(data.toString());
  if (m) latencies.push(now - Number(m[1]));
}

async function openAll(): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  // In waves, so the server's accept queue never overflows.
  for (let i = 0; i < count; i += 100) {
    const wave = Array.from({ length: Math.min(100, count - i) }, () => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.on('message', (d: Buffer) => onMessage(d));
      sockets.push(ws);
      return new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
    });
    await Promise.all(wave);
  }
  return sockets;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

const sockets = await openAll();
let closedEarly = 0;
for (const ws of sockets) ws.on('close', () => closedEarly++);
await new Promise((r) => setTimeout(r, Number(warmupArg)));
measuring = true;
process.stdout.write(`${JSON.stringify({ phase: 'measuring' })}\n`);
const windowMs = Number(windowArg);
await new Promise((r) => setTimeout(r, windowMs));
measuring = false;
latencies.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    phase: 'done',
    clients: sockets.length,
    closedEarly,
    samples: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? Number.NaN,
    messagesPerSecond: (messages / windowMs) * 1000,
    bytesPerSecond: (bytes / windowMs) * 1000,
  })}\n`,
);
for (const ws of sockets) ws.terminate();
process.exit(0);
