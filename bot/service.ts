// The faction bot: plays BOT_FACTION through the HTTP API only (never Redis). It polls
// /snapshot every BOT_POLL_INTERVAL, and when the turn gate opens (once per tick, see
// turn-gate.ts) plans at most BOT_MAX_ORDERS orders and posts them as one batch.
// It keeps nothing a restart would lose (I5): the gate re-derives its state from the world.
// When the API is down, slow or failing it backs off with jitter and keeps trying; it never
// crashes on the API's account. stop() aborts whatever is in flight, sleeps included.
import { SectorApiError, SectorClient, SectorNetworkError, backoffDelay, sleep } from '../client/index.ts';
import type { Config } from '../shared/config.ts';
import type { Logger } from '../shared/log.ts';
import { createRegistry, prom } from '../shared/metrics.ts';
import { type ProbeServer, startProbeServer } from '../shared/probe-server.ts';
import type { Order, PublicSnapshot } from '../shared/schemas.ts';
import type { Service } from '../shared/service.ts';
import { planOrders } from './strategy.ts';
import { type SendOutcome, TurnGate } from './turn-gate.ts';

/** The longest wait between polls while the API is unreachable. */
const MAX_OUTAGE_BACKOFF_MS = 15_000;

export interface BotService extends Service {
  readonly faction: string;
  /** the port of the bot's /health /ready /metrics server, when BOT_HTTP_PORT is set */
  readonly port?: number;
}

/** What the probe server and metrics report about the loop. */
export class BotHealth {
  readonly registry = createRegistry('bot');
  /** consecutive failed reads of the world; 0 when the API answered last time */
  apiFailures = 0;
  lastTick = -1;
  readonly ordersSent = new prom.Counter({ name: 'sector_bot_orders_sent_total', help: 'orders the API accepted from this bot', registers: [this.registry] });
  readonly refusals = new prom.Counter({ name: 'sector_bot_orders_refused_total', help: 'batches the API refused (4xx)', registers: [this.registry] });
  constructor() {
    const failures = () => this.apiFailures;
    new prom.Gauge({
      name: 'sector_bot_api_failures',
      help: 'consecutive failed reads of the world',
      registers: [this.registry],
      collect() {
        this.set(failures());
      },
    });
  }
}

export async function startBot(config: Config, roleLog: Logger): Promise<BotService> {
  const faction = config.BOT_FACTION;
  // Every line names the faction: `npm start` runs two bots in one process.
  const log = roleLog.child({ faction });
  const token = config.BOT_TOKEN;
  if (!token) throw new Error(`BOT_TOKEN is not set: the bot needs the API token of faction ${faction} (one of the name:token pairs in the API's API_TOKENS)`);
  const pollMs = config.BOT_POLL_INTERVAL * 1000;
  const controller = new AbortController();
  // BOT_SIM_ID: another simulation than the API's default is played through /sims/<id>/...
  const simId = config.BOT_SIM_ID ?? config.SIM_ID;
  const client = new SectorClient({
    baseUrl: config.API_URL,
    simId: simId === config.SIM_ID ? undefined : simId,
    token,
    timeoutMs: Math.max(2_000, pollMs * 5),
    retry: { attempts: 3, baseDelayMs: Math.min(200, pollMs), maxDelayMs: 2_000 },
    onRetry: (r) => log.debug({ path: r.path, attempt: r.attempt, delayMs: r.delayMs, err: r.error.message }, 'retrying an API call'),
  });
  const health = new BotHealth();
  const bot = new BotLoop(client, config, log, controller.signal, health);
  const done = bot.run().catch((err: unknown) => log.error({ err }, 'bot loop ended unexpectedly'));
  let probes: ProbeServer | undefined;
  if (config.BOT_HTTP_PORT !== undefined) {
    probes = await startProbeServer(config.BOT_HTTP_PORT, {
      health: () => ({ faction, tick: health.lastTick }),
      // ready while the API answers: a bot that cannot reach it is alive but not playing
      ready: () => ({ ready: health.apiFailures === 0 && health.lastTick >= 0, faction, apiFailures: health.apiFailures }),
      registry: health.registry,
    });
  }
  log.info({ api: config.API_URL, pollMs, maxOrders: config.BOT_MAX_ORDERS, port: probes?.port }, 'bot started');
  return {
    faction,
    port: probes?.port,
    async stop() {
      controller.abort(new Error('bot stopping'));
      await done;
      await probes?.close();
    },
  };
}

