// Benchmark baseline: a bare `ws` server that broadcasts, at 10 Hz, the same bytes the viz
// sends per tick (an events message with the tick event, then a state message), reading
// nothing from Redis. The tick event's ts is set to the send time, as a commit would.
//   tsx bench/viz-support/bare-broadcast.ts <port> <events message file> <state message file>
import { readFileSync } from 'node:fs';
import { WebSocketServer } from 'ws';

const [portArg = '0', eventsFile = '', stateFile = ''] = process.argv.slice(2);
const eventsTemplate = readFileSync(eventsFile, 'utf8');
const state = readFileSync(stateFile);
const wss = new WebSocketServer({ port: Number(portArg), perMessageDeflate: false });
let tick = 0;

wss.on('listening', () => process.stdout.write(`${JSON.stringify({ phase: 'listening' })}\n`));
setInterval(() => {
  tick += 1;
  const events = Buffer.from(eventsTemplate.replace(/"type":"tick","tick":\d+,"ts":\d+/, `"type":"tick","tick":${tick},"ts":${Date.now()}`));
  for (const ws of wss.clients) ws.send(events, { binary: false });
  for (const ws of wss.clients) ws.send(state, { binary: false });
}, 100);
process.on('SIGTERM', () => process.exit(0));
