// The API client: one function per route of the Tessera API, one place that adds the bearer
// token (or, in cookie mode, the CSRF token on writes), turns error bodies into `ApiError`s,
// sends the user back to the login page on 401 and to their profile when the server wants a
// new password first.
import { session, signOut } from './session'

/**
 * An error answer of the API plus its status: `{error, kind, message, details: [{path, message,
 * code?, params?}]}` and the facts of some codes — `current_version` (stale_version), `existing`
 * (duplicate, when the user may read it), `limit`, `retry_after_secs` — read here so views
 * never read the English message to act.
 */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`)
    this.status = status
    this.code = body?.error ?? 'http_' + status
    this.details = Array.isArray(body?.details) ? body.details : []
    this.currentVersion = body?.current_version ?? null
    this.existing = body?.existing ?? null
    this.limit = body?.limit ?? null
    this.retryAfterSecs = body?.retry_after_secs ?? null
    this.work = body?.work ?? null
  }
}

// Set by main.js: what to do when the server says the session is gone. Kept as a hook so
// this module does not import the router (which imports the views, which import this).
let unauthorized = () => {}
export function onUnauthorized(handler) {
  unauthorized = handler
}

// Set by main.js: what to do when the server refuses everything until the user has chosen a
// new password (403 `password_change_required`).
let passwordChangeRequired = () => {}
export function onPasswordChangeRequired(handler) {
  passwordChangeRequired = handler
}

// Answers of these say nothing about the session the tab holds: a wrong password at login, or
// no cookie session when a new tab asks for one.
const SIGN_IN_PATHS = new Set(['/api/auth/login', '/api/auth/session'])

/** `anonymous`: a public route (a web form) — no session sent, and a 401 ends none. */
async function request(method, path, { query, body, version, raw, contentType, anonymous } = {}) {
  const url = new URL(path, window.location.origin)
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v)
  }
  const headers = { Accept: 'application/json' }
  if (anonymous) {
    // nothing of the session goes to a public route
  } else if (session.token) headers.Authorization = `Bearer ${session.token}`
  // Cookie mode: the browser sends the cookie by itself, so a write must prove it comes from
  // this page by echoing the session's CSRF token, which another site cannot read.
  else if (session.csrf && method !== 'GET') headers['X-CSRF-Token'] = session.csrf
  if (raw !== undefined) headers['Content-Type'] = contentType ?? 'application/octet-stream'
  else if (body !== undefined) headers['Content-Type'] = 'application/json'
  // The version the change is based on: the server refuses it with 409 if it is stale.
  if (version !== undefined) headers['If-Match'] = `"${version}"`
  let response
  try {
    const payload = raw !== undefined ? raw : body === undefined ? undefined : JSON.stringify(body)
    response = await fetch(url, { method, headers, body: payload, credentials: anonymous ? 'omit' : 'same-origin' })
  } catch (e) {
    throw Object.assign(new ApiError(0, { error: 'network', message: e.message }), { network: true })
  }
  const text = await response.text()
  let json = null
  try {
    json = text ? JSON.parse(text) : null
  } catch {
    json = { error: 'http_' + response.status, message: text.slice(0, 200) }
  }
  if (response.status === 401 && !anonymous && !SIGN_IN_PATHS.has(path)) {
    signOut()
    unauthorized()
  }
  if (response.status === 403 && json?.error === 'password_change_required') passwordChangeRequired()
  if (!response.ok) throw new ApiError(response.status, json)
  return json
}

const enc = encodeURIComponent
/** Whether an uploaded `file` is an Excel workbook (by its name or type), else CSV. */
const isXlsx = (file) => /\.xlsx?$/i.test(file.name ?? '') || /spreadsheet|excel/.test(file.type ?? '')
const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
const formPath = (app, form) => `/api/apps/${enc(app)}/forms/${enc(form)}`
const recordPath = (app, form, id) => `${formPath(app, form)}/records/${enc(id)}`

export const api = {
  login: (username, password) => request('POST', '/api/auth/login', { body: { username, password } }),
  logout: () => request('POST', '/api/auth/logout'),
  me: () => request('GET', '/api/auth/me'),
  /** The caller's own `{display_name?, language?}`; answers the user. */
  updateMe: (changes) => request('PATCH', '/api/auth/me', { body: changes }),
  /** Changes the caller's password: 204; 422 for a wrong `/current` or a weak `/new`. */
  changePassword: (current, next) => request('POST', '/api/auth/password', { body: { current, new: next } }),
  /** The session of the cookie, for a tab without a token: `{user, csrf_token}`; 401 without one. */
  cookieSession: () => request('GET', '/api/auth/session'),

  /**
   * The directory for user pickers: `{items: [{username, display_name, department}]}` of the
   * active users; admins get every user with kind, language, roles, grants, `active` and
   * `created_at`.
   */
  users: () => request('GET', '/api/users'),
  /** Admins: `{username, display_name, kind?, department?, password?, language?, roles?, grants?}` → 201 `{user, password?}` (a generated one). */
  createUser: (user) => request('POST', '/api/users', { body: user }),
  /**
   * Admins: creates a user a row of `file` (a File/Blob, CSV or xlsx), none with `dry_run`;
   * answers at once with the import report (`total`, `created`, `failed`, `columns`, `errors`
   * …) and `passwords: [{username, password}]`, the ones the server chose, shown this once.
   * 400 for an unreadable file or unknown columns (the message names them), 413 past a bound.
   */
  importUsers: (file, { dry_run } = {}) => {
    const xlsx = isXlsx(file)
    return request('POST', '/api/users/import', {
      query: { dry_run: dry_run ? 'true' : 'false', format: xlsx ? 'xlsx' : 'csv' },
      raw: file,
      contentType: xlsx ? XLSX_TYPE : 'text/csv',
    })
  },
  user: (username) => request('GET', `/api/users/${enc(username)}`),
  /** Admins: `{display_name?, department?, language?, roles?}` (platform roles) → the user. */
  updateUser: (username, changes) => request('PATCH', `/api/users/${enc(username)}`, { body: changes }),
  /** Admins: the user's roles in one app, replacing what they had there → the user. */
  grant: (username, app, roles) => request('PUT', `/api/users/${enc(username)}/grants/${enc(app)}`, { body: { roles } }),
  /** Admins: sets `password`, or a generated one when absent (answered once as `{password}`). */
  resetPassword: (username, password) =>
    request('POST', `/api/users/${enc(username)}/password`, { body: password ? { password } : {} }),
  /** Admins: 409 `open_work` (with `work`) when the user still owns things and no `successor` takes them. */
  deactivate: (username, successor) =>
    request('POST', `/api/users/${enc(username)}/deactivate`, { body: successor ? { successor } : {} }),
  activate: (username) => request('POST', `/api/users/${enc(username)}/activate`),
  /** Admins: what the user owns or has open, `{forms: [{app, form, records}], tasks, timers}`. */
  handover: (username) => request('GET', `/api/users/${enc(username)}/handover`),
  /** Admins: moves it to `to`; `forms` (`app/form`) all when absent; answers what moved. */
  handOver: (username, { to, forms, tasks }) =>
    request('POST', `/api/users/${enc(username)}/handover`, { body: { to, forms, tasks } }),

  /** `{items: [{id, name, parent, manager, members}]}`. */
  departments: () => request('GET', '/api/departments'),
  /** Admins: `{id, name, parent?, manager?}` → 201 the department. */
  createDepartment: (department) => request('POST', '/api/departments', { body: department }),
  /** Admins: `{name?, parent?, manager?}` (null clears); 400 at `/parent` when a move would make a circle. */
  updateDepartment: (id, changes) => request('PATCH', `/api/departments/${enc(id)}`, { body: changes }),
  /** Admins: 409 while it has members or sub-departments. */
  deleteDepartment: (id) => request('DELETE', `/api/departments/${enc(id)}`),

  /** API tokens, the caller's own (admins: everyone's), never with their secret. */
  tokens: () => request('GET', '/api/tokens'),
  /** `{name, username?, expires_at?, apps?}` → 201 `{token, item}`: the secret, shown once. */
  createToken: (token) => request('POST', '/api/tokens', { body: token }),
  revokeToken: (id) => request('DELETE', `/api/tokens/${enc(id)}`),

  /**
   * Admins: one page of the audit log, newest first, `{items, next}`; `params`: `actor`, `app`,
   * `form`, `record`, `outcome`, `from`, `to` (RFC 3339), `before` (the `next` of the page
   * before), `limit`.
   */
  audit: (params = {}) => request('GET', '/api/audit', { query: params }),
  /** Admins: the hash chain checked, `{ok, rows, message?}`. */
  verifyAudit: () => request('GET', '/api/audit/verify'),

  apps: () => request('GET', '/api/apps'),
  /** The chart kinds: `{kinds: [{kind, label, renderer, dimensions, measures, series, places}]}`. */
  chartKinds: () => request('GET', '/api/chart-kinds'),
  app: (app) => request('GET', `/api/apps/${enc(app)}`),
  /** The index advisor's page of an app (admins): `{proposals, applied, automatic}`. */
  indexAdvice: (app) => request('GET', `/api/apps/${enc(app)}/index-advice`),
  applyIndex: (app, id) => request('POST', `/api/apps/${enc(app)}/index-advice/${enc(id)}`),
  dropIndex: (app, id) => request('DELETE', `/api/apps/${enc(app)}/index-advice/${enc(id)}`),

  /**
   * One page of records. `params`: `filter` (an object, sent as JSON), `sort` (`-amount,name`),
   * `limit`, `cursor`, `fields` (an array), `deleted` (true for the trash), `count` (true to
   * have `total` answered).
   */
  list: (app, form, { filter, sort, limit, cursor, fields, deleted, count } = {}) =>
    request('GET', `${formPath(app, form)}/records`, {
      query: {
        filter: filter && Object.keys(filter).length ? JSON.stringify(filter) : undefined,
        sort,
        limit,
        cursor,
        fields: fields?.length ? fields.join(',') : undefined,
        deleted: deleted ? 'true' : undefined,
        count: count ? 'true' : undefined,
      },
    }),
  get: (app, form, id) => request('GET', recordPath(app, form, id)),
  create: (app, form, data) => request('POST', `${formPath(app, form)}/records`, { body: { data } }),
  /** Changes only the fields in `data` (`null` clears one), based on `version`. */
  update: (app, form, id, version, data) => request('PATCH', recordPath(app, form, id), { body: { data }, version }),
  remove: (app, form, id, version) => request('DELETE', recordPath(app, form, id), { version }),
  restore: (app, form, id, version) => request('POST', `${recordPath(app, form, id)}/restore`, { version }),
  /** Takes a record of its form's pool → the new envelope; 409 when gone or at the pool's limit. */
  claim: (app, form, id, version) => request('POST', `${recordPath(app, form, id)}/claim`, { version }),
  /** Puts a record back into its form's pool → the new envelope. */
  returnToPool: (app, form, id, version) => request('POST', `${recordPath(app, form, id)}/return`, { version }),
  /** Gives a record to `owner`, an active user (needs `assign`) → the new envelope. */
  assign: (app, form, id, version, owner) => request('POST', `${recordPath(app, form, id)}/assign`, { version, body: { owner } }),
  history: (app, form, id) => request('GET', `${recordPath(app, form, id)}/history`),
  /**
   * Runs a save's rules without saving: `data` is what a create would send, or with `id` what
   * a PATCH of that record would. Answers `{data, hidden, required, errors}`: the record as the
   * save would store it (defaults, formulas, scores filled in), the fields `visible_if` hides
   * and `required_if` requires, and the problems the save would answer. 422 when a rule fails.
   */
  preview: (app, form, data, id) =>
    request('POST', `${formPath(app, form)}/preview`, { body: id ? { data, id } : { data } }),

  /** Where the record stands in its form's flow and what the caller may do; 404 when the form has no flow. */
  flow: (app, form, id) => request('GET', `${recordPath(app, form, id)}/actions`),
  /**
   * Takes a flow action (a transition, or `approve`, `reject`, `recall`, `transfer`,
   * `add_approver`) on `version`; `body` is `{comment, to}`. Answers `{record, flow}`.
   */
  act: (app, form, id, action, version, body = {}) =>
    request('POST', `${recordPath(app, form, id)}/actions/${enc(action)}`, { body, version }),
  /** The caller's approval tasks with `status` (`pending`, `approved`, `rejected`, `closed`). */
  tasks: (status = 'pending') => request('GET', '/api/tasks', { query: { status } }),
  /** Decides a task: `approve`, `reject`, `transfer` or `add_approver`; answers `{record, flow}`. */
  decide: (id, decision, body = {}) => request('POST', `/api/tasks/${enc(id)}/${enc(decision)}`, { body }),
  /**
   * The caller's newest `limit` notifications (1–100), `{items: [{id, app, created_at, read_at,
   * message: {text, form?, record?, …}}], unread, capped}`: `unread` counts up to 99, `capped`
   * says there are more.
   */
  /** A public web form as a visitor sees it: `{app: {id, name}, title, fields, hidden, thanks}`. */
  webForm: (app, form) => request('GET', `/api/public/apps/${enc(app)}/forms/${enc(form)}`, { anonymous: true }),
  /** Sends a web form without a session: `{thanks}`; 422 with field details, 429 with `retryAfterSecs`. */
  submitWebForm: (app, form, data, trap = '') =>
    request('POST', `/api/public/apps/${enc(app)}/forms/${enc(form)}`, { anonymous: true, body: { data, trap } }),
  notifications: ({ limit, unread } = {}) => request('GET', '/api/notifications', { query: { limit, unread } }),
  /** Marks the caller's notifications `ids` read, every unread one without `ids`; answers `{marked}`. */
  markNotificationsRead: (ids) => request('POST', '/api/notifications/read', { body: ids ? { ids } : {} }),

  /**
   * Starts an import of `file` (a File/Blob, CSV or xlsx) into the form; answers
   * `{id, status_url}`. `options`: `dry_run`, `on_duplicate`, `mode`.
   */
  importFile: (app, form, file, { dry_run, on_duplicate, mode } = {}) => {
    const xlsx = isXlsx(file)
    return request('POST', `${formPath(app, form)}/import`, {
      query: { dry_run: dry_run ? 'true' : 'false', on_duplicate, mode, format: xlsx ? 'xlsx' : undefined },
      raw: file,
      contentType: xlsx ? XLSX_TYPE : 'text/csv',
    })
  },
  importStatus: (id) => request('GET', `/api/imports/${enc(id)}`),

  /**
   * A dashboard with every tile's report result (or error). `filter` maps the dashboard's
   * filter ids to a period name, a list of values or a value; empty ones are left out.
   */
  /** Admins: `{id, name}` → 201 `{app, release}`: an app with nothing but its `app.json`. */
  createApp: (id, name, settings = {}) => request('POST', '/api/apps', { body: { id, name, ...settings } }),
  /** Builders: the draft's files, `{app, release, items: [{kind, id, path, version, published, draft, deleted}]}`. */
  definitions: (app) => request('GET', `/api/apps/${enc(app)}/definitions`),
  /** Builders: one file of the draft, `{kind, id, version, draft, definition}`. */
  definition: (app, kind, id) => request('GET', `/api/apps/${enc(app)}/definitions/${enc(kind)}/${enc(id)}`),
  /**
   * Builders: saves a file into the draft (`version` edited; none for a new file) →
   * `{version, merged, problems: [{file, pointer, message}]}`; 409 when stale and unmergeable.
   */
  /** Builders: saves a script or template (`source` text) into the draft, as `saveDefinition`. */
  saveSource: (app, kind, id, source, version) =>
    request('PUT', `/api/apps/${enc(app)}/definitions/${enc(kind)}/${enc(id)}`, { body: { source }, version: version ?? undefined }),
  saveDefinition: (app, kind, id, definition, version) =>
    request('PUT', `/api/apps/${enc(app)}/definitions/${enc(kind)}/${enc(id)}`, {
      body: { definition },
      version: version ?? undefined,
    }),
  deleteDefinition: (app, kind, id, version) =>
    request('DELETE', `/api/apps/${enc(app)}/definitions/${enc(kind)}/${enc(id)}`, { version }),
  /** Builders: `{message, migrations?}` → 201 the release; 422 with every problem. */
  publish: (app, message, migrations) =>
    request('POST', `/api/apps/${enc(app)}/publish`, { body: migrations ? { message, migrations } : { message } }),
  /**
   * Builders: what publishing the draft with `migrations` would do to the records stored,
   * `{forms: [{form, records, changed, invalid, problems: [{pointer, field?, code?, message,
   * records, samples, fixes?}]}], flows: [{form, states, staying}]}`; 422 with the draft's problems.
   */
  impact: (app, migrations = [], onProgress = () => {}) => measureImpact(app, migrations, onProgress),
  /** Builders: the published releases, newest first, `{items: [{release, source, author, published_at, message, files}]}`. */
  releases: (app) => request('GET', `/api/apps/${enc(app)}/releases`),
  /** Builders: what changed from release `from` to `to`, `{items: [{path, change, lists?, parts?}]}`. */
  releaseDiff: (app, from, to) => request('GET', `/api/apps/${enc(app)}/releases/${enc(from)}/diff/${enc(to)}`),
  /** A file as release `release` had it: `{kind, id, version, definition | source}`. */
  releasedDefinition: (app, release, kind, id) =>
    request('GET', `/api/apps/${enc(app)}/releases/${enc(release)}/definitions/${enc(kind)}/${enc(id)}`),
  /** Builders: publishes release `release` again → 201 the new release; 422 like a publish. */
  rollback: (app, release, message, migrations = []) =>
    request('POST', `/api/apps/${enc(app)}/releases/${enc(release)}/rollback`, { body: { message, migrations } }),
  /** Builders: a new record of the draft's form as the server's rules make it, `{data, hidden, required, errors}`. */
  previewDraft: (app, form, data) =>
    request('POST', `/api/apps/${enc(app)}/definitions/form/${enc(form)}/preview`, { body: { data } }),
  /** Admins: the field type palette, `{types: [{type, widget, properties, ...}], $defs}`. */
  fieldTypes: () => request('GET', '/api/field-types'),
  /**
   * Builders: the problems `tessera check` finds in an expression over a form with the field
   * ids `fields`, `{problems: [{line?, column?, message}]}` (1-based; no place: the whole text).
   */
  checkExpression: (app, expression, fields, kind = 'expression') =>
    request('POST', `/api/apps/${enc(app)}/expressions/check`, { body: { expression, fields, kind } }),
  /** The functions a rule or an expression may call, `{items: [{name, call, returns, group, doc}]}`. */
  ruleFunctions: () => request('GET', '/api/rule-functions'),

  dashboard: (app, id, filter) =>
    request('GET', `/api/apps/${enc(app)}/dashboards/${enc(id)}`, {
      query: { filter: filter && Object.keys(filter).length ? JSON.stringify(filter) : undefined },
    }),
  /**
   * Runs a report definition not saved (what the report builder is building) →
   * `{columns, rows, truncated, totals?, pivot?, chart?}`; 422 with a JSON pointer per problem.
   */
  query: (app, definition) => request('POST', `/api/apps/${enc(app)}/query`, { body: definition }),
  /**
   * The records behind one cell of the saved report: `{cell, measure?, filter?, limit?, cursor?}`
   * → `{items: [envelope], next_cursor}`.
   */
  drill: (app, report, body) => request('POST', `/api/apps/${enc(app)}/reports/${enc(report)}/drill`, { body }),
  /**
   * Builders: the app as `{role}` or `{user}` (a username) would be served it, the shape of
   * `app()`; `draft` for the draft, else as published. 404 for an unknown role or user.
   */
  viewAs: (app, { role, user }, draft) =>
    request('GET', `/api/apps/${enc(app)}/view-as`, { query: { role, user, draft: draft ? 'true' : undefined } }),
  /** Builders: the app's scenario tests (`tests/*.json`) run against its draft, `{passed, failed, items: [{id, name, failure}]}`. */
  testDraft: (app) => request('POST', `/api/apps/${enc(app)}/test`),
}

