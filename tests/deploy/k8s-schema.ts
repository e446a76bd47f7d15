// Validates a manifest against the Kubernetes OpenAPI schemas that `kubernetes-models` ships
// (compiled ajv validators), and finds keys those schemas do not define. The schemas allow
// unknown keys (as the API server's non-strict decoding does, silently dropping them), so a
// misspelt `readinessProbe` or a field at the wrong depth would pass plain validation: here,
// the object is wrapped in a Proxy that records every property the validator reads; a key it
// never read is one the schema does not know.
import * as models from 'kubernetes-models';
import { z } from 'zod';
import type { Manifest } from './deployment-files.ts';
import { MonitoringCrdSchemas } from './monitoring-crds.ts';

type Validate = (this: unknown) => void;

/** `networking.k8s.io` -> `networkingK8sIo`, the export name kubernetes-models uses. */
function groupExport(group: string): string {
  return group.replace(/\.([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function member(parent: unknown, name: string): unknown {
  return typeof parent === 'object' || typeof parent === 'function' ? (parent as Record<string, unknown> | null)?.[name] : undefined;
}

/** The model class's validate method: kubernetes-models exports `<group>.<version>.<Kind>`. */
function validatorFor(apiVersion: string, kind: string): Validate | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const versions = group === '' ? models : member(models, groupExport(group!));
  const validate = member(member(member(member(versions, version!), kind), 'prototype'), 'validate');
  return typeof validate === 'function' ? (validate as Validate) : undefined;
}

/** Wraps `value` so that every own property read (at any depth) is recorded by path. */
function recordReads(value: unknown, at: string, reads: Map<string, Set<string>>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const seen = new Set<string>();
  reads.set(at, seen);
  return new Proxy(value, {
    get(target, key, receiver) {
      const v: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || !Object.hasOwn(target, key)) return v;
      seen.add(key);
      return recordReads(v, `${at}/${key}`, reads);
    },
    has(target, key) {
      if (typeof key === 'string') seen.add(key);
      return Reflect.has(target, key);
    },
  });
}

function unreadKeys(value: unknown, at: string, reads: Map<string, Set<string>>, out: string[]): void {
  if (typeof value !== 'object' || value === null) return;
  const seen = reads.get(at);
  for (const [key, child] of Object.entries(value)) {
    if (!seen?.has(key)) out.push(`${at}/${key}`);
    else unreadKeys(child, `${at}/${key}`, reads, out);
  }
}

// Gateway API kinds are CRDs, not in kubernetes-models: these strict schemas hold the subset
// of gateway.networking.k8s.io/v1 that k8s/overlays/gateway uses (unknown keys are refused).
const Meta = z.object({ name: z.string(), namespace: z.string().optional(), labels: z.record(z.string(), z.string()).optional(), annotations: z.record(z.string(), z.string()).optional() }).strict();
const GatewayApiSchemas: Record<string, z.ZodType> = {
  Gateway: z
    .object({
      apiVersion: z.literal('gateway.networking.k8s.io/v1'),
      kind: z.literal('Gateway'),
      metadata: Meta,
      spec: z
        .object({
          gatewayClassName: z.string().min(1),
          listeners: z.array(
            z
              .object({
                name: z.string(),
                protocol: z.enum(['HTTP', 'HTTPS', 'TLS', 'TCP', 'UDP']),
                port: z.number().int().min(1).max(65535),
                hostname: z.string().optional(),
                allowedRoutes: z.object({ namespaces: z.object({ from: z.enum(['All', 'Same', 'Selector']) }).strict() }).strict().optional(),
              })
              .strict(),
          ),
        })
        .strict(),
    })
    .strict(),
  HTTPRoute: z
    .object({
      apiVersion: z.literal('gateway.networking.k8s.io/v1'),
      kind: z.literal('HTTPRoute'),
      metadata: Meta,
      spec: z
        .object({
          parentRefs: z.array(z.object({ name: z.string(), namespace: z.string().optional(), sectionName: z.string().optional() }).strict()),
          hostnames: z.array(z.string()).optional(),
          rules: z.array(
            z
              .object({
                matches: z.array(z.object({ path: z.object({ type: z.enum(['Exact', 'PathPrefix', 'RegularExpression']), value: z.string().startsWith('/') }).strict() }).strict()),
                backendRefs: z.array(z.object({ name: z.string(), port: z.number().int().min(1).max(65535) }).strict()),
              })
              .strict(),
          ),
        })
        .strict(),
    })
    .strict(),
};

/** Problems with one manifest: schema errors and unknown keys; empty when it is valid. */
export function manifestProblems(m: Manifest): string[] {
  const label = `${m.kind}/${m.metadata?.name}`;
  if (typeof m.apiVersion !== 'string' || typeof m.kind !== 'string') return [`${label}: apiVersion and kind are required`];
  if (m.apiVersion?.startsWith('gateway.networking.k8s.io/')) {
    const schema = GatewayApiSchemas[m.kind];
    if (!schema) return [`${label}: no schema for Gateway API kind ${m.kind}`];
    const r = schema.safeParse(m);
    return r.success ? [] : r.error.issues.map((i) => `${label}: ${i.path.join('.')}: ${i.message}`);
  }
  const crd = MonitoringCrdSchemas[`${m.apiVersion} ${m.kind}`];
  if (crd) {
    const r = crd.safeParse(m);
    return r.success ? [] : r.error.issues.map((i) => `${label}: ${i.path.join('.')}: ${i.message}`);
  }
  const validate = validatorFor(m.apiVersion, m.kind);
  if (!validate) return [`${label}: unknown apiVersion/kind ${m.apiVersion} ${m.kind}`];
  // kustomize's secretGenerator wraps long base64 values over lines; the API server decodes
  // with Go's encoding/base64, which skips newlines, while the schema's "byte" format does not.
  if (m.kind === 'Secret' && m.data && typeof m.data === 'object') {
    m = { ...m, data: Object.fromEntries(Object.entries(m.data).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/\n/g, '') : v])) };
  }
  const reads = new Map<string, Set<string>>();
  try {
    validate.call(recordReads(m, '', reads));
  } catch (err) {
    return [`${label}: ${(err as Error).message}`];
  }
  const unknown: string[] = [];
  unreadKeys(m, '', reads, unknown);
  return unknown.map((p) => `${label}: unknown key ${p}`);
}
