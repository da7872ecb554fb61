// Comparing field values: what the record page sends in a PATCH, and what the history tab
// shows as changed between two versions.

/** Structural equality of JSON values; object key order does not matter. */
export function sameValue(a, b) {
  if (a === b) return true
  if (a == null || b == null) return (a ?? null) === (b ?? null)
  if (typeof a !== 'object' || typeof b !== 'object') return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  return [...keys].every((k) => sameValue(a[k], b[k]))
}

/** The ids of the keys whose values differ between `before` and `after` (both `data` objects). */
export function changedKeys(before, after) {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])
  return [...keys].filter((k) => !sameValue(before?.[k], after?.[k]))
}
