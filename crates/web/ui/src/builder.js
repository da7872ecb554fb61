// What the app builder and the form designer share: the palette's names and groups of the
// field types, as the server's registry gives them (the builder's other words are in i18n.js,
// under `builder.` and `designer.`), and the edits of an app's `app.json` (a form
// added to the navigation). Everything a form does is computed by the server (the draft's
// preview); nothing here evaluates an expression.
import { api } from './api'
import { reactive } from 'vue'
import { label, t } from './i18n'

// The server's palette (`GET /api/field-types`): each type's name in both languages and its
// group come from the field type registry, read once; until it is read a type shows its id.
const served = reactive({ labels: {}, groups: {}, groupList: [] })
let reading = null

/** Remembers the names and groups the server's palette (`{types, groups}`) gives the types. */
export function rememberPalette(answer) {
  for (const entry of answer?.types ?? []) {
    served.labels[entry.type] = entry.label
    served.groups[entry.type] = entry.group
  }
  served.groupList = answer?.groups ?? []
}

/** Reads the palette once (admins only), for pages that name field types. */
export function ensurePalette() {
  reading ??= api.fieldTypes().then(rememberPalette, () => (reading = null))
  return reading
}

/** The palette's groups, in order: `[{id, label}]`. */
export function paletteGroups() {
  return served.groupList
}

/** The palette group of a type (`other` for a type the palette does not group). */
export function typeGroup(type) {
  return served.groups[type] ?? 'other'
}

/** The type's name in the current locale. */
export function typeName(type) {
  return label(served.labels[type], type)
}

/** The type's name in both languages, as a label a new field starts with. */
export function typeLabel(type) {
  const l = served.labels[type]
  return l && typeof l === 'object' ? { ...l } : { en: type, 'zh-CN': type }
}

export const SNAKE = /^[a-z][a-z0-9_]*$/

/** Why `id` cannot name one of `items` by their `key` (not snake case, or taken), or ''. */
export function idProblem(id, items, key = 'id') {
  if (!SNAKE.test(id ?? '')) return t('designer.idSnake')
  if (items.filter((x) => x[key] === id).length > 1) return t('designer.idTaken')
  return ''
}

/**
 * Adds `form` to the app's navigation in its draft when no group lists it yet (the first group,
 * or a new "Forms" group): answers the save's problems, or `null` when nothing changed.
 */
export async function ensureInNavigation(app, form) {
  const view = await api.definition(app, 'app', app)
  const def = view.definition ?? {}
  const groups = Array.isArray(def.navigation) ? def.navigation : []
  if (groups.some((g) => (g.forms ?? []).includes(form))) return null
  if (groups.length) groups[0].forms = [...(groups[0].forms ?? []), form]
  else groups.push({ label: { en: 'Forms', 'zh-CN': '表单' }, forms: [form] })
  def.navigation = groups
  const saved = await api.saveDefinition(app, 'app', app, def, view.version)
  return saved.problems ?? []
}

/** Takes `form` out of every navigation group of the app's draft (a form deleted). */
export async function removeFromNavigation(app, form) {
  const view = await api.definition(app, 'app', app)
  const def = view.definition ?? {}
  const groups = Array.isArray(def.navigation) ? def.navigation : []
  if (!groups.some((g) => (g.forms ?? []).includes(form))) return
  def.navigation = groups.map((g) => ({ ...g, forms: (g.forms ?? []).filter((f) => f !== form) })).filter((g) => g.forms.length)
  await api.saveDefinition(app, 'app', app, def, view.version)
}

/** A problem of a save or a publish as one line: file, JSON pointer, message. */
export function problemText(p) {
  const where = [problemFile(p), p.pointer ?? p.path].filter(Boolean).join(' ')
  const message = p.params?.text ?? p.message
  return where ? `${where}: ${message}` : message
}

/** The file a problem is about: `file` of a save's problem, `params.file` of a publish's. */
export function problemFile(p) {
  return p.file ?? p.params?.file ?? ''
}

/** The form a problem is about (`forms/request.json` → `request`), or null. */
export function problemForm(p) {
  return /^forms\/([a-z][a-z0-9_]*)\.json$/.exec(problemFile(p))?.[1] ?? null
}
