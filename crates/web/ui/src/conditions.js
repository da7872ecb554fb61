// The condition builder's rule text (`visible_if`, `required_if`): rows of field, operator and
// value joined by `&&` or `||`, written as a consultant writes them, and read back when the text
// has exactly the shapes written here. Only text is made and read: the server evaluates it.
//
// In the rules a field without a value is `()`, and rhai answers `false` when it compares `()`
// with a number or a text by `==`, `>`, `<` … (and `true` by `!=`), so a plain comparison is
// safe on an empty field. Calling a method on `()` fails the rule, so `contains` is guarded;
// texts cleared in a form may be stored as `""`, so "is empty" of a text says both.

const ID = '[a-z][a-z0-9_]*'
const LITERAL = '"(?:[^"\\\\]|\\\\.)*"|-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?|true|false'

const NUMERIC = new Set(['number', 'integer', 'decimal', 'currency', 'rating', 'rollup'])
const DATES = new Set(['date', 'datetime'])
const TEXTS = new Set(['text', 'textarea', 'email', 'phone', 'url', 'user', 'auto_number', 'link'])
const LISTS = new Set(['multiselect', 'tags'])

/** What a row's value is for `field`: 'boolean', 'option', 'number', 'date', 'text' or 'none'. */
export function valueKind(field) {
  const type = field?.type
  if (type === 'boolean') return 'boolean'
  if (type === 'select' || type === 'multiselect') return 'option'
  if (NUMERIC.has(type)) return 'number'
  if (DATES.has(type)) return 'date'
  if (TEXTS.has(type) || type === 'tags') return 'text'
  return field ? 'none' : 'text'
}

/** The operators a row on `field` offers, the first the one a new row starts with. */
export function operatorsFor(field) {
  const type = field?.type
  if (!type) return ['==', '!=']
  if (type === 'boolean') return ['==', '!=']
  if (type === 'select') return ['==', '!=', 'empty', 'not_empty']
  if (LISTS.has(type)) return ['contains', 'empty', 'not_empty']
  if (NUMERIC.has(type) || DATES.has(type)) return ['==', '!=', '>', '<', '>=', '<=', 'empty', 'not_empty']
  if (TEXTS.has(type)) return ['==', '!=', 'contains', 'empty', 'not_empty']
  return ['empty', 'not_empty']
}

export function needsValue(op) {
  return op !== 'empty' && op !== 'not_empty'
}

/** Whether an empty value of `field` may also be stored as `""`. */
function mayBeBlank(field) {
  const type = field?.type
  return TEXTS.has(type) || DATES.has(type) || type === 'select'
}

/** `value` as a rhai literal: strings quoted with escapes (JSON's escapes are rhai's). */
function literal(value) {
  if (typeof value === 'boolean' || typeof value === 'number') return String(value)
  return JSON.stringify(String(value))
}

/** One row as rule text, or null while it is not complete. */
function rowText(row, field) {
  if (!row.field) return null
  const x = `record.${row.field}`
  switch (row.op) {
    case 'empty':
      return mayBeBlank(field) ? `(${x} == () || ${x} == "")` : `${x} == ()`
    case 'not_empty':
      return mayBeBlank(field) ? `(${x} != () && ${x} != "")` : `${x} != ()`
    case 'contains':
      if (row.value === null || row.value === undefined || row.value === '') return null
      return `(${x} != () && ${x}.contains(${literal(row.value)}))`
    default:
      if (row.value === null || row.value === undefined) return null
      if (typeof row.value === 'number' && !Number.isFinite(row.value)) return null
      return `${x} ${row.op} ${literal(row.value)}`
  }
}

/** The rows as rule text joined by `join` (`&&` or `||`); rows not complete are left out. */
export function conditionText(rows, join, fieldOf) {
  return rows
    .map((row) => rowText(row, fieldOf(row.field)))
    .filter(Boolean)
    .join(` ${join} `)
}

// The shapes written above, each at the start of what is left of the text.
const SHAPES = [
  [new RegExp(`^\\(\\s*record\\.(${ID})\\s*==\\s*\\(\\)\\s*\\|\\|\\s*record\\.\\1\\s*==\\s*""\\s*\\)`), (m) => ({ field: m[1], op: 'empty', value: null })],
  [new RegExp(`^\\(\\s*record\\.(${ID})\\s*!=\\s*\\(\\)\\s*&&\\s*record\\.\\1\\s*!=\\s*""\\s*\\)`), (m) => ({ field: m[1], op: 'not_empty', value: null })],
  [
    new RegExp(`^\\(\\s*record\\.(${ID})\\s*!=\\s*\\(\\)\\s*&&\\s*record\\.\\1\\.contains\\(\\s*(${LITERAL})\\s*\\)\\s*\\)`),
    (m) => ({ field: m[1], op: 'contains', value: readLiteral(m[2]) }),
  ],
  [new RegExp(`^record\\.(${ID})\\s*(==|!=)\\s*\\(\\)`), (m) => ({ field: m[1], op: m[2] === '==' ? 'empty' : 'not_empty', value: null })],
  [new RegExp(`^record\\.(${ID})\\s*(==|!=|>=|<=|>|<)\\s*(${LITERAL})`), (m) => ({ field: m[1], op: m[2], value: readLiteral(m[3]) })],
]

function readLiteral(text) {
  if (text === 'true') return true
  if (text === 'false') return false
  if (text.startsWith('"')) return JSON.parse(text)
  return Number(text)
}

/**
 * Rule text back into `{rows, join}`, or null when it is not made of the shapes the builder
 * writes joined by one kind of `&&`/`||` (a mix would need brackets rows cannot show). The
 * empty text is no rows.
 */
export function parseCondition(text) {
  try {
    return readRows(text)
  } catch {
    return null // a string literal with an escape JSON does not know (`\x41`)
  }
}

function readRows(text) {
  let rest = text.trim()
  const rows = []
  let join = null
  if (!rest) return { rows, join: '&&' }
  for (;;) {
    const shape = SHAPES.map(([re, make]) => [re.exec(rest), make]).find(([m]) => m)
    if (!shape) return null
    const [m, make] = shape
    const row = make(m)
    // A string with an escape rhai has and JSON lacks would not read back the same.
    if (row.value !== null && typeof row.value === 'string' && literal(row.value) !== (m[3] ?? m[2])) return null
    rows.push(row)
    rest = rest.slice(m[0].length).trim()
    if (!rest) return { rows, join: join ?? '&&' }
    const joiner = /^(&&|\|\|)/.exec(rest)
    if (!joiner || (join && joiner[1] !== join)) return null
    join = joiner[1]
    rest = rest.slice(2).trim()
  }
}
