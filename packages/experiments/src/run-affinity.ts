/** A run at least this share of the first run's weight may go before it at any time: swapping them costs nothing. */
const NEAR_EQUAL = 0.9;

/** A run waiting for a slot, with the inputs a slot may already hold for it. */
export interface QueuedRun<O> {
  readonly order: O;
  /** Expected cost, in the unit the session ordered the runs by (the heaviest first). */
  readonly weight: number;
  /**
   * Store keys of the inputs it shares with other runs, the costliest to make first (its prototype set, then its
   * dataset); a position is undefined when the run has no such input.
   */
  readonly inputs: readonly (string | undefined)[];
}

/**
 * The runs of a session in the order the session chose (the heaviest first, so that the long runs overlap with the
 * short ones instead of running alone at the end), taken by slots as they come free. A slot that has just made a
 * prototype set or dataset takes a later run that uses it, instead of the first run (unless the first uses it too, or
 * an input as costly: a prototype set counts before a dataset); and a slot leaves a run whose prototype set another
 * slot is making right now to that slot. Either only when the first run has been passed over fewer than `slots`
 * times, and the run taken instead is nearly as heavy as the first (at least 90 %: the two change places at no
 * cost), or the work left in the queue without it is at least `slots` times the first run's (the others still have
 * enough to do beside the first one when it starts a little later). Otherwise it takes the first run: no slot ever
 * waits while runs are queued.
 */
export class AffinityQueue<O> {
  private readonly queue: { run: QueuedRun<O>; passed: number }[];
  private work: number;
  /** The most inputs a run lists: the tiers an input held by a slot can be at (runs only leave, so it stays a bound). */
  private readonly inputTiers: number;

  constructor(
    runs: readonly QueuedRun<O>[],
    private readonly slots: number,
  ) {
    this.queue = runs.map((run) => ({ run, passed: 0 }));
    this.work = runs.reduce((sum, run) => sum + run.weight, 0);
    // A loop, not Math.max(...): a grid's runs are more than a call takes arguments.
    this.inputTiers = runs.reduce((most, run) => Math.max(most, run.inputs.length), 0);
  }

  get length(): number {
    return this.queue.length;
  }

  /**
   * The next run for a slot that holds the inputs `held` (keys of the runs it made last), while other slots are
   * busy making `elsewhere` (the inputs of the runs they execute now); undefined when no run is left.
   */
  take(held: ReadonlySet<string> = new Set(), elsewhere: ReadonlySet<string> = new Set()): O | undefined {
    const index = this.choose(held, elsewhere);
    if (index < 0) return undefined;
    for (let i = 0; i < index; i++) this.queue[i]!.passed++;
    const { run } = this.queue.splice(index, 1)[0]!;
    this.work -= run.weight;
    return run.order;
  }

  private choose(held: ReadonlySet<string>, elsewhere: ReadonlySet<string>): number {
    const first = this.queue[0];
    if (!first) return -1;
    if (first.passed >= this.slots) return 0;
    // Taking a run as heavy as the first changes no finishing time; a lighter one only while enough work is left.
    const affordable = (index: number) => {
      if (index <= 0) return false;
      const { weight } = this.queue[index]!.run;
      return weight >= NEAR_EQUAL * first.run.weight || this.work - weight >= this.slots * first.run.weight;
    };
    // Only a run that shares a costlier input than the first run does may go before it.
    const tiers = Math.min(heldTier(first.run, held), this.inputTiers);
    for (let tier = 0; tier < tiers; tier++) {
      const index = this.queue.findIndex(({ run }, i) => i > 0 && run.inputs[tier] !== undefined && held.has(run.inputs[tier]!));
      if (affordable(index)) return index;
    }
    // The first run's prototype set is being made by a busy slot, which will hold it soon: leave the run to that slot.
    const made = (run: QueuedRun<O>) => run.inputs[0] !== undefined && elsewhere.has(run.inputs[0]) && !held.has(run.inputs[0]);
    if (made(first.run)) {
      const index = this.queue.findIndex(({ run }, i) => i > 0 && !made(run));
      if (affordable(index)) return index;
    }
    return 0;
  }
}

/** The position of the run's costliest input that is held; Infinity when none is (or nothing is held). */
function heldTier(run: QueuedRun<unknown>, held: ReadonlySet<string>): number {
  const tier = run.inputs.findIndex((key) => key !== undefined && held.has(key));
  return tier < 0 ? Number.POSITIVE_INFINITY : tier;
}
