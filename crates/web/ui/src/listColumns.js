// Which fields a list shows by default: the form's title field, then the next few scalar
// fields — from the first layout section when there is one (the fields the form's author
// put first), else in definition order.
import { isListable } from './fields'

const MAX_COLUMNS = 6

export function listColumns(formDef) {
  const fields = formDef.fields ?? []
  const byId = new Map(fields.map((f) => [f.id, f]))
  const firstSection = formDef.layout?.[0]?.fields.map((id) => byId.get(id)).filter(Boolean)
  const candidates = firstSection?.length ? firstSection : fields
  const title = byId.get(formDef.title_field)
  const columns = title ? [title] : []
  for (const f of candidates) {
    if (columns.length >= MAX_COLUMNS) break
    if (f !== title && isListable(f)) columns.push(f)
  }
  // A short first section leaves room for later fields.
  for (const f of fields) {
    if (columns.length >= Math.min(4, MAX_COLUMNS)) break
    if (!columns.includes(f) && isListable(f)) columns.push(f)
  }
  return columns
}
