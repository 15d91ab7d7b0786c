// MQTT topic filters as the bridge subscribes to them: `+` stands for exactly one level, `#` (last)
// for any number of levels, including none. A device that publishes to `sensors/<id>/data` need not
// repeat its id in the payload: the level the first `+` matched names the sensor.

/** Why `filter` is not a topic filter one can subscribe to, or undefined. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter === '') return 'is empty'
  if (filter.startsWith('$share/')) return 'must not start with $share/ (MQTT_GROUP makes the shared subscription)'
  const levels = filter.split('/')
  for (const [i, level] of levels.entries()) {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '# must be a whole level and the last one'
    if (level.includes('+') && level !== '+') return '+ must be a whole level'
  }
  return undefined
}

/** The levels `+` matched in `topic`, in order; undefined when `filter` does not match `topic`. */
export function matchTopic(filter: string, topic: string): string[] | undefined {
  const want = filter.split('/')
  const have = topic.split('/')
  // [MQTT-4.7.2-1]: wildcards at the first level do not match topics that start with `$`.
  if (topic.startsWith('$') && (want[0] === '+' || want[0] === '#')) return undefined
  const matched: string[] = []
  for (const [i, level] of want.entries()) {
    if (level === '#') return matched
    const actual = have[i]
    if (actual === undefined) return undefined
    if (level === '+') matched.push(actual)
    else if (level !== actual) return undefined
  }
  return have.length === want.length ? matched : undefined
}

/**
 * The sensor id a topic stands for: the level the first `+` of the first matching filter matched.
 * Undefined when no filter with a `+` matches (the payload must then name its sensor).
 */
export function sensorFromTopic(filters: readonly string[], topic: string): string | undefined {
  for (const filter of filters) {
    const matched = matchTopic(filter, topic)
    if (matched !== undefined && matched.length > 0 && matched[0] !== '') return matched[0]
  }
  return undefined
}
