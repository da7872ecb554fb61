// The list API's filter language (`{"amount": {"gte": 1, "lt": 9}, "or": [...]}`) and the filter
// builder's conditions (`[{field, op, value}]`), one into the other: a list's own conditions, a
// saved filter kept as a record (the `filter` field type) and the saved filter a list applies.
import { label, t } from './i18n'
import { formatValue, operatorsFor } from './fields'

/** The fields a list of `formDef` filters on: its own, and the owner, a system column the API knows. */
export function filterableFields(formDef) {
  return [...(formDef?.fields ?? []), { id: 'owner', type: 'user', label: t('list.owner') }]
}

/**
 * Conditions as a filter: conditions on one field merge into one operator object
 * (`{"amount": {"gte": 1, "lt": 9}}`), which is how the API says "and" within a field.
 */
export function toFilter(conditions) {
  const out = {}
  for (const c of conditions) out[c.field] = { ...(out[c.field] ?? {}), [c.op]: c.value }
  return out
}

/**
 * A filter as conditions on `fields`, or null when the builder cannot show it: `or`/`and`
 * groups, a field not among `fields` (a path through a link), an operator the builder does not
 * offer for the field. A bare value is `eq`, and `eq`/`ne` of null are "is (not) empty", as the
 * API reads them. No filter is no conditions.
 */
export function toConditions(filter, fields) {
  if (filter == null) return []
  if (typeof filter !== 'object' || Array.isArray(filter)) return null
  const byId = new Map(fields.map((f) => [f.id, f]))
  const out = []
  for (const [id, cond] of Object.entries(filter)) {
    const field = byId.get(id)
    if (!field || id === 'or' || id === 'and') return null
    const ops = cond !== null && typeof cond === 'object' && !Array.isArray(cond) ? cond : { eq: cond }
    for (const [op, value] of Object.entries(ops)) {
      if (value === null && (op === 'eq' || op === 'ne')) out.push({ field: id, op: 'is_null', value: op === 'eq' })
      else if (operatorsFor(field)?.includes(op)) out.push({ field: id, op, value })
      else return null
    }
  }
  return out
}

/** Records matching both filters: one map when they name different fields, else an `and` of the two. */
export function bothFilters(a, b) {
  if (!b || !Object.keys(b).length) return a
  if (!Object.keys(a).length) return b
  return Object.keys(b).some((k) => k in a) ? { and: [a, b] } : { ...a, ...b }
}

/**
 * A filter as short text in the current locale (`Decision maker equals Yes; Owner equals rep1`),
 * or its JSON when the builder cannot show it.
 */
export function filterText(filter, fields, app) {
  const conditions = toConditions(filter, fields)
  if (!conditions) return JSON.stringify(filter)
  const byId = new Map(fields.map((f) => [f.id, f]))
  return conditions.map((c) => conditionText(c, byId.get(c.field), app)).join(t('filter.also'))
}

function conditionText({ op, value }, field, app) {
  const name = label(field.label, field.id)
  if (op === 'is_null') return `${name} ${t(value ? 'op.is_null' : 'filter.notEmpty')}`
  // One value of an option list (`in`, `has`) reads as that option's label.
  const one = (v) => formatValue(field.options ? { ...field, type: 'select' } : field, v, app)
  const shown = op === 'between' && Array.isArray(value) ? value.map(one).join(` ${t('common.and')} `) : Array.isArray(value) ? value.map(one).join(', ') : one(value)
  return `${name} ${t('op.' + op)} ${shown}`
}
