// Strict schemas of the custom resources k8s/components/monitoring uses: the Prometheus
// Operator's PodMonitor and PrometheusRule (monitoring.coreos.com/v1) and KEDA's ScaledObject
// (keda.sh/v1alpha1). Not in kubernetes-models; these hold the subset of each CRD's schema that
// the component uses, with the CRDs' types and enums, and refuse unknown keys (a misspelt
// field would otherwise be dropped by the API server's pruning without a word).
import { z } from 'zod';

const Meta = z.object({ name: z.string(), namespace: z.string().optional(), labels: z.record(z.string(), z.string()).optional(), annotations: z.record(z.string(), z.string()).optional() }).strict();
/** Prometheus durations, as the CRDs' pattern has them (`30s`, `1h30m`). */
const Duration = z.string().regex(/^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/);
const LabelSelector = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z.array(z.object({ key: z.string(), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).optional() }).strict()).optional(),
  })
  .strict();

const Rule = z
  .object({
    alert: z.string().optional(),
    record: z.string().optional(),
    expr: z.string().min(1),
    for: Duration.optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .refine((r) => (r.alert === undefined) !== (r.record === undefined), { message: 'a rule has exactly one of alert and record' });

const HpaPolicy = z.object({ type: z.enum(['Pods', 'Percent']), value: z.number().int().positive(), periodSeconds: z.number().int().min(1).max(1800) }).strict();
const HpaRules = z.object({ stabilizationWindowSeconds: z.number().int().min(0).max(3600).optional(), selectPolicy: z.enum(['Max', 'Min', 'Disabled']).optional(), policies: z.array(HpaPolicy).optional() }).strict();

export const MonitoringCrdSchemas: Record<string, z.ZodType> = {
  'monitoring.coreos.com/v1 PodMonitor': z
    .object({
      apiVersion: z.literal('monitoring.coreos.com/v1'),
      kind: z.literal('PodMonitor'),
      metadata: Meta,
      spec: z
        .object({
          selector: LabelSelector,
          namespaceSelector: z.object({ any: z.boolean().optional(), matchNames: z.array(z.string()).optional() }).strict().optional(),
          podMetricsEndpoints: z.array(z.object({ port: z.string(), path: z.string().startsWith('/').optional(), interval: Duration.optional(), scrapeTimeout: Duration.optional() }).strict()).min(1),
        })
        .strict(),
    })
    .strict(),
  'monitoring.coreos.com/v1 PrometheusRule': z
    .object({
      apiVersion: z.literal('monitoring.coreos.com/v1'),
      kind: z.literal('PrometheusRule'),
      metadata: Meta,
      spec: z.object({ groups: z.array(z.object({ name: z.string().min(1), interval: Duration.optional(), rules: z.array(Rule).min(1) }).strict()).min(1) }).strict(),
    })
    .strict(),
  'keda.sh/v1alpha1 ScaledObject': z
    .object({
      apiVersion: z.literal('keda.sh/v1alpha1'),
      kind: z.literal('ScaledObject'),
      metadata: Meta,
      spec: z
        .object({
          scaleTargetRef: z.object({ name: z.string(), apiVersion: z.string().optional(), kind: z.string().optional() }).strict(),
          minReplicaCount: z.number().int().min(0),
          maxReplicaCount: z.number().int().min(1),
          pollingInterval: z.number().int().positive().optional(),
          cooldownPeriod: z.number().int().positive().optional(),
          advanced: z.object({ horizontalPodAutoscalerConfig: z.object({ behavior: z.object({ scaleUp: HpaRules.optional(), scaleDown: HpaRules.optional() }).strict() }).strict() }).strict().optional(),
          triggers: z
            .array(
              z
                .object({
                  type: z.literal('prometheus'),
                  metricType: z.enum(['AverageValue', 'Value', 'Utilization']).optional(),
                  metadata: z
                    .object({
                      serverAddress: z.url(),
                      query: z.string().min(1),
                      // KEDA reads these as strings holding numbers
                      threshold: z.string().regex(/^[0-9]+(\.[0-9]+)?$/),
                      activationThreshold: z.string().regex(/^[0-9]+(\.[0-9]+)?$/).optional(),
                    })
                    .strict(),
                })
                .strict(),
            )
            .min(1),
        })
        .strict()
        .refine((s) => s.minReplicaCount <= s.maxReplicaCount, { message: 'minReplicaCount above maxReplicaCount' }),
    })
    .strict(),
};
