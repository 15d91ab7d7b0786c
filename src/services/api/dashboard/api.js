// Every request of the page goes through apiFetch: with a key (kept in sessionStorage, for this tab
// only) it sends `Authorization: Bearer <key>`. When the API answers 401 (a key is needed) or 403
// (the key is not valid), the page shows a small key prompt and the request is made again with the
// key given; requests that meet a 401 while the prompt is open wait for that one prompt.
const STORAGE = 'sensorstream-api-key'

let prompting

export function apiKey() {
  return sessionStorage.getItem(STORAGE) ?? undefined
}

/** fetch(url, init) with the page's key, asking for one until the API accepts it. */
export async function apiFetch(url, init = {}) {
  for (;;) {
    const key = apiKey()
    const headers = new Headers(init.headers)
    if (key !== undefined) headers.set('authorization', `Bearer ${key}`)
    const res = await fetch(url, { ...init, headers })
    if (res.status !== 401 && res.status !== 403) return res
    await res.body?.cancel()
    // Another request may have been given a new key meanwhile: try that before asking.
    if (apiKey() !== key) continue
    await askForKey(res.status === 403 ? 'That key is not valid: enter another.' : 'This API needs a key to read.')
  }
}

/** Shows the key prompt (one at a time) and resolves once a key is entered. */
function askForKey(message) {
  if (prompting !== undefined) return prompting
  const dialog = document.getElementById('key-dialog')
  const form = document.getElementById('key-form')
  const input = document.getElementById('key-input')
  document.getElementById('key-message').textContent = message
  prompting = new Promise((resolve) => {
    const submit = (event) => {
      event.preventDefault()
      const key = input.value.trim()
      if (key === '') return
      sessionStorage.setItem(STORAGE, key)
      form.removeEventListener('submit', submit)
      dialog.close()
      input.value = ''
      prompting = undefined
      resolve()
    }
    form.addEventListener('submit', submit)
  })
  // Escape would close a modal dialog and leave the page without a way to enter the key.
  dialog.addEventListener('cancel', (event) => event.preventDefault(), { once: true })
  dialog.showModal()
  input.focus()
  return prompting
}