function urlWith(path, query) {
  const url = new URL(path, window.location.origin)
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v)
  }
  return url.pathname + url.search
}

/**
 * Plain links for downloads and printouts: they open in a tab or download without the bearer
 * token, carried by the session cookie the login set.
 */
export const links = {
  export: (app, form, { format, filter, sort, locale }) =>
    urlWith(`${formPath(app, form)}/export`, {
      format,
      filter: filter && Object.keys(filter).length ? JSON.stringify(filter) : undefined,
      sort,
      locale,
    }),
  print: (app, template, id, { locale, format } = {}) =>
    urlWith(`/api/apps/${enc(app)}/print/${enc(template)}/${enc(id)}`, { locale, format }),
}

/**
 * Measures an impact as the server's job (`POST …/impact/runs`), polled until it is done, so a
 * table of millions never holds one request: `onProgress(checked, total)` as records are read.
 * Answers the impact; throws as a request does (422 with the draft's problems at the start).
 */
async function measureImpact(app, migrations, onProgress) {
  const { run } = await request('POST', `/api/apps/${enc(app)}/impact/runs`, { body: { migrations } })
  for (;;) {
    const state = await request('GET', `/api/apps/${enc(app)}/impact/runs/${enc(run)}`)
    if (state.total != null) onProgress(state.checked ?? 0, state.total)
    if (state.state === 'done') return state.impact
    if (state.state === 'failed') throw new ApiError(500, { error: 'internal', message: state.error ?? '' })
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
}
