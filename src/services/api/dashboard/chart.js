// One sensor's chart (uPlot): mean line and a min–max band per bucket, a chosen range up to now that
// the live stream keeps extending, and drag-to-zoom that fetches the finer range.
import uPlot from '/dashboard/vendor/uPlot.esm.js'
import { fetchSeries } from './series.js'

const POINTS = 600

export class SensorChart {
  /** @param {{ element: HTMLElement, title: HTMLElement, sub: HTMLElement, onError: (err: Error) => void }} options */
  constructor(options) {
    this.options = options
    this.sensorId = undefined
    this.rangeSeconds = 3600
    /** a zoomed window [from, to]; undefined: the range up to now, live */
    this.zoom = undefined
    this.bucketSeconds = 1
    this.data = [[], [], [], [], []]
    this.plot = undefined
    this.dirty = false
    this.request = 0
    new ResizeObserver(() => this.resize()).observe(options.element)
  }

  async show(sensorId, rangeSeconds = this.rangeSeconds, zoom = undefined) {
    this.sensorId = sensorId
    this.rangeSeconds = rangeSeconds
    this.zoom = zoom
    const request = ++this.request
    const to = zoom ? zoom[1] : Date.now() / 1000
    const from = zoom ? zoom[0] : to - rangeSeconds
    this.options.title.textContent = sensorId
    this.options.sub.textContent = 'loading…'
    let series
    try {
      series = await fetchSeries(sensorId, from, to, POINTS)
    } catch (err) {
      this.options.onError(err)
      return
    }
    if (request !== this.request) return
    this.bucketSeconds = series.bucketSeconds
    const b = series.buckets
    this.data = [b.map((x) => x.start), b.map((x) => x.min), b.map((x) => x.max), b.map((x) => x.mean), b.map((x) => x.count)]
    this.from = from
    this.to = zoom ? to : undefined
    this.describe()
    this.draw()
  }

  describe() {
    const n = this.data[4].reduce((a, c) => a + c, 0)
    const width =
      this.bucketSeconds >= 86400
        ? `${this.bucketSeconds / 86400} d`
        : this.bucketSeconds >= 3600
          ? `${this.bucketSeconds / 3600} h`
          : this.bucketSeconds >= 60
            ? `${this.bucketSeconds / 60} min`
            : `${this.bucketSeconds} s`
    this.options.sub.textContent = `${n.toLocaleString()} readings · ${width} buckets · ${this.zoom ? 'zoomed' : 'live'}`
  }

  /** A live reading of the shown sensor: into its bucket, or a new one at the end. */
  add(reading) {
    if (reading.sensor_id !== this.sensorId || this.zoom !== undefined || this.plot === undefined) return
    const [xs, mins, maxs, means, counts] = this.data
    const start = Math.floor(reading.timestamp / this.bucketSeconds) * this.bucketSeconds
    const last = xs.length - 1
    if (last >= 0 && xs[last] === start) {
      mins[last] = Math.min(mins[last], reading.value)
      maxs[last] = Math.max(maxs[last], reading.value)
      means[last] = (means[last] * counts[last] + reading.value) / (counts[last] + 1)
      counts[last] += 1
    } else if (last < 0 || start > xs[last]) {
      xs.push(start)
      mins.push(reading.value)
      maxs.push(reading.value)
      means.push(reading.value)
      counts.push(1)
      const from = Date.now() / 1000 - this.rangeSeconds
      while (xs.length > 0 && xs[0] < from - this.bucketSeconds) for (const a of this.data) a.shift()
    } else {
      return // late data for an older bucket: shown on the next load
    }
    this.dirty = true
  }

  /** Called a few times a second: redraws when live readings came. */
  flush() {
    if (!this.dirty || this.plot === undefined) return
    this.dirty = false
    const now = Date.now() / 1000
    this.plot.setData(this.data.slice(0, 4), false)
    this.plot.setScale('x', { min: now - this.rangeSeconds, max: now })
    this.describe()
  }

  draw() {
    const { element } = this.options
    const css = getComputedStyle(document.documentElement)
    const color = (name) => css.getPropertyValue(name).trim()
    const accent = color('--accent')
    const axis = { stroke: color('--muted'), grid: { stroke: color('--line'), width: 1 }, ticks: { stroke: color('--line') } }
    const now = Date.now() / 1000
    const value = (_u, v) => (v == null ? '–' : formatValue(v))
    const opts = {
      ...this.size(),
      scales: {
        x: {
          time: true,
          range: () => (this.zoom ? [this.zoom[0], this.zoom[1]] : [this.from ?? now - this.rangeSeconds, Math.max(now, ...this.data[0].slice(-1))])
        }
      },
      series: [
        {},
        { label: 'min', stroke: accent, width: 0.5, alpha: 0.5, value, points: { show: false } },
        { label: 'max', stroke: accent, width: 0.5, alpha: 0.5, value, points: { show: false } },
        { label: 'mean', stroke: accent, width: 2, value, points: { size: 5, fill: accent } }
      ],
      bands: [{ series: [2, 1], fill: color('--accent-soft') }],
      axes: [axis, { ...axis, size: 60, values: (_u, ticks) => ticks.map(formatValue) }],
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      hooks: { setSelect: [(u) => this.zoomTo(u)] }
    }
    this.plot?.destroy()
    element.textContent = ''
    this.plot = new uPlot(opts, this.data.slice(0, 4), element)
  }

  zoomTo(u) {
    if (u.select.width < 5 || this.sensorId === undefined) return
    const from = u.posToVal(u.select.left, 'x')
    const to = u.posToVal(u.select.left + u.select.width, 'x')
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
    this.show(this.sensorId, this.rangeSeconds, [from, to])
  }

  /** The plot fills the element, its legend included (the element's size never follows its content). */
  size() {
    const { element } = this.options
    const legend = this.plot?.root.querySelector('.u-legend')?.offsetHeight ?? 40
    return { width: Math.max(element.clientWidth, 200), height: Math.max(element.clientHeight - legend - 8, 160) }
  }

  resize() {
    this.plot?.setSize(this.size())
  }

  /** Colours follow the theme: redraw with the new ones. */
  restyle() {
    if (this.plot !== undefined) this.draw()
  }
}

export function formatValue(v) {
  const a = Math.abs(v)
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2)
  return v.toLocaleString(undefined, { maximumFractionDigits: a >= 100 ? 1 : 3 })
}
