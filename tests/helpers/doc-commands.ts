/**
 * The shell commands the docs show, for tests/docs/commands.test.ts: every line of a fenced
 * block marked bash, sh, shell or console (a `\` continuation joined, comments dropped), and
 * every inline code span of prose that is a command (sector, npm, redis-cli, kubectl, docker,
 * node, npx). Each line is also split
 * into its simple commands (at `&&`, `||`, `;`, `|`, outside quotes and `$(...)`) with their
 * variable assignments, words and output redirections, so each program it calls can be checked.
 */
import { readFileSync } from 'node:fs';

export interface DocLine {
  file: string;
  /** 1-based line of the command's first line */
  line: number;
  /** the command as one line, without its comment */
  text: string;
  /** the comment after it (`# 202 {"id":...}`), if any */
  comment: string;
  /** from a fenced shell block (false: an inline code span of prose) */
  block: boolean;
}

export interface SimpleCommand {
  /** NAME=value before the program (and `export NAME=value`) */
  assigns: Record<string, string>;
  /** the program and its arguments, quotes removed (a `$(...)` kept as written) */
  words: string[];
  /** files written with `>` / `>>` */
  writes: string[];
}

const SHELL_FENCES = new Set(['bash', 'sh', 'shell', 'console']);
/** Fence languages that hold no shell command (a fence without one must say what it holds). */
export const NON_SHELL_FENCES = new Set(['json', 'ts', 'typescript', 'js', 'yaml', 'text', 'promql', 'http']);

/** Where `#` starts a comment: at a word's start, outside quotes and `$(...)`. */
function splitComment(line: string): [string, string] {
  let quote: string | null = null;
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '$' && line[i + 1] === '(') {
      depth++;
      i++;
    } else if (c === ')' && depth > 0) depth--;
    else if (c === '#' && depth === 0 && (i === 0 || /\s/.test(line[i - 1]!))) return [line.slice(0, i).trimEnd(), line.slice(i + 1).trim()];
  }
  return [line.trimEnd(), ''];
}

/** Every shell command line of one Markdown file; also the fences that name no language. */
export function docCommands(file: string, text = readFileSync(file, 'utf8')): { lines: DocLine[]; unlabelledFences: number[] } {
  const lines: DocLine[] = [];
  const unlabelledFences: number[] = [];
  const raw = text.split('\n');
  let fence: { mark: string; shell: boolean } | null = null;
  let pending: { line: number; text: string } | null = null;
  raw.forEach((l, i) => {
    const opener = /^\s*(`{3,}|~{3,})\s*(\S*)/.exec(l);
    if (opener && (fence === null || l.trim().startsWith(fence.mark))) {
      if (fence === null) {
        const lang = opener[2]!.toLowerCase();
        if (lang === '') unlabelledFences.push(i + 1);
        fence = { mark: opener[1]!, shell: SHELL_FENCES.has(lang) };
      } else fence = null;
      return;
    }
    if (fence === null) {
      // prose: inline spans that are commands (`sector ...`, `npm run ...`, `redis-cli ...`,
      // `kubectl ...`, `docker ...`, `node ...`, `npx ...`), not names (`node:24-...`, `docker.io`)
      for (const m of l.matchAll(/`((?:npx )?sector [^`]+|npm (?:run|start|test|ci)\b[^`]*|(?:redis-cli|kubectl|docker|node|npx)(?: [^`]*)?)`/g)) lines.push({ file, line: i + 1, text: m[1]!, comment: '', block: false });
      return;
    }
    if (!fence.shell) return;
    const body = l.replace(/^\s*(\$ )?/, '');
    if (pending) {
      pending.text += ` ${body}`;
    } else {
      if (body.trim() === '' || body.trimStart().startsWith('#')) return;
      pending = { line: i + 1, text: body };
    }
    if (pending.text.endsWith('\\')) {
      pending.text = pending.text.slice(0, -1).trimEnd();
      return;
    }
    const [command, comment] = splitComment(pending.text.replace(/\s+/g, ' ').trim());
    lines.push({ file, line: pending.line, text: command, comment, block: true });
    pending = null;
  });
  return { lines, unlabelledFences };
}

/** A command line as its simple commands (see the top of this file). */
export function simpleCommands(line: string): SimpleCommand[] {
  const out: SimpleCommand[] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | null = null;
  let depth = 0;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    // a subshell's parentheses: `(cd k8s && kustomize ...)`
    if (words[0]?.startsWith('(')) words[0] = words[0].slice(1);
    if (words.at(-1)?.endsWith(')') && !words.at(-1)!.includes('$(')) words[words.length - 1] = words.at(-1)!.slice(0, -1);
    words = words.filter((w) => w !== '');
    const cmd: SimpleCommand = { assigns: {}, words: [], writes: [] };
    let i = 0;
    if (words[0] === 'export') i++;
    for (; i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!); i++) {
      const [name, ...rest] = words[i]!.split('=');
      cmd.assigns[name!] = rest.join('=');
    }
    for (; i < words.length; i++) {
      const w = words[i]!;
      if (/^\d?>>?$/.test(w)) cmd.writes.push(words[++i] ?? '');
      else if (/^\d?>&\d$/.test(w)) continue;
      else cmd.words.push(w);
    }
    if (cmd.words.length > 0 || Object.keys(cmd.assigns).length > 0) out.push(cmd);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += c;
      continue;
    }
    if (depth > 0) {
      word += c;
      if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '$' && line[i + 1] === '(') {
      word += '$(';
      i++;
      depth = 1;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) endWord();
    else if ((c === '&' && line[i + 1] === '&') || (c === '|' && line[i + 1] === '|')) {
      endCommand();
      i++;
    } else if (c === '|' || c === ';') endCommand();
    else if (c === '>' && !inWord) {
      endWord();
      words.push(line[i + 1] === '>' ? (i++, '>>') : '>');
    } else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return out;
}
