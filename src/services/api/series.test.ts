// The series bucket: at most `points` buckets, in units the rollups can answer, as small as that allows.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bucketCount, seriesBucketSeconds } from './series.ts'

const DAY = 86_400

test('a year in 500 points: whole hours, at most 500 buckets', () => {
  const from = 1_700_000_123
  const width = seriesBucketSeconds(from, from + 365 * DAY, 500)
  assert.equal(width % 3600, 0)
  assert.ok(bucketCount(from, from + 365 * DAY, width) <= 500)
  assert.ok(bucketCount(from, from + 365 * DAY, width - 3600) > 500, 'not wider than needed')
})

test('a day in 500 points: whole minutes; an hour in 5,000 points: whole seconds', () => {
  const from = 1_700_000_000
  assert.equal(seriesBucketSeconds(from, from + DAY, 500), 180)
  assert.equal(seriesBucketSeconds(from, from + 3600, 5_000), 1)
  assert.equal(seriesBucketSeconds(from, from + 10, 500), 1, 'never below a second')
})

test('an unaligned range never gets one point too many', () => {
  for (const [from, span, points] of [
    [1_700_000_001.5, 3_600, 60],
    [1_700_000_030, 59 * 60, 59],
    [17, 1_000, 3],
    [0.5, 1, 1]
  ] as const) {
    const width = seriesBucketSeconds(from, from + span, points)
    assert.ok(bucketCount(from, from + span, width) <= points, `${from} ${span} ${points}: ${width}`)
  }
})
