// App definitions as the server sends them (`GET /api/apps/{app}`): loaded once per app and
// session, and the few questions every view asks of them.
import { shallowReactive } from 'vue'
import { label } from './i18n'
import { api } from './api'

const loaded = new Map()
// The definitions already here, for what must answer at once (a value formatted as text).
const ready = shallowReactive(new Map())
let apps = null

/** The apps this user may open, `[{id, name, version}]`; asked once per session. */
export function loadApps() {
  apps ??= api.apps().then(
    (answer) => answer.items,
    (e) => {
      apps = null
      throw e
    },
  )
  return apps
}

/** `{app, forms}` of an app; one request per app however many views ask at once. */
export function loadApp(appId) {
  if (!loaded.has(appId)) {
    const promise = api.app(appId).then(
      (def) => {
        ready.set(appId, applyAccess(def))
        return def
      },
      (e) => {
        loaded.delete(appId) // a failed load may succeed later (network, expired session)
        throw e
      },
    )
    loaded.set(appId, promise)
  }
  return loaded.get(appId)
}

/** The app's definition if `loadApp` has it already, else null (and it is asked for). */
export function loadedApp(appId) {
  if (appId && !ready.has(appId)) loadApp(appId).catch(() => {})
  return ready.get(appId) ?? null
}

/**
 * Marks the fields the user may not change (`access.read_only` of each form) as read-only, so
 * the record page shows their values instead of widgets and never sends them.
 */
function applyAccess(def) {
  for (const form of Object.values(def?.forms ?? {})) {
    const readOnly = new Set(form.access?.read_only ?? [])
    for (const f of form.fields ?? []) if (readOnly.has(f.id)) f.read_only = true
  }
  return def
}

/**
 * May the user do `action` (`create`, `update`, `delete`, `export`, `print`, `import`…) on the
 * form? A definition without `access` (an older server) allows everything: the server decides.
 */
export function can(formDef, action) {
  if (!formDef) return false
  const actions = formDef.access?.actions
  return Array.isArray(actions) ? actions.includes(action) : true
}

/** Forgets every definition (on sign-out: another user may see other apps). */
export function forgetApps() {
  loaded.clear()
  ready.clear()
  apps = null
}

/** The form's label in the current locale. */
export function formLabel(def, formId) {
  return label(def?.forms?.[formId]?.label, formId)
}

/** The field (or child-table column) with this id. */
export function fieldOf(formDef, id) {
  return formDef?.fields?.find((f) => f.id === id)
}

/**
 * The record page's sections: the layout's sections in order, then one more holding the
 * fields no section mentions (so a field added to a form without touching the layout still
 * shows). Without a layout, one untitled section holds every field. Each keeps the layout's
 * `columns` and `tab` (a tab the form does not declare counts as none: shown above the tabs).
 */
export function sections(formDef) {
  const fields = formDef.fields ?? []
  const byId = new Map(fields.map((f) => [f.id, f]))
  const tabIds = new Set((formDef.tabs ?? []).map((t) => t.id))
  const placed = new Set()
  const out = []
  for (const [index, section] of (formDef.layout ?? []).entries()) {
    const inSection = (section.fields ?? []).map((id) => byId.get(id)).filter((f) => f && !placed.has(f.id))
    inSection.forEach((f) => placed.add(f.id))
    out.push({
      index, // its place in the layout
      label: section.label,
      fields: inSection,
      columns: section.columns ?? null,
      tab: tabIds.has(section.tab) ? section.tab : null,
    })
  }
  const rest = fields.filter((f) => !placed.has(f.id))
  if (rest.length) out.push({ label: out.length ? 'other' : null, fields: rest, other: out.length > 0, columns: null, tab: null })
  return out
}

/**
 * The record page arranged: `top`, the sections on no tab (above the tabs); `tabs`, the form's
 * tabs in order with their sections; `bottom`, the fields no section places (after everything,
 * as the layout says). Only the fields `shown(field)` keeps show (`shown` on each section); a
 * section left without any goes, and so does a tab left without a section.
 */
export function pageLayout(formDef, shown = () => true) {
  const all = sections(formDef)
    .map((s) => ({ ...s, shown: s.fields.filter(shown) }))
    .filter((s) => s.shown.length)
  const tabs = (formDef.tabs ?? [])
    .map((t) => ({ id: t.id, label: t.label, sections: all.filter((s) => s.tab === t.id) }))
    .filter((t) => t.sections.length)
  return {
    top: all.filter((s) => !s.tab && !s.other),
    tabs,
    bottom: all.filter((s) => s.other),
  }
}