class BotLoop {
  private readonly gate = new TurnGate();
  /** ids of the last batch, to report its outcome once a later tick has consumed it */
  private lastBatch: string[] = [];

  constructor(
    private readonly client: SectorClient,
    private readonly config: Config,
    private readonly log: Logger,
    private readonly signal: AbortSignal,
    private readonly health: BotHealth,
  ) {}

  async run(): Promise<void> {
    const pollMs = this.config.BOT_POLL_INTERVAL * 1000;
    let failures = 0;
    while (!this.signal.aborted) {
      let waitMs = pollMs;
      try {
        const snapshot = await this.client.snapshot({ signal: this.signal });
        if (failures > 0) this.log.info({ failures, tick: snapshot.tick }, 'API reachable again; resuming play');
        failures = 0;
        this.health.apiFailures = 0;
        this.health.lastTick = snapshot.tick;
        // a finished match takes no orders (each would be rejected): wait for a next round
        if (!snapshot.ended && this.gate.mayAct(snapshot)) await this.playTurn(snapshot);
      } catch (err) {
        if (this.signal.aborted) break;
        failures += 1;
        this.health.apiFailures = failures;
        waitMs = backoffDelay(failures - 1, { baseDelayMs: pollMs, maxDelayMs: Math.max(pollMs, MAX_OUTAGE_BACKOFF_MS) });
        this.log.warn({ err: (err as Error).message, failures, retryInMs: waitMs }, 'cannot read the world from the API; backing off');
      }
      await sleep(waitMs, this.signal).catch(() => undefined);
    }
  }

  private async playTurn(snapshot: PublicSnapshot): Promise<void> {
    await this.reportLastBatch();
    const orders = planOrders(snapshot, { faction: this.config.BOT_FACTION, maxOrders: this.config.BOT_MAX_ORDERS, seed: snapshot.params.seed });
    if (orders.length === 0) {
      this.gate.acted(snapshot.tick, { certain: true, lastOrderId: null });
      this.log.debug({ tick: snapshot.tick }, 'nothing to order this tick');
      return;
    }
    const outcome = await this.send(snapshot.tick, orders);
    this.gate.acted(snapshot.tick, outcome);
  }

  /**
   * Posts the tick's orders as one all-or-nothing batch and says what is known of the outcome.
   * The client sends the batch with one Idempotency-Key and retries timeouts, 503 and 504
   * with it, so a batch queued although its answer was lost is not queued twice; what fails
   * here failed every retry.
   */
  private async send(tick: number, orders: Order[]): Promise<SendOutcome> {
    try {
      const ids = await this.client.postOrders(orders, { signal: this.signal });
      this.lastBatch = ids;
      this.health.ordersSent.inc(ids.length);
      this.log.info({ tick, count: ids.length, ids, types: orders.map((o) => o.type) }, 'orders sent');
      return { certain: true, lastOrderId: ids.at(-1) ?? null };
    } catch (err) {
      if (this.signal.aborted) throw err;
      if (err instanceof SectorApiError && err.isClientError) {
        // Refused: nothing was written. Not retried: the same request would be refused again;
        // the next tick plans afresh. Bad tokens stay bad, so they are errors, not warnings.
        this.health.refusals.inc();
        const level = err.status === 401 || err.status === 403 ? 'error' : 'warn';
        this.log[level]({ tick, status: err.status, code: err.code, field: err.field, reason: err.message, orders }, 'the API refused this tick\'s orders');
        return { certain: true, lastOrderId: null };
      }
      // notSent only when no attempt can have reached the API (see SectorNetworkError)
      const notSent = err instanceof SectorNetworkError && err.notSent;
      this.log.warn({ tick, err: (err as Error).message, notSent }, notSent ? 'could not reach the API to send orders' : 'sending orders failed with an unknown outcome');
      return notSent ? { certain: true, lastOrderId: null } : { certain: false };
    }
  }

  /** Logs why the engine rejected any of the last batch (best effort: only for the log). */
  private async reportLastBatch(): Promise<void> {
    const ids = this.lastBatch;
    this.lastBatch = [];
    for (const id of ids) {
      try {
        const status = await this.client.orderStatus(id, { signal: this.signal });
        if (status.status === 'rejected') this.log.warn({ orderId: id, tick: status.tick, reason: status.reason }, 'the engine rejected an order');
      } catch (err) {
        if (this.signal.aborted) throw err;
        this.log.debug({ orderId: id, err: (err as Error).message }, 'could not read an order status');
      }
    }
  }
}
