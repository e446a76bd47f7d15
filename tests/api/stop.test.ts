// The API server's stop and a handler whose client has gone (a bot aborting as it stops, as
// in `npm start`): the handler still runs, so the stop waits for it (the API closes its Redis
// connection only after), within the grace period. Real HTTP on a free port.
import { expect, it } from 'vitest';
import { listen } from '../../api/server.ts';
import { pollUntil } from '../helpers/processes.ts';

it('resolves only after a handler whose client went away has finished', async () => {
  const order: string[] = [];
  let started!: () => void;
  const handlerStarted = new Promise<void>((resolve) => (started = resolve));
  let finishHandler!: () => void;
  const handlerMayFinish = new Promise<void>((resolve) => (finishHandler = resolve));
  const server = await listen(async () => {
    started();
    await handlerMayFinish; // e.g. a Redis command whose reply is on its way
    order.push('handler finished');
    return new Response('late');
  }, 0);
  let closing: Promise<void> | undefined;
  try {
    const client = new AbortController();
    const request = fetch(`http://127.0.0.1:${server.port}/`, { signal: client.signal }).catch(() => 'aborted');
    await handlerStarted;
    client.abort();
    expect(await request).toBe('aborted');

    let waitingFor = 0;
    closing = server.close((handlers) => (waitingFor = handlers)).then(() => void order.push('closed'));
    await pollUntil(() => (waitingFor > 0 ? true : undefined), 'every connection gone, the handler still running');
    expect(waitingFor).toBe(1);
    await Promise.resolve(); // let a resolved close() run its continuation, were it resolved
    expect(order).toEqual([]);
    finishHandler();
    await closing;
    expect(order).toEqual(['handler finished', 'closed']);
  } finally {
    finishHandler();
    await (closing ?? server.close());
  }
});
