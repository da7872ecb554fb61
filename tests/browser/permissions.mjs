// Browser test of an app's permission matrix (`#/-/builder/{app}/permissions`): an admin opens
// it from the builder page, gives one role of a shared grant a new action (the grant is split,
// the other role keeps its own), hides the CRM account's `phone` from `sales_rep`, and saves
// into the draft; "view as" that role (and a user holding it) no longer shows the field in the
// draft, "as published" still does; after publishing on the builder page the API no longer
// answers `phone` to rep1, a sales rep. On the way: leaving unsaved asks first, a stale save
// (409) offers to reload the form, and a scope by filter is written as `{filter}` with the
// problems the server finds in it shown.
//
//   npm ci --prefix tests/browser          # once: installs playwright-core
//   TESSERA_URL=http://127.0.0.1:8080 node tests/browser/permissions.mjs
//
// TESSERA_URL is a server started with `tessera serve --demo` on a fresh database (the test
// changes and publishes the CRM's account form). Optional: TESSERA_SCREENSHOTS=<dir> saves a
// screenshot after every step; CHROMIUM=<path> overrides /usr/bin/chromium. Prints one line per
// step and finally `browser: N passed, M failed`; exits non-zero on any failure.
import { BASE, answerTo, apiCall, check, eventually, finish, page, signIn, step } from './harness.mjs'

const APP = 'crm'
const FORM = 'account'
const FIELD = 'phone'
const ROLE = 'sales_rep'
const REP = 'rep1'
const PERMISSIONS = `${BASE}/#/-/builder/${APP}/permissions`

/**
 * The account records rep1 is served, asked from outside the browser so the admin's session in
 * the page stays as it is: a sign-in of rep1 with the demo password, then the list.
 */
