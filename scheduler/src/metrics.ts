import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface SchedulerGaugeSources {
  peers(): number;
  tasks(): number;
}

/** Every metric of the scheduler, in one place. */
export function createSchedulerMetrics(registry: Registry, sources: SchedulerGaugeSources) {
  const registers = [registry];
  const metrics = {
    peers: new Gauge({
      name: 'shoal_scheduler_peers',
      help: 'Peers connected to this scheduler',
      registers,
      collect() {
        this.set(sources.peers());
      },
    }),
    tasks: new Gauge({
      name: 'shoal_scheduler_tasks',
      help: 'Blob tasks this scheduler tracks',
      registers,
      collect() {
        this.set(sources.tasks());
      },
    }),
    assignments: new Counter({
      name: 'shoal_scheduler_assignments_total',
      help:
        'Assignments issued, by kind (peer: a piece from a parent; lease: pieces from one parent fetched one ' +
        'after another, each also counted as peer; pending: a piece of a lease not yet at its parent, also ' +
        'counted as peer; origin: a back-to-source range; ' +
        "endgame: a piece on its way asked of a second parent, among a requester's last pieces)",
      labelNames: ['kind'] as const,
      registers,
    }),
    assignmentLatency: new Histogram({
      name: 'shoal_scheduler_assignment_duration_seconds',
      help: 'Time to compute one assignment decision',
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1],
      registers,
    }),
    decisions: new Counter({
      name: 'shoal_scheduler_decisions_total',
      help:
        'Assignment decisions, by what asked for them (open, report, sibling: a report of another blob of the same node, ' +
        'waiting: a change that concerns every waiting peer, ' +
        'freed-slot, new-holder, retry: the sweep, endgame: a last piece long on its way) and whether they ' +
        'assigned anything (outcome: assigned or none)',
      labelNames: ['trigger', 'outcome'] as const,
      registers,
    }),
    backToSource: new Counter({
      name: 'shoal_scheduler_back_to_source_total',
      help: 'Back-to-source ranges handed out',
      registers,
    }),
    waitingNotices: new Counter({
      name: 'shoal_scheduler_waiting_notices_total',
      help: 'Assignments of nothing sent to peers kept waiting for a parent, so they do not take their blob to the origin',
      registers,
    }),
    originPieces: new Counter({
      name: 'shoal_scheduler_origin_pieces_total',
      help: 'Pieces reported fetched from the origin',
      registers,
    }),
    pieceFailures: new Counter({
      name: 'shoal_scheduler_piece_failures_total',
      help: 'Piece failures reported by peers, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    poisonedTables: new Counter({
      name: 'shoal_scheduler_poisoned_tables_total',
      help: 'Piece tables dropped because a blob built from them failed its digest',
      registers,
    }),
    blocklistEvents: new Counter({
      name: 'shoal_scheduler_blocklist_events_total',
      help: 'Hosts blocklisted, by scope (task or cluster)',
      labelNames: ['scope'] as const,
      registers,
    }),
  };
  // Series counted on every decision, resolved once: prom-client hashes a label object on every call.
  // By outcome, then trigger: no key is built per decision.
  const decisionSeries = {
    assigned: new Map<string, Counter.Internal>(),
    none: new Map<string, Counter.Internal>(),
  };
  const pieceAssignments = metrics.assignments.labels('peer');
  const originAssignments = metrics.assignments.labels('origin');
  const endgameAssignments = metrics.assignments.labels('endgame');
  const leaseAssignments = metrics.assignments.labels('lease');
  const pendingAssignments = metrics.assignments.labels('pending');
  return {
    ...metrics,
    /** Counts one decision and what it handed out. */
    decided(
      trigger: string,
      pieces: number,
      originRanges: number,
      endgame = 0,
      leases = 0,
      pending = 0,
    ): void {
      const outcome = pieces + originRanges + endgame > 0 ? 'assigned' : 'none';
      const byTrigger = decisionSeries[outcome];
      let series = byTrigger.get(trigger);
      if (!series) {
        series = metrics.decisions.labels(trigger, outcome);
        byTrigger.set(trigger, series);
      }
      series.inc();
      if (pieces > 0) pieceAssignments.inc(pieces);
      if (originRanges > 0) originAssignments.inc(originRanges);
      if (endgame > 0) endgameAssignments.inc(endgame);
      if (leases > 0) leaseAssignments.inc(leases);
      if (pending > 0) pendingAssignments.inc(pending);
    },
  };
}

export type SchedulerMetrics = ReturnType<typeof createSchedulerMetrics>;
