// The dashboard: every sensor with its latest value (GET /sensors, then the live stream), a chart of
// the selected one, and the pipeline's state (GET /status). Plain ES modules, no framework.
import { SensorChart, formatValue } from './chart.js'
import { SensorList } from './sensor-list.js'
import { followAlerts, loadAlerts } from './alerts.js'
import { apiFetch } from './api.js'
import { LiveStream } from './stream.js'

const $ = (id) => document.getElementById(id)
const ROW_HEIGHT = 36
const STATUS_EVERY_MS = 2000

/** sensor id → { value, timestamp, at (when it arrived here, ms) } */
const sensors = new Map()
/** every id, sorted (binary-inserted as new ones come) */
const ids = []
let query = ''
let matcher = () => true
let selected
let filterDirty = true
let listDirty = true

const chart = new SensorChart({ element: $('chart'), title: $('chart-title'), sub: $('chart-sub'), onError: (err) => console.warn(err.message) })
const list = new SensorList({
  scroller: $('list'),
  spacer: $('list-spacer'),
  rows: $('list-rows'),
  rowHeight: ROW_HEIGHT,
  describe: (id) => {
    const s = sensors.get(id)
    return { value: s ? formatValue(s.value) : '–', ago: s ? ago(s.timestamp) : '', fresh: s !== undefined && Date.now() - s.at < 1000 }
  },
  onSelect: select
})

function ago(timestamp) {
  const s = Math.max(0, Date.now() / 1000 - timestamp)
  if (s < 1) return 'just now'
  if (s < 60) return `${Math.floor(s)} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} d ago`
}

// sensor-2 before sensor-10, as people count.
const collator = new Intl.Collator(undefined, { numeric: true })

function insertId(id) {
  let lo = 0
  let hi = ids.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (collator.compare(ids[mid], id) < 0) lo = mid + 1
    else hi = mid
  }
  ids.splice(lo, 0, id)
}

function take(reading) {
  const known = sensors.has(reading.sensor_id)
  const current = sensors.get(reading.sensor_id)
  // Latest by timestamp, as the API keeps it: a late reading never replaces a newer one.
  if (!current || current.timestamp <= reading.timestamp) sensors.set(reading.sensor_id, { value: reading.value, timestamp: reading.timestamp, at: Date.now() })
  if (!known) {
    insertId(reading.sensor_id)
    filterDirty = true
  }
  listDirty = true
  chart.add(reading)
}

function compileQuery(text) {
  const q = text.trim()
  if (q === '') return () => true
  if (/[*?]/.test(q)) {
    const re = new RegExp(
      `^${q
        .replace(/[.+^${}()|[\]\\-]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      'i'
    )
    return (id) => re.test(id)
  }
  const lower = q.toLowerCase()
  return (id) => id.toLowerCase().includes(lower)
}

function refreshList() {
  if (filterDirty) {
    filterDirty = false
    const shown = query === '' ? ids.slice() : ids.filter(matcher)
    list.setItems(shown)
    $('shown').textContent = query === '' ? `${ids.length.toLocaleString()}` : `${shown.length.toLocaleString()} of ${ids.length.toLocaleString()}`
    $('count').textContent = ids.length.toLocaleString()
    $('list-rows').classList.toggle('is-empty', shown.length === 0)
  } else if (listDirty) {
    list.schedule()
  }
  listDirty = false
}

function select(id) {
  selected = id
  list.select(id)
  const url = new URL(location.href)
  url.searchParams.set('sensor', id)
  history.replaceState(null, '', url)
  chart.show(id, activeRange())
}

function activeRange() {
  return Number(document.querySelector('#ranges button.active')?.dataset.range ?? 3600)
}

async function loadSensors() {
  const res = await apiFetch('/sensors')
  if (!res.ok) throw new Error(`GET /sensors: ${res.status}`)
  const latest = await res.json()
  // In bulk: one sort rather than ten thousand inserts.
  for (const r of latest) {
    const current = sensors.get(r.sensor_id)
    if (!current || current.timestamp <= r.timestamp) sensors.set(r.sensor_id, { value: r.value, timestamp: r.timestamp, at: 0 })
  }
  ids.length = 0
  for (const id of [...sensors.keys()].sort(collator.compare)) ids.push(id)
  filterDirty = true
}

// The stream reconnects by itself after a drop, resuming with Last-Event-ID (the server first replays
// what was missed, up to STREAM_RESUME_SECONDS back); the page reloads the latest values, the chart
// and the firing alerts too, for a drop longer than that.
function connect() {
  const pill = $('connection')
  let again = false
  const source = new LiveStream('/stream')
  source.addEventListener('open', () => {
    pill.textContent = 'live'
    pill.className = 'pill pill-ok'
    if (!again) return
    loadSensors().then(refreshList, (err) => console.warn(err.message))
    if (selected) chart.show(selected, activeRange(), chart.zoom)
    loadAlerts()
  })
  source.addEventListener('error', () => {
    pill.textContent = 'reconnecting…'
    pill.className = 'pill pill-wait'
    again = true
  })
  source.addEventListener('reading', (event) => take(JSON.parse(event.data)))
  followAlerts(source)
  loadAlerts()
  return source
}

function pill(name, health) {
  const el = document.createElement('span')
  el.className = `pill pill-${health.status}`
  el.textContent = health.latency_ms === undefined ? name : `${name} ${health.latency_ms} ms`
  el.title = health.message ?? health.status
  return el
}

let polling = false
async function pollStatus() {
  // One at a time: a poll may wait for the key prompt.
  if (polling) return
  polling = true
  try {
    const res = await apiFetch('/status')
    if (!res.ok) throw new Error(`GET /status: ${res.status}`)
    const s = await res.json()
    $('rate').textContent = s.readings_per_second.toLocaleString(undefined, { maximumFractionDigits: 1 })
    $('lag').textContent = s.consumer_lag === null ? '–' : s.consumer_lag.toLocaleString()
    $('dlq').textContent = s.dead_lettered === null ? '–' : s.dead_lettered.toLocaleString()
    $('deps').replaceChildren(...Object.entries(s.dependencies).map(([name, h]) => pill(name, h)))
  } catch {
    $('deps').replaceChildren(pill('api', { status: 'down', message: 'GET /status did not answer' }))
  } finally {
    polling = false
  }
}

function setTheme(theme) {
  document.documentElement.dataset.theme = theme
  localStorage.setItem('sensorstream-theme', theme)
  chart.restyle()
}

$('theme').addEventListener('click', () => setTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark'))
$('search').addEventListener('input', (event) => {
  query = event.target.value
  matcher = compileQuery(query)
  filterDirty = true
  $('list').scrollTop = 0
})
$('ranges').addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button') : null
  if (!button) return
  for (const b of document.querySelectorAll('#ranges button')) b.classList.toggle('active', b === button)
  if (selected) chart.show(selected, activeRange())
})

setInterval(refreshList, 250)
setInterval(() => {
  listDirty = true
}, 1000)
setInterval(() => chart.flush(), 250)
setInterval(pollStatus, STATUS_EVERY_MS)
pollStatus()
const stream = connect()
loadSensors()
  .then(() => {
    refreshList()
    // When the list was first there, ms after navigation started (the browser tests report it).
    window.sensorstream.listedAt = performance.now()
    const wanted = new URL(location.href).searchParams.get('sensor') ?? ids[0]
    if (wanted) select(wanted)
  })
  .catch((err) => console.warn(err.message))

// For people poking at the page from the console, and for the browser tests.
window.sensorstream = { sensors, chart, stream }
