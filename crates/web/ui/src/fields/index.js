// The field widget registry: field type → how the UI edits, shows, lists and filters it.
// It mirrors the server's registry (`crates/forms/src/field_types/`), one file per server
// file, one entry per type, so a new field type is one entry here beside its server twin.
//
// An entry:
//   widget     component editing the value (see widget.js); null when people never write it
//   display    component showing the value read-only (default: the text of `format`)
//   format     (value, field, app) → text for lists, history and read-only fields
//   column     how the server compares the value — 'text', 'number', 'bool' or 'opaque',
//              as the server's `Column`; opaque values cannot be sorted or compared
//   operators  filter operators offered (default: by column)
//   sortable   false to offer no sorting though the server could (default: unless opaque)
//   readonly   true when the server assigns the value (auto-numbers)
//   wide       true when the widget needs the page's full width
//   locatesErrors  true when the widget shows errors inside its value where they belong
//   listable   false to keep the type out of default list columns
//   parts      `[{id, label}]`: the text parts of an object value reports may name as
//              `<field>.<part>` (a region's province), as the server's `parts`
import text from './text'
import number from './number'
import boolean from './boolean'
import date from './date'
import select from './select'
import link from './link'
import table from './table'
import attachment from './attachment'
import autoNumber from './auto_number'
import region from './region'
import rollup from './rollup'
import filter from './filter'

export const FIELD_TYPES = { ...text, ...number, ...boolean, ...date, ...select, ...link, ...table, ...attachment, ...autoNumber, ...region, ...rollup, ...filter }

// A type this UI does not know yet (a newer server) is shown, never edited.
const UNKNOWN = { widget: null, readonly: true, column: 'opaque', format: (v) => JSON.stringify(v) }

const OPERATORS = {
  text: ['eq', 'ne', 'contains', 'starts_with', 'in', 'nin', 'is_null'],
  number: ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'between', 'is_null'],
  bool: ['eq', 'is_null'],
  opaque: ['is_null'],
}
// Dates are text on the server, compared in ISO order.
FIELD_TYPES.date.operators = FIELD_TYPES.datetime.operators = OPERATORS.number

export function fieldType(type) {
  return FIELD_TYPES[type] ?? UNKNOWN
}

/** Whether people may not edit the field: marked read-only, or assigned by the server. */
export function isReadonly(field) {
  const type = fieldType(field.type)
  return Boolean(field.read_only || type.readonly || !type.widget)
}

/** The value as text in the current locale. */
export function formatValue(field, value, app) {
  if (value == null) return ''
  const format = fieldType(field.type).format
  if (format) return format(value, field, app)
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

export function isSortable(field) {
  const type = fieldType(field.type)
  return type.column !== 'opaque' && type.sortable !== false
}

/** Whether the field makes a sensible default list column: scalar and short. */
export function isListable(field) {
  const type = fieldType(field.type)
  return type.column !== 'opaque' && type.listable !== false
}

export function operatorsFor(field) {
  const type = fieldType(field.type)
  return type.operators ?? OPERATORS[type.column]
}

/** Numbers align right in lists so digits line up. */
export function alignOf(field) {
  return fieldType(field.type).column === 'number' && field.type !== 'rating' ? 'right' : 'left'
}
