// What the app builder and the form designer share: the palette's names and groups of the
// field types (their other words are in i18n.js, under `builder.` and `designer.`), and the edits of an app's `app.json` (a form
// added to the navigation). Everything a form does is computed by the server (the draft's
// preview); nothing here evaluates an expression.
import { api } from './api'
import { locale } from './i18n'

/** Palette names and groups of the built-in field types; a type not listed shows its id. */
export const TYPE_INFO = {
  text: { group: 'basic', zh: '单行文本', en: 'Text' },
  textarea: { group: 'basic', zh: '多行文本', en: 'Long text' },
  email: { group: 'basic', zh: '邮箱', en: 'Email' },
  phone: { group: 'basic', zh: '电话', en: 'Phone' },
  url: { group: 'basic', zh: '网址', en: 'URL' },
  number: { group: 'number', zh: '数字', en: 'Number' },
  integer: { group: 'number', zh: '整数', en: 'Integer' },
  decimal: { group: 'number', zh: '小数', en: 'Decimal' },
  currency: { group: 'number', zh: '金额', en: 'Currency' },
  rating: { group: 'number', zh: '评分', en: 'Rating' },
  boolean: { group: 'choice', zh: '是/否', en: 'Yes/No' },
  select: { group: 'choice', zh: '单选', en: 'Select' },
  multiselect: { group: 'choice', zh: '多选', en: 'Multi-select' },
  tags: { group: 'choice', zh: '标签', en: 'Tags' },
  date: { group: 'time', zh: '日期', en: 'Date' },
  datetime: { group: 'time', zh: '日期时间', en: 'Date & time' },
  link: { group: 'relation', zh: '关联', en: 'Link' },
  user: { group: 'relation', zh: '人员', en: 'User' },
  table: { group: 'relation', zh: '子表', en: 'Child table' },
  rollup: { group: 'relation', zh: '汇总', en: 'Rollup' },
  attachment: { group: 'other', zh: '附件', en: 'Attachment' },
  auto_number: { group: 'other', zh: '自动编号', en: 'Auto number' },
  region: { group: 'other', zh: '地区', en: 'Region' },
}

/** The palette's groups, in order; each is named by `designer.group.<id>` in i18n.js. */
export const GROUPS = [{ id: 'basic' }, { id: 'number' }, { id: 'choice' }, { id: 'time' }, { id: 'relation' }, { id: 'other' }]

/** The type's name in the current locale. */
export function typeName(type) {
  const info = TYPE_INFO[type]
  return info ? (locale.value === 'zh-CN' ? info.zh : info.en) : type
}

/** The type's name in both languages, as a label a new field starts with. */
export function typeLabel(type) {
  const info = TYPE_INFO[type]
  return info ? { en: info.en, 'zh-CN': info.zh } : { en: type, 'zh-CN': type }
}

export const SNAKE = /^[a-z][a-z0-9_]*$/

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
