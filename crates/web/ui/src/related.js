// Related lists: records of another form whose link field (or a dot path through links,
// `contact.account`) points at a record. The record page shows them; the list page takes the
// same narrowing from its URL (`?via=<path>&of=<id>`), so "view all" lists exactly those.
import { fieldOf } from './defs'

/**
 * The form a link path of `form` ends at (`contact.account` of `campaign_member`: `account`),
 * or null when a step is not a link field of the form before it.
 */
export function linkTarget(def, form, path) {
  let current = form
  for (const step of String(path ?? '').split('.')) {
    const field = fieldOf(def?.forms?.[current], step)
    if (!field || field.type !== 'link' || !field.form) return null
    current = field.form
  }
  return current
}

/** The API filter for the records of a related list: the path's end is the record `id`. */
export function relatedFilter(path, id) {
  return { [path]: { eq: id } }
}

/** The list page's query narrowing a list to one related list. */
export function relatedQuery(path, id) {
  return { via: path, of: id }
}
