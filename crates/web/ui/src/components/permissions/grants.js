// Editing a form's `permissions` one role at a time. A grant may name several roles; the server
// gives a role the union of the actions of every grant naming it, and hides (or locks) a field
// only when all of them do. Editing one role's rights therefore takes that role out of a shared
// grant into a grant of its own (a copy, so it keeps what it had) and leaves the other roles'
// grant as it was; grants not edited are never rewritten.

export const ACTIONS = ['create', 'read', 'update', 'delete', 'export', 'print', 'import', 'assign']
export const SCOPES = ['own', 'department', 'department_tree', 'all', 'filter']
/** Scopes only some forms offer: `pool` a form with a pool. */
export const poolScope = (def) => (def?.pool ? ['pool'] : [])
/** A field's rule for one role: shown and editable, shown only, or absent from every output. */
export const FIELD_STATES = ['normal', 'read_only', 'hidden']

// The key order of a grant as the schema lists them; keys it may gain later keep their place after.
const KEY_ORDER = ['roles', 'actions', 'scope', 'hidden', 'read_only']

/** The grants of `def` that name `role`. */
export function grantsOf(def, role) {
  return (def?.permissions ?? []).filter((g) => g.roles?.includes(role))
}

/** What the role may do on the form: the union of its grants' actions, in the schema's order. */
export function actionsOf(def, role) {
  const granted = new Set(grantsOf(def, role).flatMap((g) => g.actions ?? []))
  return ACTIONS.filter((a) => granted.has(a))
}

/**
 * `own`, `department`, `department_tree`, `all`, `pool`, `filter` (a scope `{filter}`),
 * `via:<link>` (a scope `{via}`: the records whose link names one the user may read) or
 * `user:<field>` (a scope `{user_field}`: the records whose user field names the user).
 */
export function scopeKind(scope) {
  if (typeof scope === 'string') return scope
  if (scope?.via) return `via:${scope.via}`
  if (scope?.user_field) return `user:${scope.user_field}`
  return scope && typeof scope === 'object' ? 'filter' : 'all'
}

/** The scope a kind of `scopeKind` stands for (a filter's is edited apart). */
export function scopeFor(kind) {
  if (kind.startsWith('via:')) return { via: kind.slice('via:'.length) }
  if (kind.startsWith('user:')) return { user_field: kind.slice('user:'.length) }
  return kind
}

/** The user fields a scope may name: `[{id, label}]`. */
export function userFields(def) {
  return (def?.fields ?? []).filter((f) => f.type === 'user')
}

/** The link fields a scope may go through: `[{id, label, form}]` of the form's links. */
export function viaLinks(def) {
  return (def?.fields ?? []).filter((f) => f.type === 'link' && f.form)
}

/** Actions in the schema's order; one this page does not know (a newer server's) kept at the end. */
function inOrder(actions) {
  return [...ACTIONS.filter((a) => actions.includes(a)), ...actions.filter((a) => !ACTIONS.includes(a))]
}

/** The grant in the schema's shape: keys in order, actions in order, empty field lists left out. */
function canonical(grant) {
  const out = {}
  const keys = [...KEY_ORDER, ...Object.keys(grant).filter((k) => !KEY_ORDER.includes(k))]
  for (const k of keys) {
    if (!(k in grant)) continue
    if ((k === 'hidden' || k === 'read_only') && !grant[k]?.length) continue
    out[k] = k === 'actions' ? inOrder(grant.actions) : grant[k]
  }
  return out
}

const copy = (value) => JSON.parse(JSON.stringify(value))

/**
 * The grant at `index` made the role's alone: itself when it names only the role; else the
 * role leaves it and a copy naming only the role is inserted right after it. Answers the index.
 */
function separate(def, index, role) {
  const grant = def.permissions[index]
  if (grant.roles.length === 1) return index
  const own = copy(grant)
  own.roles = [role]
  grant.roles = grant.roles.filter((r) => r !== role)
  def.permissions.splice(index + 1, 0, canonical(own))
  return index + 1
}

/** After an edit of the grant at `index`: its canonical shape, or gone when it grants nothing. */
function settle(def, index) {
  const grant = canonical(def.permissions[index])
  if (!grant.actions?.length && !grant.hidden?.length && !grant.read_only?.length) def.permissions.splice(index, 1)
  else def.permissions[index] = grant
  // A form that grants nothing is the same with or without the key; the file had none.
  if (!def.permissions.length) delete def.permissions
}

/**
 * Applies `change(grant)` to the grant(s) of `role` alone: with `all`, to every grant naming
 * the role (field rules, which count only when all of them agree); else to the first one (the
 * actions and scope the cell shows), a new grant with scope `all` when the role has none.
 */
function editRole(def, role, change, { all = false } = {}) {
  def.permissions ??= []
  let targets = def.permissions.map((g, i) => (g.roles?.includes(role) ? i : -1)).filter((i) => i >= 0)
  if (!targets.length) {
    def.permissions.push({ roles: [role], actions: [], scope: 'all' })
    targets = [def.permissions.length - 1]
  }
  if (!all) targets = targets.slice(0, 1)
  // From the last: an insertion after a grant leaves the indices before it as they were.
  for (const index of [...targets].reverse()) {
    const own = separate(def, index, role)
    change(def.permissions[own])
    settle(def, own)
    if (!def.permissions) return
  }
}

/**
 * Grants or withdraws `action`. A role in several grants loses an action from each of them;
 * it gains one in its first grant.
 */
export function setAction(def, role, action, on) {
  if (on) {
    editRole(def, role, (g) => (g.actions = [...(g.actions ?? []), action]))
    return
  }
  const holding = grantsOf(def, role).filter((g) => g.actions?.includes(action)).length
  for (let i = 0; i < holding; i += 1) {
    // The first grant of the role still holding it: separated and changed each round.
    const index = def.permissions.findIndex((g) => g.roles?.includes(role) && g.actions?.includes(action))
    const own = separate(def, index, role)
    def.permissions[own].actions = def.permissions[own].actions.filter((a) => a !== action)
    settle(def, own)
    if (!def.permissions) return
  }
}

/** The scope of the role's first grant (the one the cell edits). */
export function scopeOf(def, role) {
  return grantsOf(def, role)[0]?.scope ?? 'all'
}

export function setScope(def, role, scope) {
  editRole(def, role, (g) => (g.scope = scope))
}

/** `normal`, `read_only` or `hidden`, as the server counts it: hidden or locked by every grant. */
export function fieldState(def, role, field) {
  const grants = grantsOf(def, role)
  if (!grants.length) return null
  if (grants.every((g) => g.hidden?.includes(field))) return 'hidden'
  if (grants.every((g) => g.hidden?.includes(field) || g.read_only?.includes(field))) return 'read_only'
  return 'normal'
}

export function setFieldState(def, role, field, state) {
  editRole(
    def,
    role,
    (g) => {
      g.hidden = (g.hidden ?? []).filter((f) => f !== field)
      g.read_only = (g.read_only ?? []).filter((f) => f !== field)
      if (state === 'hidden') g.hidden.push(field)
      if (state === 'read_only') g.read_only.push(field)
    },
    { all: true },
  )
}

/** How many grants of the form name more than one role: edits split them, the hint says so. */
export function sharedGrants(def) {
  return (def?.permissions ?? []).filter((g) => (g.roles?.length ?? 0) > 1).length
}
