// What the report builder knows of a report definition (schemas/report.schema.json): the fields
// a report over a form can name (its own, the system columns, one step through each link), how
// a field dropped on dimensions, measures or filters becomes one of them, and the filter rows
// the builder edits turned into the definition's filter object and back. Nothing here computes
// a number of a report: the server does.
import { fieldType } from '../../fields'
import { label } from '../../i18n'

export const DATE_BUCKETS = ['day', 'week', 'month', 'quarter', 'year']
export const AGGREGATES = ['count', 'count_distinct', 'sum', 'avg', 'min', 'max']
// Relative dates the server knows (`period` filters), in the order offered.
export const PERIODS = ['today', 'yesterday', 'this_week', 'last_week', 'this_month', 'last_month', 'next_month', 'this_quarter', 'last_quarter', 'next_quarter', 'this_year', 'last_year']
// Filter operators taking a number of days.
export const DAY_COUNTS = ['last_n_days', 'next_n_days', 'older_than_days']

const DATE_TYPES = new Set(['date', 'datetime'])

// Columns every record has; the ones worth grouping or filtering by.
const SYSTEM_COLUMNS = [
  { id: 'owner', label: { en: 'Owner', 'zh-CN': '负责人' }, kind: 'text' },
  { id: 'state', label: { en: 'State', 'zh-CN': '状态' }, kind: 'text' },
  { id: 'created_by', label: { en: 'Created by', 'zh-CN': '创建人' }, kind: 'text' },
  { id: 'created_at', label: { en: 'Created at', 'zh-CN': '创建时间' }, kind: 'date' },
  { id: 'updated_at', label: { en: 'Updated at', 'zh-CN': '更新时间' }, kind: 'date' },
]

/** How a field is compared and grouped: `date`, `number`, `choice` (options), `text` or `other`. */
function kindOf(field) {
  if (DATE_TYPES.has(field.type)) return 'date'
  const column = fieldType(field.type).column
  if (column === 'number') return 'number'
  if (field.options?.length) return 'choice'
  if (column === 'text') return 'text'
  return 'other'
}

/** The label of `inner` (a part, or a field through a link) of `outer` in both languages. */
function pathLabel(outer, outerId, inner, innerId) {
  const named = (l, id, lang) => l?.[lang] ?? label(l, id)
  return Object.fromEntries(['en', 'zh-CN'].map((lang) => [lang, `${named(outer, outerId, lang)} › ${named(inner, innerId, lang)}`]))
}

/**
 * The fields a report over `form` can name, as palette entries `{path, label, kind, options?,
 * via?}`: the form's own fields (child tables and attachments left out) and the text parts of
 * their values as `field.part` paths (a region's province and city), its system columns, and
 * for each link field the linked form's fields as `link.field` paths.
 */
export function paletteOf(app, form) {
  const def = app?.forms?.[form]
  if (!def) return []
  const own = []
  const through = []
  for (const field of def.fields ?? []) {
    for (const part of fieldType(field.type).parts ?? []) {
      own.push({ path: `${field.id}.${part.id}`, label: pathLabel(field.label, field.id, part.label, part.id), kind: 'text' })
    }
    const kind = kindOf(field)
    if (kind === 'other' && field.type !== 'link') continue
    own.push({ path: field.id, label: field.label ?? field.id, kind: field.type === 'link' ? 'text' : kind, options: field.options })
    if (field.type === 'link' && app.forms?.[field.form]) {
      for (const target of app.forms[field.form].fields ?? []) {
        const targetKind = kindOf(target)
        if (targetKind === 'other' || target.type === 'link') continue
        through.push({
          path: `${field.id}.${target.id}`,
          label: pathLabel(field.label, field.id, target.label, target.id),
          kind: targetKind,
          options: target.options,
          via: field.id,
        })
      }
    }
  }
  const system = SYSTEM_COLUMNS.map((c) => ({ path: c.id, label: c.label, kind: c.kind, system: true }))
  return [...own, ...system, ...through]
}

/** An id for `base` (a path made snake case) that none of `taken` has. */
export function freshId(base, taken) {
  const stem = String(base || 'x').toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^[^a-z]+/, '') || 'x'
  const used = new Set(taken)
  if (!used.has(stem)) return stem
  for (let n = 2; ; n += 1) if (!used.has(`${stem}_${n}`)) return `${stem}_${n}`
}

/** A label object in both languages from a field's label (a string or an object). */
function bothLanguages(l, fallback) {
  if (l && typeof l === 'object') return { ...l }
  return { en: l || fallback, 'zh-CN': l || fallback }
}

/** A dimension grouping by a palette field; dates are grouped by month unless changed. */
export function dimensionFrom(entry, taken) {
  return {
    id: freshId(entry.path, taken),
    field: entry.path,
    bucket: entry.kind === 'date' ? 'month' : null,
    label: bothLanguages(entry.label, entry.path),
  }
}

/** A measure of a palette field: numbers are summed, anything else counted; none counts records. */
export function measureFrom(entry, taken) {
  if (!entry?.path) return { id: freshId('count', taken), agg: 'count', field: null, label: { en: 'Records', 'zh-CN': '记录数' } }
  return {
    id: freshId(entry.path, taken),
    agg: entry.kind === 'number' ? 'sum' : 'count_distinct',
    field: entry.path,
    label: bothLanguages(entry.label, entry.path),
  }
}

/** The operators offered for a field of `kind`, the first being where a new row starts. */
export function operatorsOf(kind) {
  switch (kind) {
    case 'date':
      return ['period', 'last_n_days', 'next_n_days', 'older_than_days', 'before_now', 'eq', 'gte', 'lte', 'is_null']
    case 'number':
      return ['gte', 'lte', 'eq', 'ne', 'gt', 'lt', 'is_null']
    case 'choice':
      return ['in', 'nin', 'eq', 'ne', 'is_null']
    default:
      return ['eq', 'ne', 'contains', 'starts_with', 'in', 'is_null']
  }
}

/** The value a new condition with `op` starts with. */
export function startValue(op) {
  if (op === 'period') return 'this_month'
  if (DAY_COUNTS.includes(op)) return 30
  if (op === 'is_null' || op === 'before_now') return true
  if (op === 'in' || op === 'nin') return []
  return null
}

/** A filter row for a palette field. */
export function filterFrom(entry) {
  const op = operatorsOf(entry.kind)[0]
  return { field: entry.path, op, value: startValue(op) }
}

const isBlank = (v) => v == null || v === '' || (Array.isArray(v) && !v.length)

/**
 * The definition's filter: each complete row as `{field: {op: value}}` (rows on one field
 * merged), plus what the builder does not edit (`or`, nested conditions) kept as it was.
 */
export function filterObject(rows, kept) {
  const out = { ...kept }
  for (const row of rows) {
    if (!row.field || !row.op || isBlank(row.value)) continue
    const current = out[row.field]
    out[row.field] = { ...(current && typeof current === 'object' && !Array.isArray(current) ? current : {}), [row.op]: row.value }
  }
  return out
}

/** The rows the builder edits out of a definition's filter, and what it keeps untouched. */
export function filterRows(filter) {
  const rows = []
  const kept = {}
  for (const [field, condition] of Object.entries(filter ?? {})) {
    if (field === 'or' || field === 'and' || field === 'not') kept[field] = condition
    else if (condition && typeof condition === 'object' && !Array.isArray(condition)) {
      for (const [op, value] of Object.entries(condition)) rows.push({ field, op, value })
    } else rows.push({ field, op: 'eq', value: condition })
  }
  return { rows, kept }
}
