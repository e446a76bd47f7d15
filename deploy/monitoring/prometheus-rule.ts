// Writes k8s/components/monitoring/prometheus-rule.yaml from the plain rules file
// deploy/monitoring/prometheus/sector.rules.yml (the one source of the alerts): the same groups,
// comments included, under a PrometheusRule's spec. Run after editing the rules:
//   node --import tsx deploy/monitoring/prometheus-rule.ts
// tests/deploy/monitoring.test.ts fails while the committed file differs from this output.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RULES_FILE = 'deploy/monitoring/prometheus/sector.rules.yml';
export const PROMETHEUS_RULE_FILE = 'k8s/components/monitoring/prometheus-rule.yaml';

export function prometheusRuleYaml(rulesText: string): string {
  const at = rulesText.indexOf('\ngroups:');
  if (at < 0) throw new Error(`${RULES_FILE}: no top-level groups:`);
  const body = rulesText
    .slice(at + 1)
    .split('\n')
    .map((line) => (line === '' ? line : `  ${line}`))
    .join('\n');
  return [
    `# GENERATED from ${RULES_FILE} by deploy/monitoring/prometheus-rule.ts: edit that file, then run`,
    '#   node --import tsx deploy/monitoring/prometheus-rule.ts',
    '# What each alert means: docs/monitoring.md.',
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: sector',
    '  labels:',
    '    # kube-prometheus-stack\'s Prometheus selects rules by its release label by default',
    '    release: kube-prometheus-stack',
    'spec:',
    body,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(path.join(root, PROMETHEUS_RULE_FILE), prometheusRuleYaml(readFileSync(path.join(root, RULES_FILE), 'utf8')));
  console.log(`wrote ${PROMETHEUS_RULE_FILE}`);
}
