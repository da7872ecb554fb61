// Titles of linked records (the target form's `title_field`), for link cells, link pickers
// and history. Ids asked for in the same tick are fetched together: one
// `filter={"id": {"in": [...]}}&fields=<title_field>` request per target form, so a list page
// of 50 rows costs one request per link column's target, not one per row.
import { reactive } from 'vue'
import { api } from './api'
import { loadApp } from './defs'

// `${app}/${form}` → {id: title}; `null` marks an id that was asked for and not found
// (deleted, or not visible to this user).
const known = reactive({})
const pending = new Map() // `${app}/${form}` → Set of ids waiting for the next batch
const inflight = new Map() // `${app}/${form}/${id}` → the batch that fetches it
let flushing = null

const key = (app, form) => `${app}/${form}`
// Largest page the API serves; a batch above it is split.
const BATCH = 500

/** The title of record `id` of `form`, or undefined while unknown (call `requestTitles`). */
export function titleOf(app, form, id) {
  return known[key(app, form)]?.[id]
}

/** A readable name for a record: its title, or the start of its id when it has none. */
export function displayTitle(app, form, id) {
  const title = titleOf(app, form, id)
  return title == null || title === '' ? shortId(id) : String(title)
}

export function shortId(id) {
  return typeof id === 'string' ? `#${id.slice(-8)}` : String(id ?? '')
}

/** Records a title the UI already knows (a search result, a record just saved). */
export function rememberTitle(app, form, id, title) {
  const k = key(app, form)
  if (!known[k]) known[k] = {}
  known[k][id] = title ?? null
}

/** Titles of the title field of each record in `records` (envelopes) of `form`. */
export async function rememberRecords(app, form, records) {
  const def = await loadApp(app)
  const titleField = def.forms[form]?.title_field
  for (const r of records) rememberTitle(app, form, r.id, titleField ? r.data?.[titleField] : null)
}

/** Fetches the titles of `ids` not known yet; resolves when they are known. */
export function requestTitles(app, form, ids) {
  const k = key(app, form)
  const waits = []
  for (const id of ids) {
    if (typeof id !== 'string' || !id || known[k]?.[id] !== undefined) continue
    const ik = `${k}/${id}`
    if (!inflight.has(ik)) {
      if (!pending.has(k)) pending.set(k, new Set())
      pending.get(k).add(id)
      // Wait one microtask so every caller of this tick lands in the same batch.
      flushing ??= Promise.resolve().then(flush)
      inflight.set(ik, flushing)
    }
    waits.push(inflight.get(ik))
  }
  return Promise.all(waits)
}

async function flush() {
  const batches = [...pending.entries()]
  pending.clear()
  flushing = null
  await Promise.all(
    batches.map(async ([k, idSet]) => {
      const [app, form] = k.split('/')
      const titleField = (await loadApp(app)).forms[form]?.title_field
      const ids = [...idSet]
      if (!titleField) {
        // Nothing to fetch: such records are named by their id.
        ids.forEach((id) => {
          rememberTitle(app, form, id, null)
          inflight.delete(`${k}/${id}`)
        })
        return
      }
      for (let i = 0; i < ids.length; i += BATCH) {
        const chunk = ids.slice(i, i + BATCH)
        const page = await api
          .list(app, form, { filter: { id: { in: chunk } }, fields: [titleField], limit: chunk.length })
          .catch(() => ({ items: [] })) // a missing title falls back to the id; never break the page
        const found = new Map(page.items.map((r) => [r.id, r.data?.[titleField] ?? null]))
        for (const id of chunk) {
          rememberTitle(app, form, id, found.get(id) ?? null)
          inflight.delete(`${k}/${id}`)
        }
      }
    }),
  )
}

/** Forgets every title (on sign-out). */
export function forgetTitles() {
  for (const k of Object.keys(known)) delete known[k]
}
