// The metric names a PromQL expression reads, for checking dashboards and rules against what
// the roles export. Not a full parser: it removes what cannot be a metric name (strings, label
// matchers, ranges, grouping clauses, numbers, durations), and what is left that is neither a
// function call nor a keyword is a metric name. Grafana's `$__rate_interval` and other `$`
// variables are replaced first (see `grafanaToPromql`).

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'Inf', 'NaN']);

/** A Grafana panel expression as Prometheus would get it (interval variables filled in). */
export function grafanaToPromql(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m');
}

export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call || KEYWORDS.has(name!)) continue;
    // a number's exponent or a duration's unit (`1e3`, `5m`) starts after a digit
    const before = stripped[m.index - 1];
    if (before !== undefined && /[0-9.]/.test(before)) continue;
    names.add(name!);
  }
  return [...names];
}

/** `# TYPE name type` lines of a Prometheus text exposition: every family, sampled or not. */
export function exportedFamilies(exposition: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

/** Whether a referenced series name belongs to an exported family (histograms have three). */
export function isExported(name: string, families: Map<string, string>): boolean {
  if (families.has(name)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m !== null && (families.get(m[1]!) === 'histogram' || families.get(m[1]!) === 'summary');
}
