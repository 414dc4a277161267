export { GridSchema, GridDatasetSchema, GridModelSchema, PublishedSchema, parseGrid, gridSeeds, cellSeeds } from './grid-schema.js';
export type { Grid, GridInput, GridDataset, GridModel, Published } from './grid-schema.js';
export { PRESETS_DIR, presetNames, presetPath, loadPreset, loadGridFile } from './grid-files.js';
export { expandGrid, runKey, datasetClasses, type PlannedRun } from './grid-expansion.js';
export { checkGrid, type CheckedRun } from './grid-validation.js';
export {
  gridIdentity,
  canonicalJson,
  differences,
  describeGridDifferences,
  compareGridRuns,
  runIdentity,
  runDifferences,
  type ValueDifference,
  type GridChange,
  type GridComparison,
} from './grid-difference.js';
export {
  RECORD_FORMAT,
  recordFromOutcome,
  recordProblem,
  type RunRecord,
  type RunSeconds,
  type RunMemory,
  type RunInput,
  type RunVersions,
  type RunProvenance,
  type Scores,
} from './run-record.js';
export { pluginsOfRun, type PluginOrigin } from './plugin-origins.js';
export {
  checkUnchangedInputs,
  compareInputs,
  datasetInputs,
  describeChange,
  describeInput,
  recordedInputs,
  type InputChange,
  type InputComparison,
  type InputsCheck,
} from './input-changes.js';
export { gitProvenance, modulePath, type GitProvenance } from './git-provenance.js';
export { validationScore, beats, type ValidationScore } from './validation-score.js';
export {
  SavedModels,
  checkModelsWritable,
  MODELS_DIR,
  SAVE_MODELS,
  SAVE_MODELS_FILE,
  type SaveModels,
  type SavedModelsSummary,
  type ModelPlacement,
} from './saved-models.js';
export {
  ResultsStore,
  readResultsDirectory,
  parseResults,
  RESULTS_FILE,
  GRID_FILE,
  FAILURES_FILE,
  SESSIONS_FILE,
  type TornLine,
  type DuplicateLine,
  describeDuplicates,
  type StoredResults,
} from './results-store.js';
export { ResultsLock, LOCK_FILE, processAlive, type LockOwner } from './results-lock.js';
export {
  collectVersions,
  importRegistryModule,
  loadRegistry,
  type RegistryModule,
  type BuiltRegistry,
  type RunWriter,
} from './registry-module.js';
export { executeRun, failureOf, type RunOrder, type RunFailure } from './run-execution.js';
export { runGrid, type RunGridOptions, type GridOutcome } from './grid-runner.js';
export { planSession, selectRuns, recordMismatch, type SessionPlan, type PlanInput } from './session-plan.js';
export { ProgressTracker, type GridProgress, type RunningRun, type TrackerOptions } from './progress-tracker.js';
export type { RunScheduler, RunEvents, SchedulerContext, SchedulerFactory } from './run-scheduler.js';
export { localPool, LocalPool, threadShare, workerSetup, startupFailure, type LocalPoolOptions, type RunInputs } from './local-pool.js';
export { RunInputStore, DEFAULT_INPUT_STORE_BYTES, type InputStoreStats } from './run-input-store.js';
export { AffinityQueue, type QueuedRun } from './run-affinity.js';
export { phaseTotals, RUN_PHASES, type PhaseTotals, type RunPhase } from './run-phases.js';
export { ThreadSlot, InlineSlot, RunFailedError, ABORT_GRACE_MS, type RunSlot, type StageProgress } from './run-slots.js';
export type { WorkerSetup } from './worker-messages.js';
export { RunEstimates, plannedRunCost, UNDESCRIBED_DATASET, type CostedRun } from './run-estimates.js';
export {
  writeReport,
  writeSummaryPage,
  REPORT_MARKDOWN,
  REPORT_HTML,
  PLOTS_DIR,
  SUMMARY_PAGE,
  type WrittenReport,
  type WrittenSummary,
  type SummaryRowJson,
  type ReportCellSummary,
} from './report-writer.js';
export { explanations, type Explanation, type ExplanationId, type ExplanationStatus } from './report-explanations.js';
export { headFamily, summaryRows, type HeadFamily, type SummaryRow, type SummaryStudy } from './report-summary.js';
export { buildReportData, referenceLabel, stat, curveOverSeeds, type ReportData, type Stat, type CurvePoint } from './report-data.js';
export { seedComparison, type SeedComparison } from './report-seed.js';
export { evaluateFindings, calibration, PAR_POINTS, COMPARABLE_SPEED_RATIO, type Finding, type FindingStatus } from './report-findings.js';
export { renderLineChart, niceTicks, type LineChartOptions, type ChartSeries } from './svg-line-chart.js';
