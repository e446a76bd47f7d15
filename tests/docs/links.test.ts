import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { brokenLinks, githubSlug, headingAnchors } from '../helpers/markdown-links.ts';

const root = resolve(import.meta.dirname, '../..');
const docs = [join(root, 'README.md'), ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(root, 'docs', f))];

describe('links in README.md and docs/*.md', () => {
  it.each(docs.map((file) => [file.slice(root.length + 1), file]))('%s: every relative link and anchor resolves', (_name, file) => {
    expect(brokenLinks(file)).toEqual([]);
  });
});

describe('the link checker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sector-doc-links-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('makes anchors as GitHub does', () => {
    expect(githubSlug('Retrying orders safely: Idempotency-Key')).toBe('retrying-orders-safely-idempotency-key');
    expect(githubSlug("The build's effect, and a real `docker compose up`")).toBe('the-builds-effect-and-a-real-docker-compose-up');
    expect(githubSlug('No ticks / world lost')).toBe('no-ticks--world-lost');
    expect([...headingAnchors('# A\n## Orders\n```\n# not a heading\n```\n### Orders\n')]).toEqual(['a', 'orders', 'orders-1']);
  });

  it('reports a missing file, a missing anchor and nothing in code', () => {
    writeFileSync(join(dir, 'b.md'), '# B\n## Here\n');
    const a = join(dir, 'a.md');
    writeFileSync(
      a,
      [
        '# A',
        '[ok](b.md#here) [self](#a) [web](https://example.com/x.md)',
        '[gone](c.md) [bad anchor](b.md#there) [bad self](#nowhere)',
        '`[in code](nope.md)`',
        '```',
        '[in a fence](nope.md)',
        '```',
      ].join('\n'),
    );
    expect(brokenLinks(a).map((l) => [l.line, l.target])).toEqual([
      [3, 'c.md'],
      [3, 'b.md#there'],
      [3, '#nowhere'],
    ]);
  });
});
