// The firing-alerts panel: what GET /alerts?state=firing says at start (and after a reconnect), then
// kept live by the stream's `alert` events. Hidden when the API has no alert routes.
import { apiFetch } from './api.js'

const MAX_LISTED = 1000
const firing = new Map()
const panel = document.getElementById('alerts-panel')
const list = document.getElementById('alerts')
const count = document.getElementById('alerts-count')

const keyOf = (a) => `${a.rule_id}\u0000${a.sensor_id}`

export async function loadAlerts() {
  try {
    const res = await apiFetch(`/alerts?state=firing&limit=${MAX_LISTED}`)
    if (res.status === 404) {
      panel.hidden = true
      return
    }
    if (!res.ok) throw new Error(`GET /alerts: ${res.status}`)
    firing.clear()
    for (const a of await res.json())
      firing.set(keyOf(a), { rule_id: a.rule_id, rule_name: a.rule_name ?? `rule ${a.rule_id}`, sensor_id: a.sensor_id, since: a.since, value: a.last_value })
    render()
  } catch (err) {
    console.warn(err.message)
  }
}

/** Follows the `alert` events of the live stream (stream.js). */
export function followAlerts(source) {
  source.addEventListener('alert', (event) => {
    const e = JSON.parse(event.data)
    if (e.kind === 'firing') firing.set(keyOf(e), { rule_id: e.rule_id, rule_name: e.rule_name, sensor_id: e.sensor_id, since: e.at, value: e.value })
    else firing.delete(keyOf(e))
    render()
  })
}

function render() {
  const items = [...firing.values()].sort((a, b) => (b.since ?? 0) - (a.since ?? 0))
  count.textContent = String(items.length)
  panel.classList.toggle('alerts-none', items.length === 0)
  list.replaceChildren(
    ...items.slice(0, MAX_LISTED).map((a) => {
      const li = document.createElement('li')
      li.className = 'alert-row'
      li.dataset.sensor = a.sensor_id
      const name = document.createElement('span')
      name.className = 'alert-name'
      name.textContent = a.rule_name
      const sensor = document.createElement('a')
      sensor.className = 'alert-sensor'
      sensor.href = `?sensor=${encodeURIComponent(a.sensor_id)}`
      sensor.textContent = a.sensor_id
      const since = document.createElement('span')
      since.className = 'muted alert-since'
      since.textContent = a.since === undefined ? '' : `since ${new Date(a.since * 1000).toLocaleTimeString()}`
      li.append(name, sensor, since)
      return li
    })
  )
}
