// A real TCP proxy between a service and a test's redis-server that stops one command at a
// chosen point: the failures that leave a writer not knowing whether its write happened (a
// reply lost on the wire, a Redis slower than the client's timeout), or catch it mid-command
// for as long as a test likes. Everything else passes through untouched, so it also serves
// as a plain TCP forwarder (to an HTTP server, say) that close() cuts at once: it stops
// listening and destroys every connection synchronously.
// Commands are found by their RESP framing in what a client writes (ioredis writes command
// names in lower case: `$4\r\nexec\r\n`); a connection is known by the name it gives itself
// (CLIENT SETNAME), for faults aimed at one connection of a service.
import net from 'node:net';

export interface Interception {
  /** resolves once the command was stopped (for a cut: once the connection is cut) */
  readonly reached: Promise<void>;
  /** forward what was held (and everything after it) as if nothing happened */
  release(): void;
}

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
  /** the next write of connection `client` that contains `command` is held, unsent, until release() */
  holdNext(client: string, command: string): Interception;
  /**
   * The next write of connection `client` containing `command`: forwarded and, once Redis has
   * replied to it, the connection is cut so the reply is lost (`landed`: the command ran); or
   * the connection is cut without forwarding it (`!landed`: Redis never sees it).
   */
  cutAtNext(client: string, command: string, opts: { landed: boolean }): Interception;
  close(): Promise<void>;
}

interface Rule {
  /** the connection's name, or any connection */
  client?: string;
  command: RegExp;
  /** the reply to the command has fully arrived (see replyOf) */
  replyDone: (text: string) => boolean;
  action: 'hold-request' | 'cut-before' | 'lose-reply' | 'hold-reply';
  reached: () => void;
  released: Promise<void>;
  release: () => void;
}

const SCRIPT_CALL = /\r\n\$(?:7\r\nevalsha|4\r\neval)\r\n/gi;
/** the same, for test(): a /g pattern keeps state between calls */
const SCRIPT_CALL_ONCE = new RegExp(SCRIPT_CALL.source, 'i');
const commandPattern = (name: string) => new RegExp(`\\r\\n\\$${name.length}\\r\\n${name}\\r\\n`, 'i');
const SETNAME = /\$7\r\nsetname\r\n\$\d+\r\n([^\r]+)\r\n/i;

/**
 * When the reply to a command has fully arrived: for EXEC, once something other than the +OK
 * of MULTI and the +QUEUED of the commands queued in it has come; for others, any byte.
 */
const replyOf = (command: string) => (command.toLowerCase() === 'exec' ? (text: string) => text.replace(/^(?:\+(?:OK|QUEUED)\r\n)+/, '').length > 0 : (text: string) => text.length > 0);

export async function startRedisProxy(redisPort: number): Promise<RedisProxy> {
  const rules: Rule[] = [];
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
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    let name: string | undefined;
    let head = '';
    /** requests not forwarded while a hold-request rule holds this connection */
    let heldRequests: Buffer[] | undefined;
    /** the rule this connection's next reply suffers, taken when its command passed */
    let replyRule: { rule: Rule; text: string } | undefined;
    let heldReplies: Buffer[] | undefined;

    const fromClient = (chunk: Buffer) => {
      if (heldRequests) {
        heldRequests.push(chunk);
        return;
      }
      const text = chunk.toString('latin1');
      if (name === undefined) {
        head = (head + text).slice(-4096);
        name = SETNAME.exec(head)?.[1];
      }
      calls += text.match(SCRIPT_CALL)?.length ?? 0;
      const rule = replyRule ? undefined : rules.find((r) => (r.client === undefined || r.client === name) && r.command.test(text));
      if (!rule) {
        upstream.write(chunk);
        return;
      }
      rules.splice(rules.indexOf(rule), 1);
      if (rule.action === 'cut-before') {
        cut();
        rule.reached();
      } else if (rule.action === 'hold-request') {
        const held = [chunk];
        heldRequests = held;
        rule.reached();
        void rule.released.then(() => {
          heldRequests = undefined;
          for (const c of held) fromClient(c);
        });
      } else {
        replyRule = { rule, text: '' };
        upstream.write(chunk);
      }
    };
    client.on('data', fromClient);

    upstream.on('data', (chunk: Buffer) => {
      if (heldReplies) {
        heldReplies.push(chunk);
        return;
      }
      if (!replyRule) {
        client.write(chunk);
        return;
      }
      const { rule } = replyRule;
      if (rule.action === 'lose-reply') {
        replyRule.text += chunk.toString('latin1');
        if (!rule.replyDone(replyRule.text)) return;
        // Redis has answered, so the command has run: the writer never learns it
        replyRule = undefined;
        cut();
        rule.reached();
        return;
      }
      replyRule = undefined;
      const buffered = [chunk];
      heldReplies = buffered;
      rule.reached();
      void rule.released.then(() => {
        heldReplies = undefined;
        if (!client.destroyed) for (const b of buffered) client.write(b);
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  const arm = (action: Rule['action'], command: RegExp, replyDone: Rule['replyDone'], client?: string): Interception => {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => {
      reached = r;
    });
    const released = new Promise<void>((r) => {
      release = r;
    });
    const rule: Rule = { client, command, replyDone, action, reached, released, release };
    rules.push(rule);
    return {
      reached: reachedP,
      release() {
        const i = rules.indexOf(rule);
        if (i >= 0) rules.splice(i, 1); // not reached yet: it will never stop anything
        release();
      },
    };
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    loseNextScriptReply: () => arm('lose-reply', SCRIPT_CALL_ONCE, replyOf('eval')).reached,
    holdNextScriptReply() {
      const i = arm('hold-reply', SCRIPT_CALL_ONCE, replyOf('eval'));
      return { held: i.reached, release: i.release };
    },
    scriptCalls: () => calls,
    holdNext: (client, command) => arm('hold-request', commandPattern(command), replyOf(command), client),
    cutAtNext: (client, command, { landed }) => arm(landed ? 'lose-reply' : 'cut-before', commandPattern(command), replyOf(command), client),
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of rules.splice(0)) r.release();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
