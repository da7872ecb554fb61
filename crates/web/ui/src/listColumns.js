// Which fields a list shows: the user's own choice for this form (kept in localStorage), else
// the form's `list_columns`, else a default — the title field, then the required fields (what
// the form's author says a record cannot do without), then the first layout section's fields
// (what the author put first), then the rest in order, keeping only short scalar fields.
import { isListable } from './fields'

export const DEFAULT_COLUMNS = 6

export function defaultColumns(formDef) {
  const fields = (formDef.fields ?? []).filter(isListable)
  const byId = new Map(fields.map((f) => [f.id, f]))
  // Those the form names, hidden ones left out (the app view has no hidden fields).
  const named = (formDef.list_columns ?? []).map((id) => (formDef.fields ?? []).find((f) => f.id === id)).filter(Boolean)
  if (named.length) return named
  const ordered = [
    byId.get(formDef.title_field),
    ...fields.filter((f) => f.required),
    ...(formDef.layout?.[0]?.fields ?? []).map((id) => byId.get(id)),
    ...fields,
  ].filter(Boolean)
  return [...new Set(ordered)].slice(0, DEFAULT_COLUMNS)
}

const key = (app, form) => `tessera.columns.${app}.${form}`

/** The columns to show: the saved choice (fields since removed from the form are dropped). */
export function listColumns(app, form, formDef) {
  try {
    const saved = JSON.parse(localStorage.getItem(key(app, form)) ?? 'null')
    if (Array.isArray(saved)) {
      const columns = saved.map((id) => formDef.fields.find((f) => f.id === id)).filter(Boolean)
      if (columns.length) return columns
    }
  } catch {
    // A damaged entry is the same as none.
  }
  return defaultColumns(formDef)
}

/** Saves the user's choice of columns; `null` goes back to the default. */
export function saveColumns(app, form, ids) {
  if (ids) localStorage.setItem(key(app, form), JSON.stringify(ids))
  else localStorage.removeItem(key(app, form))
}
