/**
 * Relative links in Markdown and the anchors GitHub gives headings, so the docs can be checked
 * the way GitHub renders them: a link to a moved file or a renamed section is caught here, not
 * by a reader.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export interface MarkdownLink {
  line: number;
  target: string;
}

export interface BrokenLink extends MarkdownLink {
  file: string;
  reason: string;
}

/** Lines outside fenced code blocks (1-based numbers): what Markdown renders as prose or headings. */
function linesOutsideFences(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let fence: string | null = null;
  text.split('\n').forEach((raw, i) => {
    const opener = /^\s*(`{3,}|~{3,})/.exec(raw);
    if (opener) {
      const mark = opener[1]!;
      if (fence === null) fence = mark[0]!.repeat(mark.length);
      else if (raw.trim().startsWith(fence)) fence = null;
      return;
    }
    if (fence === null) out.push({ line: i + 1, text: raw });
  });
  return out;
}

/** GitHub's heading anchor: lower case, punctuation dropped (but `-` and `_`), spaces to `-`. */
export function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a file's headings get, with GitHub's `-1`, `-2` for repeated ones. */
export function headingAnchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const { text: raw } of linesOutsideFences(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw);
    if (!heading) continue;
    // the heading's text as rendered: link targets and emphasis marks are not part of it
    const rendered = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = githubSlug(rendered);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Inline links `[text](target)` in prose; absolute URLs and mail links are left out. */
export function relativeLinks(text: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  for (const { line, text: raw } of linesOutsideFences(text)) {
    // inline code spans are blanked out: a link written there is text
    const prose = raw.replace(/`+[^`]*`+/g, (m) => ' '.repeat(m.length));
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      links.push({ line, target });
    }
  }
  return links;
}

/** The links of `file` whose file does not exist or whose `#anchor` is not a heading there. */
export function brokenLinks(file: string, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): BrokenLink[] {
  const broken: BrokenLink[] = [];
  for (const link of relativeLinks(read(file))) {
    const hash = link.target.indexOf('#');
    const pathPart = hash === -1 ? link.target : link.target.slice(0, hash);
    const anchor = hash === -1 ? null : decodeURIComponent(link.target.slice(hash + 1));
    const targetFile = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart));
    if (!existsSync(targetFile)) {
      broken.push({ file, ...link, reason: `no file ${targetFile}` });
      continue;
    }
    if (anchor === null || anchor === '') continue;
    if (!targetFile.endsWith('.md')) {
      broken.push({ file, ...link, reason: `an anchor into a file that is not Markdown` });
      continue;
    }
    if (!headingAnchors(read(targetFile)).has(anchor)) {
      broken.push({ file, ...link, reason: `no heading with anchor #${anchor} in ${targetFile}` });
    }
  }
  return broken;
}
