// A real TCP proxy between a service and a test's redis-server that can lose or hold the
// reply to a script call after Redis has run it: the failure that leaves a writer not knowing
// whether its write happened (a reply lost on the wire, a Redis slower than the client's
// timeout). Everything else passes through untouched, so it also serves as a plain TCP
// forwarder (to an HTTP server, say) that close() cuts at once: it stops listening and
// destroys every connection synchronously.
import net from 'node:net';

export interface RedisProxy {
  port: number;
  url: string;
  /**
   * The next EVAL/EVALSHA is forwarded to Redis, which runs it; its reply is then dropped and
   * the connection cut. Resolves once that has happened.
   */
  loseNextScriptReply(): Promise<void>;
  /**
   * The next EVAL/EVALSHA is forwarded and run; its reply (and whatever follows on that
   * connection) is held until release() is called. `held` resolves once the reply is held.
   */
  holdNextScriptReply(): { held: Promise<void>; release(): void };
  /** script calls seen so far (EVAL or EVALSHA), on every connection */
  scriptCalls(): number;
  close(): Promise<void>;
}

type Fault = { kind: 'lose'; done: () => void } | { kind: 'hold'; held: () => void; released: Promise<void> };

// ioredis writes command names in lower case, RESP-framed: `$7\r\nevalsha\r\n`, `$4\r\neval\r\n`
const SCRIPT_CALL = /\r\n\$(?:7\r\nevalsha|4\r\neval)\r\n/gi;

export async function startRedisProxy(redisPort: number): Promise<RedisProxy> {
  let armed: Fault | undefined;
  let calls = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined); // a cut connection is the point, not a failure
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    /** the fault this connection's next reply suffers, taken when its script call passed */
    let pending: Fault | undefined;
    let holding: Buffer[] | undefined;
    client.on('data', (chunk: Buffer) => {
      const found = chunk.toString('latin1').match(SCRIPT_CALL)?.length ?? 0;
      calls += found;
      if (found > 0 && armed && !pending) {
        pending = armed;
        armed = undefined;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (holding) {
        holding.push(chunk);
        return;
      }
      const fault = pending;
      pending = undefined;
      if (fault?.kind === 'lose') {
        // Redis has answered, so the script has run: the writer never learns it
        client.destroy();
        upstream.destroy();
        fault.done();
        return;
      }
      if (fault?.kind === 'hold') {
        const buffered: Buffer[] = [chunk];
        holding = buffered;
        fault.held();
        void fault.released.then(() => {
          holding = undefined;
          if (!client.destroyed) for (const b of buffered) client.write(b);
        });
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    loseNextScriptReply: () =>
      new Promise<void>((resolve) => {
        armed = { kind: 'lose', done: resolve };
      }),
    holdNextScriptReply() {
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const held = new Promise<void>((resolve) => {
        armed = { kind: 'hold', held: resolve, released };
      });
      return { held, release };
    },
    scriptCalls: () => calls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
