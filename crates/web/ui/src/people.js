// What the organisation pages (users, departments, tokens, hand-over, audit, profile) share:
// departments as a tree and as readable paths, people by name, and an API error in words with
// its details (these pages have few fields to show a problem at, so the details go in the
// message).
import { errorMessage, fieldMessage, t } from './i18n'

/**
 * The flat department list (`[{id, name, parent, manager, members}]`) as a tree for `el-tree`:
 * each item with `children`, sorted by name. A department whose parent is missing (or that
 * sits in a circle an older server let through) shows at the top, so none is lost.
 */
export function departmentTree(items) {
  const nodes = new Map(items.map((d) => [d.id, { ...d, children: [] }]))
  const roots = []
  for (const node of nodes.values()) {
    const parent = node.parent ? nodes.get(node.parent) : null
    if (parent && !reaches(nodes, parent, node.id)) parent.children.push(node)
    else roots.push(node)
  }
  const byName = (a, b) => String(a.name ?? a.id).localeCompare(String(b.name ?? b.id))
  const sort = (list) => {
    list.sort(byName)
    for (const n of list) sort(n.children)
    return list
  }
  return sort(roots)
}

// Whether walking up from `node` reaches `id` (a circle through `id`).
function reaches(nodes, node, id) {
  const seen = new Set()
  for (let n = node; n && !seen.has(n.id); n = n.parent ? nodes.get(n.parent) : null) {
    if (n.id === id) return true
    seen.add(n.id)
  }
  return false
}

/**
 * Departments for a select, each `{id, label}` with its path (`Sales / East`), in tree order:
 * names alone repeat across branches.
 */
export function departmentOptions(items) {
  const out = []
  const walk = (list, path) => {
    for (const d of list) {
      const label = [...path, d.name || d.id].join(' / ')
      out.push({ id: d.id, label })
      walk(d.children, [...path, d.name || d.id])
    }
  }
  walk(departmentTree(items), [])
  return out
}

/** `Display Name (username)`, or the username alone when that is all there is. */
export function personLabel(user) {
  if (!user) return ''
  return user.display_name && user.display_name !== user.username ? `${user.display_name} (${user.username})` : user.username
}

/** An API error in the current locale, with the problems its details name. */
export function problemText(e) {
  if (e?.network) return t('error.network')
  const head = errorMessage(e)
  const details = (e?.details ?? []).map((d) => fieldMessage(d)).filter((m) => m && m !== head)
  if (!details.length) return head
  // A malformed request's details say so themselves (`请求有误：…`).
  return e.code === 'malformed' ? details.join('; ') : `${head}: ${details.join('; ')}`
}

/**
 * Copies `text` to the clipboard: the Clipboard API where the page may use it (HTTPS or
 * localhost), else the old way through a hidden text area. Resolves to whether it worked.
 */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    const area = document.createElement('textarea')
    area.value = text
    area.setAttribute('readonly', '')
    area.style.position = 'fixed'
    area.style.opacity = '0'
    document.body.appendChild(area)
    area.select()
    let ok = false
    try {
      ok = document.execCommand('copy')
    } catch {
      ok = false
    }
    area.remove()
    return ok
  }
}
