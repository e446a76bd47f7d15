// The one configuration parser: defaults from the skeleton, and errors that name the variable.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../shared/config.ts';

describe('parseConfig', () => {
  it('gives the skeleton defaults', () => {
    const c = parseConfig({});
    expect(c).toMatchObject({ SIM_ID: 'default', TICK_DELAY: 0.5, LEASE_TTL_MS: 5000, BOT_FACTION: 'BotFaction', BOT_POLL_INTERVAL: 1, BOT_MAX_ORDERS: 3, PORT: 8000, VIZ_PORT: 9000 });
    expect(c.API_TOKENS).toEqual([]);
  });

  it('parses API_TOKENS name:token pairs', () => {
    expect(parseConfig({ API_TOKENS: 'admin:aaaaaaaaaa, BotFaction:bbbbbbbbbb' }).API_TOKENS).toEqual([
      { name: 'admin', token: 'aaaaaaaaaa' },
      { name: 'BotFaction', token: 'bbbbbbbbbb' },
    ]);
  });

  it('names every bad variable and what it accepts, without echoing a token', () => {
    try {
      parseConfig({ TICK_DELAY: '-1', SIM_ID: 'has space', API_TOKENS: 'BotFaction:short', LOG_LEVEL: 'loud', LOG_FORMAT: 'fancy' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      expect(message).toMatch(/TICK_DELAY: expected a number >= 0/);
      expect(message).toMatch(/SIM_ID: expected 1-64 letters/);
      expect(message).toMatch(/API_TOKENS: expected comma-separated name:token pairs/);
      expect(message).toMatch(/LOG_LEVEL: .*"loud"/);
      expect(message).toMatch(/LOG_FORMAT: .*"auto".*"fancy"/);
      expect(message).not.toContain('short');
    }
  });
});

describe('the victory condition and the next round', () => {
  it('defaults to homes, half the map or 1200 ticks, a next round after 30 s; accepts none/homes/share:N and "off"', () => {
    expect(parseConfig({})).toMatchObject({ WORLD_VICTORY: 'homes,share:50,ticks:1200', WORLD_NEXT_ROUND_S: 30 });
    expect(parseConfig({ WORLD_VICTORY: 'share:75', WORLD_NEXT_ROUND_S: 'off' })).toMatchObject({ WORLD_VICTORY: 'share:75', WORLD_NEXT_ROUND_S: null });
    expect(parseConfig({ WORLD_VICTORY: 'none', WORLD_NEXT_ROUND_S: '0' })).toMatchObject({ WORLD_VICTORY: 'none', WORLD_NEXT_ROUND_S: 0 });
  });

  it('names WORLD_VICTORY and WORLD_NEXT_ROUND_S when bad', () => {
    for (const [variable, value, pattern] of [
      ['WORLD_VICTORY', 'share:0', /WORLD_VICTORY: expected "none", "homes", "share:<N>".*got "share:0"/],
      ['WORLD_VICTORY', 'conquest', /WORLD_VICTORY: expected .*got "conquest"/],
      ['WORLD_NEXT_ROUND_S', 'soon', /WORLD_NEXT_ROUND_S: expected whole seconds 0-86400, or "off".*got "soon"/],
      ['WORLD_NEXT_ROUND_S', '-5', /WORLD_NEXT_ROUND_S: expected whole seconds/],
    ] as const) {
      expect(() => parseConfig({ [variable]: value }), `${variable}=${value}`).toThrow(pattern);
    }
  });
});

describe('secrets from files (<NAME>_FILE)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sector-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads API_TOKENS and BOT_TOKEN from the files named, trimmed of the trailing newline', () => {
    writeFileSync(path.join(dir, 'api'), 'admin:aaaaaaaaaa,Crimson:cccccccccc\n');
    writeFileSync(path.join(dir, 'bot'), 'cccccccccc\n');
    const c = parseConfig({ API_TOKENS_FILE: path.join(dir, 'api'), BOT_TOKEN_FILE: path.join(dir, 'bot') });
    expect(c.API_TOKENS).toEqual([
      { name: 'admin', token: 'aaaaaaaaaa' },
      { name: 'Crimson', token: 'cccccccccc' },
    ]);
    expect(c.BOT_TOKEN).toBe('cccccccccc');
  });

  it('names the variable of a file it cannot read, of a bad value read from a file, and of a secret set twice', () => {
    writeFileSync(path.join(dir, 'short'), 'BotFaction:short');
    const message = (() => {
      try {
        parseConfig({ API_TOKENS_FILE: path.join(dir, 'short'), BOT_TOKEN_FILE: path.join(dir, 'missing') });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      return expect.unreachable();
    })();
    expect(message).toMatch(/BOT_TOKEN_FILE: cannot read .*missing.* \(ENOENT\)/);
    expect(message).toMatch(/API_TOKENS: expected comma-separated name:token pairs/);
    expect(message).not.toContain('BotFaction:short');
    expect(() => parseConfig({ BOT_TOKEN: 'x'.repeat(10), BOT_TOKEN_FILE: path.join(dir, 'short') })).toThrow(/BOT_TOKEN_FILE: set either BOT_TOKEN or BOT_TOKEN_FILE/);
  });
});

describe('Redis Cluster and durability settings', () => {
  it('parses REDIS_CLUSTER_NODES seeds (IPv6 in brackets) and REDIS_DURABILITY levels; unset means one Redis, in memory', () => {
    expect(parseConfig({}).REDIS_CLUSTER_NODES).toBeUndefined();
    expect(parseConfig({})).toMatchObject({ REDIS_DURABILITY: { level: 'memory' }, REDIS_DURABILITY_TIMEOUT_MS: 1000 });
    expect(parseConfig({ REDIS_CLUSTER_NODES: ' redis-0.redis:6379, 10.0.0.2:7001,[::1]:7002 ' }).REDIS_CLUSTER_NODES).toEqual([
      { host: 'redis-0.redis', port: 6379 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(parseConfig({ REDIS_CLUSTER_NODES: '' }).REDIS_CLUSTER_NODES).toBeUndefined();
    expect(parseConfig({ REDIS_DURABILITY: 'replicas:2', REDIS_DURABILITY_TIMEOUT_MS: '250' })).toMatchObject({ REDIS_DURABILITY: { level: 'replicas', replicas: 2 }, REDIS_DURABILITY_TIMEOUT_MS: 250 });
    expect(parseConfig({ REDIS_DURABILITY: 'fsync' }).REDIS_DURABILITY).toEqual({ level: 'fsync' });
  });

  it('names REDIS_CLUSTER_NODES, REDIS_DURABILITY and REDIS_DURABILITY_TIMEOUT_MS when bad, with the bad entry', () => {
    for (const [variable, value, pattern] of [
      ['REDIS_CLUSTER_NODES', 'redis-0', /REDIS_CLUSTER_NODES: expected comma-separated host:port seeds of a Redis Cluster, got an entry "redis-0"/],
      ['REDIS_CLUSTER_NODES', 'a:6379,b:0', /REDIS_CLUSTER_NODES: .*got an entry "b:0"/],
      ['REDIS_CLUSTER_NODES', 'a:65536', /REDIS_CLUSTER_NODES: .*got an entry "a:65536"/],
      ['REDIS_CLUSTER_NODES', 'redis://a:6379', /REDIS_CLUSTER_NODES: .*got an entry "redis:\/\/a:6379"/],
      ['REDIS_DURABILITY', 'replicas', /REDIS_DURABILITY: expected "memory", "replicas:N" \(N >= 1\) or "fsync", got "replicas"/],
      ['REDIS_DURABILITY', 'replicas:0', /REDIS_DURABILITY: .*got "replicas:0"/],
      ['REDIS_DURABILITY', 'disk', /REDIS_DURABILITY: .*got "disk"/],
      ['REDIS_DURABILITY_TIMEOUT_MS', '0', /REDIS_DURABILITY_TIMEOUT_MS: expected/],
    ] as const) {
      expect(() => parseConfig({ [variable]: value }), `${variable}=${value}`).toThrow(pattern);
    }
  });
});
