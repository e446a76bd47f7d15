// Every commit that landed on a Redis Cluster, for I1 across primaries: one MONITOR per node
// alive when recording starts (cli/commit-audit.ts's recorder on each), replicas included, so
// the commits of a primary that is killed later and of the replica promoted in its place are
// all seen. A replica's MONITOR also shows what it replays from its primary: commits are told
// apart by their `rev` (`<tick>:<uuid>`, new on every commit), so a tick committed twice shows
// as two revs.
import { type LandedCommit, type PoolCommitRecorder, recordCommitsOf } from '../../cli/commit-audit.ts';
import type { TestCluster } from './redis-cluster.ts';

export interface ClusterCommitRecorder {
  /** the distinct commits of `simId` seen on any node, by tick */
  of(simId: string): LandedCommit[];
  /** the commits of `simId` a node executed from a client (not replayed from its primary), with that node's port */
  sentTo(simId: string): { port: number; commit: LandedCommit }[];
  stop(): Promise<void>;
}

export async function recordClusterCommits(cluster: TestCluster, simIds: readonly string[]): Promise<ClusterCommitRecorder> {
  // the live nodes only: a killed one would never answer
  const watched = cluster.nodes.filter((n) => n.alive());
  const recorders: PoolCommitRecorder[] = await Promise.all(watched.map((n) => recordCommitsOf(n.port, simIds)));
  return {
    of(simId) {
      const byRev = new Map<string, LandedCommit>();
      for (const r of recorders) for (const c of r.of(simId)) if (!byRev.has(c.rev) || (c.client && !byRev.get(c.rev)!.client)) byRev.set(c.rev, c);
      return [...byRev.values()].sort((a, b) => a.tick - b.tick);
    },
    sentTo(simId) {
      return recorders.flatMap((r, i) => r.of(simId).filter((c) => c.client !== undefined).map((commit) => ({ port: watched[i]!.port, commit })));
    },
    async stop() {
      await Promise.all(recorders.map((r) => r.stop()));
    },
  };
}

/**
 * I1 from the commits: no tick committed twice (two revs of one tick), and from the first to
 * the last no tick missing, except the last tick of a range in `jumped` (the ranges a world
 * jumped over with ticks_lost): it may have been a commit in flight when its primary died that
 * never ran. The rest of a lost range did run, on the primary that lost it.
 */
export function clusterTickViolations(commits: readonly LandedCommit[], jumped: readonly { from: number; to: number }[] = []): string[] {
  const problems: string[] = [];
  for (let i = 1; i < commits.length; i++) {
    const a = commits[i - 1]!;
    const b = commits[i]!;
    if (b.tick === a.tick) problems.push(`tick ${b.tick} committed twice: ${a.rev} (by ${a.client}) and ${b.rev} (by ${b.client})`);
    else if (b.tick !== a.tick + 1 && !(b.tick === a.tick + 2 && jumped.some((j) => j.to === a.tick + 1))) problems.push(`ticks ${a.tick + 1}..${b.tick - 1} never committed`);
  }
  return problems;
}