async function repAccounts() {
  const login = await fetch(`${BASE}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: REP, password: 'demo' }),
  })
  check(login.ok, `${REP} could not sign in: ${login.status}`)
  const { token } = await login.json()
  const list = await fetch(`${BASE}/api/apps/${APP}/forms/${FORM}/records?limit=5`, { headers: { Authorization: `Bearer ${token}` } })
  check(list.ok, `${REP}'s list of ${FORM} answered ${list.status}`)
  return (await list.json()).items ?? []
}

const cell = (form, role) => page.locator(`[data-perm-form="${form}"] [data-perm-role="${role}"]`)
const granted = async (form, role, action) =>
  (await cell(form, role).locator(`[data-perm-action="${action}"]`).getAttribute('data-perm-granted')) === 'true'

/** Chooses `option` of the Element Plus select `select` (its options live in a pop-up). */
async function choose(select, option) {
  await page.locator(select).click()
  await page.locator(`.el-select-dropdown ${option}`).click()
}

let grantsBefore = []

await step('admin signs in', () => signIn('admin'))

await step(`before: ${REP} is served the ${FORM}s' ${FIELD}`, async () => {
  const items = await repAccounts()
  check(items.length > 0, `${REP} sees no ${FORM}`)
  check(items.some((r) => Object.hasOwn(r.data ?? {}, FIELD)), `${REP}'s ${FORM}s have no ${FIELD} before any change`)
  const { status, body } = await apiCall('GET', `/api/apps/${APP}/definitions/form/${FORM}`)
  check(status === 200, `GET the draft of ${FORM} answered ${status}`)
  grantsBefore = body.definition.permissions
})

await step('the permission matrix opens from the builder page with the forms by the roles', async () => {
  await page.goto(`${BASE}/#/-/builder/${APP}`)
  await page.click('[data-builder-permissions]')
  await eventually(() => page.url() === PERMISSIONS, () => `the button opened ${page.url()}`)
  await cell(FORM, ROLE).waitFor()
  check((await page.locator('[data-perm-matrix] [data-perm-form]').count()) > 5, 'the matrix has few forms')
  check((await page.locator('[data-perm-matrix] [data-perm-role-head]').count()) > 5, 'the matrix has few roles')
  check(await granted(FORM, ROLE, 'read'), `${ROLE} may not read ${FORM} in the matrix`)
  check(!(await granted(FORM, ROLE, 'delete')), `${ROLE} may delete ${FORM} in the matrix`)
  check((await cell(FORM, 'service_agent').locator('[data-perm-shared]').count()) === 1, 'the shared grant of service_agent is not marked')
  check((await page.locator('[data-perm-save]').isDisabled()), 'Save is enabled before any change')
})

await step('an action given to one role of a shared grant splits it; the other role keeps its own', async () => {
  await cell(FORM, 'service_agent').locator('[data-perm-action="update"]').click()
  await eventually(() => granted(FORM, 'service_agent', 'update'), 'update is not shown as granted to service_agent')
  check(!(await granted(FORM, 'service_manager', 'update')), 'service_manager got update too')
  check((await cell(FORM, 'service_agent').locator('[data-perm-shared]').count()) === 0, 'service_agent is still marked as shared')
  await page.locator('[data-perm-dirty]').waitFor()
})

await step(`the field rules of ${FORM} hide ${FIELD} from ${ROLE}`, async () => {
  await page.click(`[data-perm-expand="${FORM}"]`)
  const rule = page.locator(`[data-perm-fields="${FORM}"] [data-perm-field="${FIELD}"] [data-perm-field-role="${ROLE}"]`)
  await rule.waitFor()
  check(
    (await rule.locator('[data-perm-field-state="normal"]').getAttribute('class')).includes('is-active'),
    `${FIELD} is not shown as normal for ${ROLE} before`,
  )
  // What the file already hides from the role is shown as hidden.
  const known = page.locator(`[data-perm-fields="${FORM}"] [data-perm-field="credit_code"] [data-perm-field-role="${ROLE}"] [data-perm-field-state="hidden"]`)
  check((await known.getAttribute('class')).includes('is-active'), `credit_code is not shown as hidden from ${ROLE}`)
  await rule.locator('[data-perm-field-state="hidden"]').click()
  await eventually(
    async () => (await rule.locator('[data-perm-field-state="hidden"]').getAttribute('class')).includes('is-active'),
    `${FIELD} is not shown as hidden after the click`,
  )
})

await step('leaving with unsaved changes asks first, and staying keeps them', async () => {
  await page.click('[data-perm-back]')
  const box = page.locator('.el-message-box')
  await box.waitFor()
  await box.locator('.el-button:not(.el-button--primary)').click()
  await box.waitFor({ state: 'hidden' })
  check(page.url() === PERMISSIONS, `the page left to ${page.url()}`)
  await page.locator('[data-perm-dirty]').waitFor()
})

await step('Save writes the form into the draft with If-Match, other grants untouched', async () => {
  const response = await answerTo('PUT', `/api/apps/${APP}/definitions/form/${FORM}`, () => page.click('[data-perm-save]'))
  check(response.status() === 200, `the save answered ${response.status()}: ${await response.text()}`)
  check(response.request().headers()['if-match'], 'the save was sent without If-Match')
  const sent = JSON.parse(response.request().postData()).definition.permissions
  const rep = sent.filter((g) => g.roles.includes(ROLE))
  check(rep.length === 1 && rep[0].hidden.includes(FIELD) && rep[0].hidden.includes('credit_code'), `${ROLE}'s grant was sent as ${JSON.stringify(rep)}`)
  const agent = sent.find((g) => g.roles.includes('service_agent'))
  const manager = sent.find((g) => g.roles.includes('service_manager'))
  check(JSON.stringify(agent.roles) === '["service_agent"]' && agent.actions.includes('update'), `service_agent's grant was sent as ${JSON.stringify(agent)}`)
  check(
    JSON.stringify(manager) === JSON.stringify({ roles: ['service_manager'], actions: ['read'], scope: 'all', hidden: ['credit_code', 'annual_revenue'] }),
    `service_manager's grant was sent as ${JSON.stringify(manager)}`,
  )
  // Every grant of the other roles is sent as it was loaded.
  const untouched = (list) => JSON.stringify(list.filter((g) => !g.roles.some((r) => [ROLE, 'service_agent', 'service_manager'].includes(r))))
  check(untouched(sent) === untouched(grantsBefore), 'grants of other roles were rewritten')
  await page.locator('[data-perm-dirty]').waitFor({ state: 'detached' })
  await page.locator('[data-perm-draft-changes]').waitFor()
})

await step(`"view as" ${ROLE} shows the draft without ${FIELD}; "as published" still with it`, async () => {
  await page.click('#tab-view-as')
  await choose('[data-view-as-role]', `[data-view-as-role-option="${ROLE}"]`)
  const form = page.locator(`[data-view-as-form="${FORM}"]`)
  await form.locator('[data-view-as-field="name"]').waitFor()
  check((await page.locator('[data-view-as-source="draft"]').count()) === 1, 'the view is not of the draft')
  check((await form.locator(`[data-view-as-field="${FIELD}"]`).count()) === 0, `${ROLE} still sees ${FIELD} in the draft`)
  check((await form.locator('[data-view-as-field="credit_code"]').count()) === 0, `${ROLE} sees credit_code`)
  check((await form.locator('[data-view-as-action="read"]').count()) === 1, `the view shows no read action on ${FORM}`)
  check((await form.locator('[data-view-as-action="delete"]').count()) === 0, `the view shows delete on ${FORM}`)
  const published = await answerTo('GET', '/view-as', () => page.click('[data-view-as-published]'))
  check(!published.url().includes('draft=true'), `"as published" asked ${published.url()}`)
  await page.locator('[data-view-as-source="published"]').waitFor()
  await form.locator(`[data-view-as-field="${FIELD}"]`).waitFor()
  await answerTo('GET', '/view-as', () => page.click('[data-view-as-published]'))
  await page.locator('[data-view-as-source="draft"]').waitFor()
  await form.locator(`[data-view-as-field="${FIELD}"]`).waitFor({ state: 'detached' })
})

await step(`"view as" the user ${REP} shows the same`, async () => {
  await page.click('[data-view-as-mode-user]')
  const response = await answerTo('GET', `/view-as?user=${REP}`, () => choose('[data-view-as-user]', `[data-view-as-user-option="${REP}"]`))
  check(response.status() === 200, `view-as ${REP} answered ${response.status()}`)
  const form = page.locator(`[data-view-as-form="${FORM}"]`)
  await form.locator('[data-view-as-field="name"]').waitFor()
  check((await form.locator(`[data-view-as-field="${FIELD}"]`).count()) === 0, `${REP} still sees ${FIELD} in the draft`)
})

await step('a stale save is refused, and the page offers to reload the form', async () => {
  await page.click('#tab-matrix')
  // Someone else changes the account's grants meanwhile: grants edited on both sides cannot be merged.
  const { body: current } = await apiCall('GET', `/api/apps/${APP}/definitions/form/${FORM}`)
  const theirs = JSON.parse(JSON.stringify(current.definition))
  theirs.permissions.find((g) => g.roles.includes('legal')).actions.push('print')
  const saved = await page.evaluate(
    async ({ app, form, definition, version }) => {
      const stored = JSON.parse(sessionStorage.getItem('tessera.session') ?? '{}')
      const response = await fetch(`/api/apps/${app}/definitions/form/${form}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${stored.token}`, 'If-Match': `"${version}"` },
        body: JSON.stringify({ definition }),
      })
      return response.status
    },
    { app: APP, form: FORM, definition: theirs, version: current.version },
  )
  check(saved === 200, `the other save answered ${saved}`)
  // This page, still on the version before, changes the same grant.
  await cell(FORM, 'legal').locator('[data-perm-action="export"]').click()
  const response = await answerTo('PUT', `/api/apps/${APP}/definitions/form/${FORM}`, () => page.click('[data-perm-save]'))
  check(response.status() === 409, `the stale save answered ${response.status()}`)
  const box = page.locator('.el-message-box')
  await box.waitFor()
  await answerTo('GET', `/api/apps/${APP}/definitions/form/${FORM}`, () => box.locator('.el-button--primary').click())
  await page.locator('[data-perm-dirty]').waitFor({ state: 'detached' })
  await eventually(() => granted(FORM, 'legal', 'print'), 'the reloaded matrix does not show the other save')
  check(!(await granted(FORM, 'legal', 'export')), 'the edit refused is still shown')
})

