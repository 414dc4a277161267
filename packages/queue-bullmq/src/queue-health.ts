import type { Redis } from 'ioredis';

/** Why the queue does not do what it is asked, as far as what to do about it goes. */
type Trouble = 'unreachable' | 'full' | `other: ${string}`;

/** Errors of a connection that ioredis (and BullMQ) retry on their own until Redis answers again. */
export function isConnectionError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code) ||
    /Connection is closed|ECONNREFUSED|ETIMEDOUT/.test(error.message)
  );
}

/** Redis at maxmemory refuses every write with this: nothing of the queue moves until memory is freed. */
export const isOutOfMemory = (error: Error): boolean => /^OOM /.test(error.message);

/**
 * What one side (the coordinator or a worker) says about the queue while it runs: each outage once when it starts,
 * what to do about it, and once when it is over, however many commands fail meanwhile.
 */
export class QueueHealth {
  private trouble: Trouble | undefined;
  private muted = false;

  constructor(
    private readonly display: string,
    private readonly log: (message: string) => void,
    /** What goes on meanwhile on this side, said with a lost connection. */
    private readonly meanwhile: string,
  ) {}

  /** Whether the queue failed its last command and has not answered one since. */
  get down(): boolean {
    return this.trouble !== undefined;
  }

  /** The connection dropped: ioredis reconnects, and commands wait for it. */
  lost(): void {
    this.say('unreachable', `lost the connection to the job queue at ${this.display}; retrying (${this.meanwhile})`);
  }

  /** A command failed. */
  failed(error: Error): void {
    if (isConnectionError(error)) this.lost();
    else if (isOutOfMemory(error))
      this.say(
        'full',
        `the job queue at ${this.display} is out of memory (Redis reached its maxmemory) and takes no writes, so no run is queued, taken or handed in: raise maxmemory on that server (CONFIG SET maxmemory, and in its redis.conf) or free memory there; retrying`,
      );
    else this.say(`other: ${error.message}`, `the job queue at ${this.display}: ${error.message}; retrying`);
  }

  /** The connection is back; a queue that was full may still be. */
  reconnected(): void {
    if (this.trouble === 'unreachable') this.recovered();
  }

  /** A write went through: whatever was wrong is over. */
  wrote(): void {
    if (this.trouble) this.recovered();
  }

  /** Says nothing more: the side stops without the queue, and has said so. */
  mute(): void {
    this.muted = true;
  }

  private recovered(): void {
    if (this.muted) return;
    this.log(
      this.trouble === 'full' ? `the job queue at ${this.display} takes writes again` : `the job queue at ${this.display} answers again`,
    );
    this.trouble = undefined;
  }

  private say(trouble: Trouble, message: string): void {
    if (this.trouble === trouble || this.muted) return;
    this.trouble = trouble;
    this.log(message);
  }
}

/** Warns of a database that may evict keys (jobs) when memory runs out, once per command. */
export async function warnOnEviction(redis: Redis, display: string, log: (message: string) => void): Promise<void> {
  const policy = await evictionPolicy(redis);
  if (policy && policy !== 'noeviction')
    log(
      `warning: the job queue at ${display} has maxmemory-policy ${policy}: Redis may evict jobs when memory runs out; set maxmemory-policy noeviction`,
    );
}

/**
 * The server's maxmemory-policy, from INFO memory: managed services and ACL users often may not use CONFIG (then
 * BullMQ's own check fails too, silently). CONFIG GET is asked only of a server whose INFO does not say it.
 */
async function evictionPolicy(redis: Redis): Promise<string | undefined> {
  const info = await redis.info('memory').catch(() => '');
  const line = /^maxmemory_policy:(\S+)/m.exec(info);
  if (line) return line[1];
  const reply = (await redis.call('CONFIG', 'GET', 'maxmemory-policy').catch(() => null)) as string[] | null;
  return reply?.[1];
}

let silenced = false;

/**
 * Drops the line BullMQ prints (console.warn) on every connection it opens to a Redis whose maxmemory-policy is not
 * noeviction: {@link warnOnEviction} says it once, with what to do. Called before BullMQ opens any. It replaces
 * console.warn for the whole process, for good, dropping only that line (whoever prints it).
 */
export function silenceBullmqEvictionLine(): void {
  if (silenced) return;
  silenced = true;
  const warn = console.warn.bind(console);
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('IMPORTANT! Eviction policy is ')) return;
    warn(...args);
  };
}
