// The no-data check: every ALERTS_NO_DATA_CHECK_MS, the no_data alerts whose sensor has sent nothing
// for the rule's N seconds fire, and the firing ones whose sensor has sent a reading since resolve.
// One instance at a time (a transaction-scoped advisory lock: the others skip their turn); the
// alerts are locked and their events inserted ON CONFLICT DO NOTHING, as for the threshold rules.
import { checkNoData } from '../../domain/alert.ts'
import type { Logger } from '../../platform/logger.ts'
import type { AlertEvent, AlertStore, AlertTransition, NoDataCandidate } from '../../ports/alerts.ts'
import type { AlertEvaluator } from './alert-evaluator.ts'

/** Decides the transitions of one check at `now` (unix seconds). */
export function noDataTransitions(evaluator: Pick<AlertEvaluator, 'rule'>, candidates: readonly NoDataCandidate[], now: number): AlertTransition[] {
  const transitions: AlertTransition[] = []
  for (const c of candidates) {
    const rule = evaluator.rule(c.ruleId)
    if (rule === undefined || rule.kind !== 'no_data') continue
    const result = checkNoData(rule, c, now, c.lastReading)
    if (result.events.length > 0) transitions.push({ key: { ruleId: c.ruleId, sensorId: c.sensorId }, state: result.state, events: result.events })
  }
  return transitions
}

/** One check; undefined when another instance is checking. */
export async function checkNoDataOnce(store: AlertStore, evaluator: AlertEvaluator, now = () => Date.now() / 1000): Promise<AlertEvent[] | undefined> {
  const events = await store.checkNoData((candidates) => noDataTransitions(evaluator, candidates, now()))
  if (events !== undefined) evaluator.publish(events)
  return events
}

/** Runs the check every `everyMs` until `signal` aborts; failures are logged and the next turn comes. */
export async function runNoDataChecks(store: AlertStore, evaluator: AlertEvaluator, everyMs: number, logger: Logger, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    await sleep(everyMs, signal)
    if (signal.aborted) return
    if (!evaluator.rules.some((r) => r.kind === 'no_data')) continue
    await checkNoDataOnce(store, evaluator).catch((err: unknown) => logger.warn({ err }, 'no-data check failed; next one in due time'))
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
