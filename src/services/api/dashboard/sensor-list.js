// A windowed list: only the rows on screen (plus a few) exist in the DOM, recycled as the list
// scrolls, so ten thousand sensors cost what thirty do.

const OVERSCAN = 6

export class SensorList {
  /**
   * @param {{ scroller: HTMLElement, spacer: HTMLElement, rows: HTMLElement, rowHeight: number,
   *           describe: (id: string) => {value: string, ago: string, fresh: boolean}, onSelect: (id: string) => void }} options
   */
  constructor(options) {
    this.options = options
    this.items = []
    this.selected = undefined
    this.pool = []
    this.scheduled = false
    options.scroller.addEventListener('scroll', () => this.schedule(), { passive: true })
    new ResizeObserver(() => this.schedule()).observe(options.scroller)
    options.rows.addEventListener('click', (event) => {
      const row = event.target instanceof Element ? event.target.closest('.row') : null
      if (row?.dataset.id) options.onSelect(row.dataset.id)
    })
  }

  /** @param {string[]} ids in display order */
  setItems(ids) {
    this.items = ids
    this.options.spacer.style.height = `${ids.length * this.options.rowHeight}px`
    this.schedule()
  }

  select(id) {
    this.selected = id
    this.schedule()
  }

  schedule() {
    if (this.scheduled) return
    this.scheduled = true
    requestAnimationFrame(() => {
      this.scheduled = false
      this.render()
    })
  }

  render() {
    const { scroller, rows, rowHeight, describe } = this.options
    const first = Math.max(0, Math.floor(scroller.scrollTop / rowHeight) - OVERSCAN)
    const count = Math.min(this.items.length - first, Math.ceil(scroller.clientHeight / rowHeight) + 2 * OVERSCAN)
    while (this.pool.length < count) this.pool.push(this.makeRow())
    rows.style.transform = `translateY(${first * rowHeight}px)`
    for (let i = 0; i < this.pool.length; i++) {
      const row = this.pool[i]
      const id = this.items[first + i]
      if (i >= count || id === undefined) {
        if (row.parentNode) row.remove()
        continue
      }
      if (!row.parentNode) rows.appendChild(row)
      const d = describe(id)
      if (row.dataset.id !== id) {
        row.dataset.id = id
        row.cells.id.textContent = id
        row.cells.id.title = id
        row.dataset.value = ''
      }
      if (row.dataset.value !== d.value) {
        const changed = row.dataset.value !== ''
        row.dataset.value = d.value
        row.cells.value.textContent = d.value
        if (changed && d.fresh) {
          row.classList.remove('flash')
          void row.offsetWidth
          row.classList.add('flash')
        }
      }
      row.cells.ago.textContent = d.ago
      row.classList.toggle('selected', id === this.selected)
    }
  }

  makeRow() {
    const row = document.createElement('div')
    row.className = 'row'
    row.setAttribute('role', 'button')
    const id = document.createElement('span')
    id.className = 'id'
    const value = document.createElement('span')
    value.className = 'num value'
    const ago = document.createElement('span')
    ago.className = 'num ago'
    row.append(id, value, ago)
    row.cells = { id, value, ago }
    return row
  }
}
