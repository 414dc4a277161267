export { queueScheduler, type QueueSchedulerOptions, type QueueSchedulerFactory } from './queue-coordinator.js';
export { runQueueWorker, type QueueWorkerOptions, type WorkerOutcome, type WorkerEvent } from './queue-worker.js';
export { parseQueueAddress, type QueueAddress } from './queue-address.js';
export { connectRedis, connectionError, CONNECT_TIMEOUT_MS } from './queue-connection.js';
export { requirementsOf, incompatibility, type Requirements, type CodeOnHand } from './compatibility.js';
export {
  KEY_PREFIX,
  CLAIM_KEY,
  HEARTBEAT_SECONDS,
  identityOf,
  queueNameOf,
  readClaim,
  type GridClaim,
  type JobData,
  type JobResult,
} from './grid-claim.js';