await step('published on the builder page', async () => {
  await page.click('[data-perm-publish-link]')
  await page.locator('input[data-builder-publish-message]').fill('Hide account phones from sales reps')
  const response = await answerTo('POST', `/api/apps/${APP}/publish`, () => page.click('[data-builder-publish-submit]'))
  check(response.status() === 201, `publish answered ${response.status()}: ${await response.text()}`)
  await page.locator('[data-builder-published]').waitFor()
})

await step(`after: ${REP} is served the ${FORM}s without ${FIELD}`, async () => {
  const items = await repAccounts()
  check(items.length > 0, `${REP} sees no ${FORM} any more`)
  const leaking = items.filter((r) => Object.hasOwn(r.data ?? {}, FIELD))
  check(leaking.length === 0, `${REP} is still served ${FIELD} in ${leaking.length} of ${items.length} records`)
  check(items.some((r) => Object.hasOwn(r.data ?? {}, 'name')), `${REP}'s ${FORM}s lost their names too`)
})

await step("a scope by filter is written as `{filter}`, and the draft's problems are shown", async () => {
  await page.goto(PERMISSIONS)
  await page.locator(`[data-perm-form="lead"] [data-perm-scope="marketing"]`).click()
  await page.locator('.el-select-dropdown [data-perm-scope-option="filter"]').click()
  const dialog = page.locator('[data-perm-filter-dialog]')
  await dialog.locator('textarea').fill('{"no_such_field": "x"')
  await page.click('[data-perm-filter-apply]')
  await dialog.locator('.el-alert').waitFor()
  await dialog.locator('textarea').fill('{"no_such_field": "x"}')
  await page.click('[data-perm-filter-apply]')
  await dialog.waitFor({ state: 'hidden' })
  const response = await answerTo('PUT', `/api/apps/${APP}/definitions/form/lead`, () => page.click('[data-perm-save]'))
  check(response.status() === 200, `the save answered ${response.status()}`)
  const marketing = JSON.parse(response.request().postData()).definition.permissions.find((g) => g.roles.includes('marketing'))
  check(JSON.stringify(marketing.scope) === '{"filter":{"no_such_field":"x"}}', `marketing's scope was sent as ${JSON.stringify(marketing.scope)}`)
  // The server checks the filter against the form: an unknown field is a problem of the draft.
  await page.locator('[data-perm-problem="lead"]').waitFor()
})

await step('a scope through a link: the reps see payments through their contracts, shown as such; chosen for quotes, written as `{via}`', async () => {
  await page.goto(PERMISSIONS)
  const payments = page.locator(`[data-perm-form="payment"] [data-perm-scope="sales_rep"]`)
  await payments.waitFor()
  await eventually(async () => /合同|Contract/.test(await payments.innerText()), async () => `the reps' payment scope reads ${await payments.innerText()}`)
  await page.locator(`[data-perm-form="quote"] [data-perm-scope="sales_rep"]`).click()
  await page.locator('.el-select-dropdown:visible [data-perm-scope-option="via:opportunity"]').click()
  const response = await answerTo('PUT', `/api/apps/${APP}/definitions/form/quote`, () => page.click('[data-perm-save]'))
  check(response.status() === 200, `the save answered ${response.status()}`)
  const reps = JSON.parse(response.request().postData()).definition.permissions.find((g) => g.roles.includes('sales_rep'))
  check(JSON.stringify(reps.scope) === '{"via":"opportunity"}', `the reps' quote scope was sent as ${JSON.stringify(reps.scope)}`)
})

await finish()
