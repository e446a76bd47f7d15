// The commit and tick audit lives in cli/commit-audit.ts, shared with `sector chaos`.
export * from '../../cli/commit-audit.ts';
