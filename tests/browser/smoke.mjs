// Browser smoke test of Tessera's UI: signs in and works with the CRM the way a user would,
// in a real headless Chromium.
//
//   npm ci --prefix tests/browser          # once: installs playwright-core
//   TESSERA_URL=http://127.0.0.1:8080 node tests/browser/smoke.mjs
//
// TESSERA_URL is a server started with `tessera serve --demo` (a fresh database is best; the
// test only adds records). Optional: TESSERA_SCREENSHOTS=<dir> saves a screenshot after every
// step; CHROMIUM=<path> overrides /usr/bin/chromium. Prints one line per step and finally
// `browser: N passed, M failed`; exits non-zero on any failure, leaving a screenshot of the
// failing page in the temporary folder.
import { readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BASE, SHOTS, TIMEOUT, answerTo, check, choose, context, dragByMouse, eventually, finish, measuredImpact, page, step } from './harness.mjs'

const APP = 'crm'

/** Amounts as shown in the list (`1,234.00`), as numbers; empty cells are skipped. */
async function shownAmounts() {
  const texts = await page.locator('[data-list] tbody [data-col="amount"]').allInnerTexts()
  return texts.map((s) => s.replace(/[^0-9.-]/g, '')).filter(Boolean).map(Number)
}

const sorted = (xs, dir) => xs.every((x, i) => i === 0 || (dir > 0 ? xs[i - 1] <= x : xs[i - 1] >= x))

async function versionShown() {
  const text = await page.locator('[data-version]').innerText()
  return Number(text.match(/\d+/)?.[0])
}

const rows = page.locator('[data-list] tbody tr')
// Element Plus puts extra attributes of an input on the <input> itself.
const SEARCH = 'input[data-search]'
const stamp = Date.now().toString(36)

await step('the login page opens', async () => {
  await page.goto(`${BASE}/`)
  await page.locator('[data-login-submit]').waitFor()
  check((await page.title()) === 'Tessera', `page title is "${await page.title()}"`)
})

await step('a wrong password is refused with a message', async () => {
  await page.fill('input[name="username"]', 'rep1')
  await page.fill('input[name="password"]', 'not-the-password')
  await page.click('[data-login-submit]')
  await page.locator('[data-login-error]').waitFor()
})

await step('rep1 signs in and sees the app navigation', async () => {
  await page.fill('input[name="password"]', 'demo')
  await page.click('[data-login-submit]')
  await page.locator('[data-nav] [data-nav-form="opportunity"]').waitFor()
  const token = await page.evaluate(() => sessionStorage.getItem('tessera.session'))
  check(token && JSON.parse(token).token, 'no session token in sessionStorage')
})

await step('the opportunity list shows rows', async () => {
  await answerTo('GET', '/forms/opportunity/records', () => page.click('[data-nav] [data-nav-form="opportunity"]'))
  await rows.first().waitFor()
  check((await rows.count()) > 1, `only ${await rows.count()} row(s)`)
  check((await shownAmounts()).length > 0, 'no amounts shown in the list')
})

await step('sorting by amount orders the rows, both ways', async () => {
  await answerTo('GET', 'sort=amount', () => page.click('[data-list] thead .col-amount'))
  await eventually(
    async () => (await shownAmounts()).length > 1 && sorted(await shownAmounts(), 1),
    async () => `not ascending: ${(await shownAmounts()).slice(0, 8).join(', ')}`,
  )
  const up = await shownAmounts()
  await answerTo('GET', 'sort=-amount', () => page.click('[data-list] thead .col-amount'))
  await eventually(
    async () => (await shownAmounts()).length > 1 && sorted(await shownAmounts(), -1),
    async () => `not descending: ${(await shownAmounts()).slice(0, 8).join(', ')}`,
  )
  const down = await shownAmounts()
  check(down[0] >= up[up.length - 1], 'the largest amount does not come first when descending')
})

await step('searching by name narrows the list', async () => {
  const first = (await page.locator('[data-list] tbody tr:first-child [data-col="name"]').innerText()).trim()
  const word = first.split(/\s+/).sort((a, b) => b.length - a.length)[0]
  await answerTo('GET', 'contains', () => page.fill(SEARCH, word))
  const names = () => page.locator('[data-list] tbody [data-col="name"]').allInnerTexts()
  await eventually(
    async () => {
      const shown = await names()
      return shown.length > 0 && shown.every((n) => n.toLowerCase().includes(word.toLowerCase()))
    },
    async () => `rows not narrowed to "${word}": ${(await names()).join(' | ')}`,
  )
  await answerTo('GET', '/forms/opportunity/records', () => page.fill(SEARCH, ''))
})

await step('editing a record and saving raises its version', async () => {
  await rows.first().locator('[data-col="name"]').click()
  await page.locator('[data-version]').waitFor()
  const before = await versionShown()
  const name = page.locator('[data-field="name"] input')
  const old = await name.inputValue()
  await name.fill(`${old.replace(/ \(smoke [a-z0-9]+\)$/, '')} (smoke ${stamp})`)
  const response = await answerTo('PATCH', '/forms/opportunity/records/', () => page.click('[data-save]'))
  check(response.status() === 200, `PATCH answered ${response.status()}: ${await response.text()}`)
  const sent = response.request().postDataJSON()
  check(Object.keys(sent.data).join() === 'name', `PATCH sent more than the changed field: ${JSON.stringify(sent)}`)
  await eventually(
    async () => (await versionShown()) === before + 1,
    async () => `version ${await versionShown()} after saving version ${before}`,
  )
})

await step('the history tab lists the versions and the change', async () => {
  await page.click('#tab-history')
  await page.locator('[data-history-item]').nth(1).waitFor()
  const latest = await page.locator('[data-history-item]').first().innerText()
  check(latest.includes(`smoke ${stamp}`), `the newest version does not show the new name: ${latest}`)
})

await step('rep1 sees no Delete button on an opportunity (reps may not delete)', async () => {
  await page.click('#tab-details')
  await page.locator('[data-save]').waitFor()
  check((await page.locator('[data-delete]').count()) === 0, 'a Delete button is shown to a sales rep')
  await page.click('[data-nav] [data-nav-form="opportunity"]')
  await rows.first().waitFor()
  check((await page.locator('[data-new]').count()) === 1, 'no New button for a rep who may create')
  check((await page.locator('[data-trash]').count()) === 0, 'a Trash button is shown to a rep who may not delete')
  check((await page.locator('[data-import]').count()) === 0, 'an Import button is shown to a rep who may not import')
})

await step('the quote list exports the rows as CSV', async () => {
  await answerTo('GET', '/forms/quote/records', () => page.click('[data-nav] [data-nav-form="quote"]'))
  await rows.first().waitFor()
  await page.click('[data-export-button]')
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-export-csv]').click()])
  check(download.url().includes('/forms/quote/export?format=csv'), `export URL is ${download.url()}`)
  const path = await download.path()
  const text = readFileSync(path, 'utf8')
  const lines = text.trim().split(/\r?\n/)
  check(lines.length >= 2, `the CSV has ${lines.length} line(s): ${text.slice(0, 200)}`)
})

await step('on a quote the Print button opens the printout', async () => {
  await rows.first().locator('td').first().click()
  await page.locator('[data-print]').waitFor()
  const [printout] = await Promise.all([
    context.waitForEvent('page'),
    page.locator('[data-print] .el-button-group > .el-button').first().click(),
  ])
  await printout.waitForLoadState()
  check(printout.url().includes('/print/quote/'), `the printout URL is ${printout.url()}`)
  const body = await printout.locator('body').innerText()
  if (SHOTS) await printout.screenshot({ path: join(SHOTS, 'printout.png'), fullPage: true })
  await printout.close()
  check(body.includes('报价单'), `the printout does not say 报价单: ${body.slice(0, 200)}`)
})

await step('a new account is created with a name', async () => {
  await page.click('[data-nav] [data-nav-form="account"]')
  await page.locator('[data-new]').click()
  await page.locator('[data-field="name"] input').fill(`Smoke Test Co ${stamp}`)
  const response = await answerTo('POST', '/forms/account/records', () => page.click('[data-save]'))
  check(response.status() === 201, `POST answered ${response.status()}: ${await response.text()}`)
  await page.waitForURL(/#\/crm\/account\/[0-9a-f-]{36}$/)
  check((await versionShown()) === 1, `new record shows version ${await versionShown()}`)
  const title = await page.locator('[data-record-title]').innerText()
  check(title.includes(`Smoke Test Co ${stamp}`), `record title is "${title}"`)
})

// The quote's total is computed by its before_save rule (quote_totals.rhai): the page shows it
// from the server's preview while the user types, before anything is saved.
await step('a new quote shows its total from the preview before saving', async () => {
  const writes = []
  const onRequest = (r) => r.method() === 'POST' && r.url().includes('/forms/quote/records') && writes.push(r.url())
  page.on('request', onRequest)
  try {
    // One preview when the page opens, with the defaults of a new record.
    const opened = await answerTo('POST', '/forms/quote/preview', () => page.goto(`${BASE}/#/${APP}/quote/new`))
    check(opened.status() === 200, `the first preview answered ${opened.status()}: ${await opened.text()}`)
    const first = opened.request().postDataJSON()
    check(first.id === undefined && first.data?.discount === 0, `the first preview sent ${JSON.stringify(first)}`)
    const total = page.locator('[data-field="total"] .field-item__value')
    await total.waitFor()
    const items = page.locator('[data-field="items"]')
    await items.locator('.table-widget__add').click()
    // Number inputs commit their value when they lose the focus.
    await items.locator('[data-cell="0/qty"] input').fill('3')
    await items.locator('[data-cell="0/qty"] input').press('Tab')
    await items.locator('[data-cell="0/unit_price"] input').fill('1250.5')
    await items.locator('[data-cell="0/unit_price"] input').press('Tab')
    await page.locator('[data-field="discount"] input').fill('10')
    await page.locator('[data-field="discount"] input').press('Tab')
    const shown = async () => Number((await total.innerText()).replace(/[^0-9.-]/g, ''))
    // 3 × 1,250.50 less 10 % = 3,376.35
    await eventually(async () => (await shown()) === 3376.35, async () => `the total shows "${await total.innerText()}", not 3,376.35`)
    // The preview's problems show only at fields the user touched: the account, required but
    // not touched yet, says nothing.
    check((await page.locator('[data-field="account"] .el-form-item__error').count()) === 0, 'the untouched account field shows an error')
    check(writes.length === 0, `the quote was saved: ${writes.join(', ')}`)
    check(page.url().endsWith('/quote/new'), `left the new-record page: ${page.url()}`)
    // Leave without saving: the page asks first.
    await page.click('[data-nav] [data-nav-form="quote"]')
    await page.locator('.el-message-box .el-button--primary').click()
    await rows.first().waitFor()
    check(writes.length === 0, `the quote was saved: ${writes.join(', ')}`)
  } finally {
    page.off('request', onRequest)
  }
})

await step('saving an invalid record shows the error at the field', async () => {
  await page.goto(`${BASE}/#/${APP}/opportunity/new`)
  await page.locator('[data-save]').waitFor()
  const response = await answerTo('POST', '/forms/opportunity/records', () => page.click('[data-save]'))
  check(response.status() === 422, `POST of an empty opportunity answered ${response.status()}`)
  const paths = (await response.json()).details.map((d) => d.path)
  check(paths.includes('/name'), `the server did not report /name: ${paths.join(', ')}`)
  const error = page.locator('[data-field="name"] .el-form-item__error')
  await error.waitFor()
  // Worded by the UI from the problem's code, in the user's language (zh-CN), not the server's English.
  check((await error.innerText()).trim() === '必填', `the error under the name field says "${await error.innerText()}"`)
  check(page.url().endsWith('/opportunity/new'), `left the new-record page: ${page.url()}`)
})

await step('signing out returns to the login page and forgets the session', async () => {
  await page.click('[data-user-menu]')
  await page.locator('[data-logout]').click()
  await page.locator('[data-login-submit]').waitFor()
  check(!(await page.evaluate(() => sessionStorage.getItem('tessera.session'))), 'the session is still stored')
  await page.goto(`${BASE}/#/${APP}/opportunity`)
  await page.locator('[data-login-submit]').waitFor()
})

await step('marketing1 imports two leads from a CSV file', async () => {
  await page.fill('input[name="username"]', 'marketing1')
  await page.fill('input[name="password"]', 'demo')
  await page.click('[data-login-submit]')
  await page.locator('[data-nav] [data-nav-form="lead"]').waitFor()
  await answerTo('GET', '/forms/lead/records', () => page.click('[data-nav] [data-nav-form="lead"]'))
  await page.click('[data-import]')
  const dialog = page.locator('.el-dialog[data-import-dialog]')
  await dialog.waitFor()
  // Unique addresses: the lead form dedupes on email, and a rerun must create them again.
  const csv = `姓名,email\n张三,zs.${stamp}@example.com\n李四,ls.${stamp}@example.com\n`
  await dialog.locator('[data-import-file]').setInputFiles({ name: 'leads.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
  await dialog.locator('[data-import-name]').waitFor()
  check(await dialog.locator('[data-import-dry-run] input').isChecked(), 'dry run is not the default')
  if (SHOTS) {
    await page.waitForTimeout(400) // the dialog's opening animation
    await page.screenshot({ path: join(SHOTS, 'import-setup.png') })
  }
  await dialog.locator('[data-import-dry-run]').click()
  const response = await answerTo('POST', '/forms/lead/import', () => dialog.locator('[data-import-start]').click())
  check(response.status() === 202, `import answered ${response.status()}: ${await response.text()}`)
  check(response.url().includes('dry_run=false'), `not a real import: ${response.url()}`)
  await dialog.locator('[data-import-report]').waitFor()
  const created = (await dialog.locator('[data-count-created] b').innerText()).trim()
  check(created === '2', `the report says created: ${created}`)
  check((await dialog.locator('[data-count-failed] b').innerText()).trim() === '0', 'the report has failed rows')
})

await step('the imported leads are in the list', async () => {
  await page.locator('.el-dialog[data-import-dialog] [data-import-close]').click()
  await page.fill(SEARCH, '张三')
  await eventually(
    async () => (await page.locator('[data-list] tbody [data-col="name"]').allInnerTexts()).some((n) => n.includes('张三')),
    'the imported lead 张三 is not listed',
  )
})

// Flows: a quote with a discount over 10% needs the rep's manager to approve it. The rep
// creates and submits it on the record page; the manager approves it from My tasks.
async function signInAs(username) {
  await page.click('[data-user-menu]')
  await page.locator('[data-logout]').click()
  await page.locator('[data-login-submit]').waitFor()
  await page.fill('input[name="username"]', username)
  await page.fill('input[name="password"]', 'demo')
  await page.click('[data-login-submit]')
  await page.locator('[data-nav] [data-nav-tasks]').waitFor()
}

/** Opens the select in `scope` (a link picker searches as it opens) and picks its first option. */
async function pickFirst(scope) {
  await scope.locator('.el-select').click()
  const option = page.locator('.el-select-dropdown:visible .el-select-dropdown__item').first()
  await option.waitFor()
  await option.click()
}

const flowState = () => page.locator('[data-flow-state]').getAttribute('data-state')
let quoteId
let quoteNumber

await step('rep1 creates a quote with a 15% discount and one line item', async () => {
  await signInAs('rep1')
  await page.goto(`${BASE}/#/${APP}/quote/new`)
  await page.locator('[data-save]').waitFor()
  // The flow puts a new quote in its first state: the status is not for picking.
  check((await page.locator('[data-field="status"] .el-select').count()) === 0, 'the status of a new quote can be picked')
  await pickFirst(page.locator('[data-field="account"]'))
  await page.locator('[data-field="items"] .table-widget__add').click()
  await pickFirst(page.locator('[data-cell="0/product"]'))
  await page.locator('[data-cell="0/qty"] input').fill('2')
  await page.locator('[data-cell="0/unit_price"] input').fill('1000')
  await page.locator('[data-field="discount"] input').fill('15')
  const response = await answerTo('POST', '/forms/quote/records', () => page.click('[data-save]'))
  check(response.status() === 201, `POST answered ${response.status()}: ${await response.text()}`)
  check(!('status' in response.request().postDataJSON().data), 'the new quote was sent with a status')
  const created = await response.json()
  check(created.data.discount === 15 && created.data.items?.length === 1, `the quote saved is ${JSON.stringify(created.data)}`)
  quoteId = created.id
  quoteNumber = created.data.number
  await page.waitForURL(new RegExp(`#/${APP}/quote/${quoteId}$`))
  await eventually(async () => (await flowState()) === 'draft', async () => `the flow state shown is ${await flowState()}`)
  // Only actions move the state: the status shows as a value, not as a select.
  check((await page.locator('[data-field="status"] .el-select').count()) === 0, 'the status can be edited by hand')
})

await step('rep1 submits the quote through the actions bar and cannot approve it', async () => {
  check((await page.locator('[data-flow-action="approve"]').count()) === 0, 'an Approve button on a draft')
  const response = await answerTo('POST', `/records/${quoteId}/actions/submit`, () => page.click('[data-flow-action="submit"]'))
  check(response.status() === 200, `submit answered ${response.status()}: ${await response.text()}`)
  await eventually(async () => (await flowState()) === 'in_review', async () => `the flow state shown is ${await flowState()}`)
  const waiting = await page.locator('[data-flow-waiting]').innerText()
  check(waiting.includes('manager1'), `the approval does not wait for manager1: ${waiting}`)
  await page.locator('[data-flow-action="recall"]').waitFor()
  check((await page.locator('[data-flow-action="approve"]').count()) === 0, 'a rep is offered to approve their own quote')
  check((await page.locator('[data-flow-action="reject"]').count()) === 0, 'a rep is offered to reject their own quote')
  // In review the flow locks the quote: its fields show as values.
  await eventually(async () => (await page.locator('[data-field="discount"] input').count()) === 0, 'the discount can be edited in review')
})

await step('manager1 finds the quote in My tasks', async () => {
  await signInAs('manager1')
  await page.locator('[data-nav-tasks-count]').waitFor()
  await answerTo('GET', '/api/tasks', () => page.click('[data-nav] [data-nav-tasks]'))
  const link = page.locator(`[data-tasks] [data-task-record="${quoteId}"]`)
  await link.waitFor()
  check((await link.innerText()).includes(quoteNumber), `the task names "${await link.innerText()}", not ${quoteNumber}`)
  const row = page.locator('[data-tasks] tbody tr', { has: page.locator(`[data-task-record="${quoteId}"]`) })
  check((await row.innerText()).includes('销售经理审批'), `the task does not name its step by its label: ${await row.innerText()}`)
})

await step('manager1 approves it there with a comment', async () => {
  const row = page.locator('[data-tasks] tbody tr', { has: page.locator(`[data-task-record="${quoteId}"]`) })
  await row.locator('[data-task-approve]').click()
  const dialog = page.locator('.el-dialog[data-flow-dialog]')
  await dialog.waitFor()
  await dialog.locator('textarea[data-flow-comment]').fill(`fine by me (smoke ${stamp})`)
  const response = await answerTo('POST', '/approve', () => dialog.locator('[data-flow-confirm]').click())
  check(response.status() === 200, `approve answered ${response.status()}: ${await response.text()}`)
  check((await response.json()).flow?.state === 'approved', 'the quote is not approved after its manager approved it')
  await eventually(async () => (await row.count()) === 0, 'the decided task is still listed as pending')
})

await step('the quote page shows it approved, with the decision in the log', async () => {
  await answerTo('GET', 'status=approved', () => page.click('[data-tasks-status-option="approved"]'))
  await page.locator(`[data-tasks] [data-task-record="${quoteId}"]`).click()
  await page.waitForURL(new RegExp(`#/${APP}/quote/${quoteId}$`))
  await eventually(async () => (await page.locator('[data-flow-state]').count()) > 0 && (await flowState()) === 'approved', 'the state tag does not say approved')
  const tag = (await page.locator('[data-flow-state]').innerText()).trim()
  check(tag === '已批准', `the state tag reads "${tag}"`)
  const log = await page.locator('[data-flow-log]').innerText()
  check(log.includes('manager1') && log.includes(`fine by me (smoke ${stamp})`), `the log does not show the decision: ${log}`)
  check(log.includes('提交审批') && log.includes('草稿 → 审批中'), `the log does not name the submission and its move: ${log}`)
})

await step('an action refused for an empty required field shows the error at the field', async () => {
  const response = await answerTo('POST', `/records/${quoteId}/actions/send`, () => page.click('[data-flow-action="send"]'))
  check(response.status() === 422, `sending without a validity date answered ${response.status()}`)
  const error = page.locator('[data-field="valid_until"] .el-form-item__error')
  await error.waitFor()
  check((await error.innerText()).trim() === '执行此操作前必须填写', `the error under the validity date says "${await error.innerText()}"`)
  check((await flowState()) === 'approved', `the state moved to ${await flowState()}`)
})

// Dashboards: charts drawn in the browser from the report results, and a dashboard filter
// that asks the server again.
const tileOwners = () => page.locator('[data-tile="pipeline_by_owner"] tbody [data-col="owner"]').allInnerTexts()

await step('manager1 opens the sales dashboard: charts drawn, the funnel among them', async () => {
  const response = await answerTo('GET', '/dashboards/sales', () => page.goto(`${BASE}/#/${APP}/dashboards/sales`))
  check(response.status() === 200, `the dashboard answered ${response.status()}: ${await response.text()}`)
  await page.locator('[data-tile]').first().waitFor()
  const tiles = (await response.json()).tiles.length
  check((await page.locator('[data-tile]').count()) === tiles, `${await page.locator('[data-tile]').count()} tiles shown of ${tiles}`)
  await page.locator('[data-tile="sales_funnel"][data-tile-kind="funnel"] [data-tile-chart] canvas').waitFor()
  // ECharts draws on a canvas: some pixel of some chart is no longer transparent.
  await eventually(
    () =>
      page.evaluate(() =>
        [...document.querySelectorAll('[data-tile-chart] canvas')].some((canvas) => {
          if (!canvas.width || !canvas.height) return false
          const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
          for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) return true
          return false
        }),
      ),
    'no chart drew anything on its canvas',
  )
  check((await page.locator('[data-nav] [data-nav-dashboard="sales"]').count()) === 1, 'the navigation has no entry for the sales dashboard')
  await eventually(async () => new Set(await tileOwners()).size > 1, async () => `the pipeline table shows owners ${(await tileOwners()).join(', ')}`)
})

await step('setting the owner filter to rep1 reloads the dashboard for rep1 only', async () => {
  await page.locator('[data-dashboard-filter="owner"] .el-select').click()
  await page.keyboard.type('rep1')
  const response = await answerTo('GET', '/dashboards/sales?filter=', () => page.keyboard.press('Enter'))
  await page.keyboard.press('Escape')
  check(response.status() === 200, `the filtered dashboard answered ${response.status()}: ${await response.text()}`)
  const filter = new URL(response.url()).searchParams.get('filter')
  check(filter === JSON.stringify({ owner: ['rep1'] }), `the dashboard was asked with filter ${filter}`)
  await eventually(
    async () => {
      const owners = await tileOwners()
      return owners.length > 0 && owners.every((o) => o.trim() === 'rep1')
    },
    async () => `the pipeline table still shows owners ${(await tileOwners()).join(', ')}`,
  )
  await page.locator('[data-tile="sales_funnel"] [data-tile-chart] canvas').waitFor()
})

// The organisation, as an admin runs it: a department, a user in it with a password the admin
// chose and a role in the CRM; the user must choose their own password at their first sign-in,
// then works; the admin hands their records to rep1 and checks the audit log's chain.
const dept = `smoke_${stamp}`
const newUser = `smoke${stamp}`
const firstPassword = `Initial-${stamp}-Pw42`
const ownPassword = `Chosen-${stamp}-Pw77`

async function signInWith(username, password) {
  await page.click('[data-user-menu]')
  await page.locator('[data-logout]').click()
  await page.locator('[data-login-submit]').waitFor()
  await page.fill('input[name="username"]', username)
  await page.fill('input[name="password"]', password)
  await page.click('[data-login-submit]')
}

await step('admin signs in and sees the organisation pages in the menu', async () => {
  await signInWith('admin', 'demo')
  await page.locator('[data-nav] [data-nav-page="admin-users"]').waitFor()
  for (const name of ['admin-departments', 'tokens', 'admin-handover', 'admin-audit']) {
    check((await page.locator(`[data-nav] [data-nav-page="${name}"]`).count()) === 1, `no menu entry for ${name}`)
  }
})

await step('a second tab at the app URL is signed in by the session cookie, without the login page', async () => {
  const tab = await context.newPage()
  tab.setDefaultTimeout(TIMEOUT)
  const seen = []
  tab.on('framenavigated', (f) => f === tab.mainFrame() && seen.push(f.url()))
  try {
    const restored = tab.waitForResponse((r) => r.url().endsWith('/api/auth/session'))
    await tab.goto(`${BASE}/#/${APP}/account`)
    check((await restored).status() === 200, `GET /api/auth/session answered ${(await restored).status()}`)
    await tab.locator('[data-nav] [data-nav-form="account"]').waitFor()
    await tab.locator('[data-list] tbody tr').first().waitFor()
    check(!seen.some((u) => u.includes('#/login')), `the second tab passed by the login page: ${seen.join(' → ')}`)
    check((await tab.locator('[data-login-submit]').count()) === 0, 'the second tab shows the login page')
    const stored = JSON.parse((await tab.evaluate(() => sessionStorage.getItem('tessera.session'))) ?? '{}')
    check(!stored.token && stored.csrf_token && stored.user?.username === 'admin', `the second tab stored ${JSON.stringify(stored)}`)
    // A write in cookie mode carries the CSRF token and no bearer token.
    await tab.goto(`${BASE}/#/-/profile`)
    await tab.locator('input[data-profile-display-name]').waitFor()
    const [saved] = await Promise.all([
      tab.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith('/api/auth/me')),
      tab.click('[data-profile-save]'),
    ])
    const headers = saved.request().headers()
    check(saved.status() === 200, `PATCH /api/auth/me in cookie mode answered ${saved.status()}: ${await saved.text()}`)
    check(headers['x-csrf-token'] === stored.csrf_token && !headers.authorization, `cookie-mode write sent ${JSON.stringify(headers)}`)
    if (SHOTS) await tab.screenshot({ path: join(SHOTS, 'second-tab.png'), fullPage: true })
  } finally {
    await tab.close()
  }
})

let parentDept

await step('admin adds a department under an existing one', async () => {
  await answerTo('GET', '/api/departments', () => page.click('[data-nav] [data-nav-page="admin-departments"]'))
  const first = page.locator('[data-departments] [data-department]').first()
  await first.waitFor()
  parentDept = await first.getAttribute('data-department')
  await first.click()
  await page.locator('[data-department-detail] [data-department-add]').click()
  const dialog = page.locator('.el-dialog[data-department-dialog]')
  await dialog.waitFor()
  await dialog.locator('input[data-department-id]').fill(dept)
  await dialog.locator('input[data-department-name-input]').fill(`Smoke ${stamp}`)
  const response = await answerTo('POST', '/api/departments', () => dialog.locator('[data-department-save]').click())
  check(response.status() === 201, `POST /api/departments answered ${response.status()}: ${await response.text()}`)
  const made = await response.json()
  check(made.id === dept && made.parent === parentDept, `the department made is ${JSON.stringify(made)}, not under ${parentDept}`)
  await page.locator(`[data-departments] [data-department="${dept}"]`).waitFor()
  await eventually(async () => (await page.locator('[data-department-name]').innerText()).includes(`Smoke ${stamp}`), 'the new department is not selected')
})

await step('admin creates a user in it with a password of their choosing', async () => {
  await answerTo('GET', '/api/users', () => page.click('[data-nav] [data-nav-page="admin-users"]'))
  await page.locator('[data-users] [data-username="rep1"]').waitFor()
  await page.click('[data-user-new]')
  const dialog = page.locator('.el-dialog[data-user-dialog]')
  await dialog.waitFor()
  await dialog.locator('input[data-user-username]').fill(newUser)
  await dialog.locator('input[data-user-display-name]').fill(`冒烟 ${stamp}`)
  await choose(dialog.locator('[data-user-department]'), `[data-department-option="${dept}"]`, stamp)
  await dialog.locator('input[data-user-password]').fill(firstPassword)
  const response = await answerTo('POST', '/api/users', () => dialog.locator('[data-user-save]').click())
  check(response.status() === 201, `POST /api/users answered ${response.status()}: ${await response.text()}`)
  const answer = await response.json()
  check(answer.user?.department === dept && !answer.password, `the user made is ${JSON.stringify(answer)}`)
  await page.locator(`[data-users] [data-username="${newUser}"]`).waitFor()
  check((await page.locator('.el-dialog[data-secret-dialog]:visible').count()) === 0, 'a password of the admin’s choosing is shown as generated')
})

await step('admin grants them sales_rep in the CRM', async () => {
  const row = page.locator('[data-users] tbody tr', { has: page.locator(`[data-username="${newUser}"]`) })
  await row.locator('[data-user-grants]').click()
  const dialog = page.locator('.el-dialog[data-grants-dialog]')
  await dialog.waitFor()
  await choose(dialog.locator(`[data-grants-app="${APP}"]`), '[data-role-option="sales_rep"]')
  await dialog.locator('.el-dialog__header').click() // closes the multi-select's list
  const response = await answerTo('PUT', `/api/users/${newUser}/grants/${APP}`, () => dialog.locator('[data-grants-save]').click())
  check(response.status() === 200, `PUT grants answered ${response.status()}: ${await response.text()}`)
  const user = await response.json()
  check(user.grants?.[APP]?.includes('sales_rep'), `the user's grants are ${JSON.stringify(user.grants)}`)
  await eventually(async () => (await row.locator(`[data-user-roles="${newUser}"]`).innerText()).includes('销售代表'), 'the row does not show the role')
})

await step('admin imports users from a CSV: the dry run refuses row 3, the real import shows the password once', async () => {
  const imported = `imp${stamp}`
  await page.click('[data-users-import]')
  const dialog = page.locator('.el-dialog[data-user-import-dialog]')
  await dialog.waitFor()
  const csv = `username,display_name,department,grants\n${imported},导入一,sales_east,crm:sales_rep\nimpbad${stamp},导入二,nowhere,crm:sales_rep\n`
  await dialog.locator('[data-import-file]').setInputFiles({ name: 'users.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
  await dialog.locator('[data-import-name]').waitFor()
  check(await dialog.locator('[data-import-dry-run] input').isChecked(), 'dry run is not the default')
  const dry = await answerTo('POST', '/api/users/import', () => dialog.locator('[data-import-start]').click())
  check(dry.status() === 200 && dry.url().includes('dry_run=true'), `the dry run ${dry.url()} answered ${dry.status()}: ${await dry.text()}`)
  await dialog.locator('[data-import-report][data-dry-run="true"]').waitFor()
  const failedCount = (await dialog.locator('[data-count-failed] b').innerText()).trim()
  check(failedCount === '1', `the dry run reports ${failedCount} refused rows`)
  const refused = await dialog.locator('[data-import-errors] [data-error-row]').evaluateAll((cells) => cells.map((c) => c.dataset.errorRow))
  check(refused.join() === '3', `the refused rows shown are ${JSON.stringify(refused)}`)
  const real = await answerTo('POST', '/api/users/import', () => dialog.locator('[data-import-commit]').click())
  check(real.status() === 200 && real.url().includes('dry_run=false'), `the import ${real.url()} answered ${real.status()}: ${await real.text()}`)
  const answer = await real.json()
  check(answer.created === 1 && answer.passwords?.[0]?.username === imported, `the import answered ${JSON.stringify(answer)}`)
  const shown = dialog.locator(`[data-import-passwords] tr`, { has: page.locator(`[data-password-user="${imported}"]`) })
  await shown.waitFor()
  check((await shown.locator('[data-password-value]').innerText()).trim() === answer.passwords[0].password, 'the password shown is not the one generated')
  if (SHOTS) await page.screenshot({ path: join(SHOTS, 'users-import.png') })
  await dialog.locator('[data-import-close]').click()
  await dialog.waitFor({ state: 'hidden' })
  await page.locator(`[data-users] [data-username="${imported}"]`).waitFor()
})

await step('the new user signs in and is asked to choose a new password first', async () => {
  await signInWith(newUser, firstPassword)
  await page.locator('[data-password-required]').waitFor()
  check(page.url().includes('#/-/profile'), `not on the profile page: ${page.url()}`)
  // Elsewhere sends them back to it.
  await page.goto(`${BASE}/#/${APP}/account`)
  await page.locator('[data-password-required]').waitFor()
})

await step('they change the password and go on to the app', async () => {
  await page.locator('input[data-password-current]').fill(firstPassword)
  await page.locator('input[data-password-new]').fill(ownPassword)
  await page.locator('input[data-password-repeat]').fill(ownPassword)
  const response = await answerTo('POST', '/api/auth/password', () => page.click('[data-password-save]'))
  check(response.status() === 204, `POST /api/auth/password answered ${response.status()}: ${await response.text()}`)
  await page.waitForURL((url) => !url.hash.startsWith('#/-/profile'))
  await page.locator('[data-nav] [data-nav-form="account"]').waitFor()
  const stored = JSON.parse(await page.evaluate(() => sessionStorage.getItem('tessera.session')))
  check(stored.user.must_change_password === false, `the stored user still must change the password: ${JSON.stringify(stored.user)}`)
})

await step('the new user creates an account', async () => {
  await page.click('[data-nav] [data-nav-form="account"]')
  await page.locator('[data-new]').click()
  await page.locator('[data-field="name"] input').fill(`Handover Co ${stamp}`)
  const response = await answerTo('POST', '/forms/account/records', () => page.click('[data-save]'))
  check(response.status() === 201, `POST answered ${response.status()}: ${await response.text()}`)
  await page.waitForURL(/#\/crm\/account\/[0-9a-f-]{36}$/)
})

await step('admin hands the new user’s accounts over to rep1: 1 record moved', async () => {
  await signInWith('admin', 'demo')
  await page.locator('[data-nav] [data-nav-page="admin-handover"]').click()
  await choose(page.locator('[data-handover-from]'), `[data-user-option="${newUser}"]`, newUser)
  const key = `${APP}/account`
  await page.locator(`[data-handover-preview] [data-work-records="${key}"]`).waitFor()
  check((await page.locator(`[data-work-records="${key}"]`).innerText()).trim() === '1', 'the preview does not count 1 account')
  // Only the accounts: any other form of theirs is left unticked.
  for (const box of await page.locator('[data-handover-form]').all()) {
    const wanted = (await box.getAttribute('data-handover-form')) === key
    if ((await box.locator('input').isChecked()) !== wanted) await box.click()
  }
  await choose(page.locator('[data-handover-to]'), '[data-user-option="rep1"]', 'rep1')
  const response = await answerTo('POST', `/api/users/${newUser}/handover`, () => page.click('[data-handover-submit]'))
  check(response.status() === 200, `POST handover answered ${response.status()}: ${await response.text()}`)
  const moved = await response.json()
  const accounts = moved.forms.find((f) => `${f.app}/${f.form}` === key)
  check(accounts?.records === 1, `the hand-over moved ${JSON.stringify(moved)}`)
  const result = page.locator('[data-handover-result]')
  await result.waitFor()
  check((await result.getAttribute('data-handover-records')) === '1', `the result says ${await result.innerText()}`)
  check((await result.innerText()).includes('1 条记录'), `the result says "${await result.innerText()}"`)
})

await step('the audit log shows the chain verified', async () => {
  await answerTo('GET', '/api/audit/verify', () => page.click('[data-nav] [data-nav-page="admin-audit"]'))
  const banner = page.locator('[data-audit-verify]')
  await banner.waitFor()
  check((await banner.getAttribute('data-ok')) === 'true', `the banner says "${await banner.innerText()}"`)
  await page.locator('[data-audit] tbody tr').first().waitFor()
})

// ---- The app builder and the form designer (issue 21): an admin makes an app from nothing,
// a rep uses it once published. The app's id is fixed: these steps need a fresh database.
const BUILT = 'asset_requests'
// Guarded: a new record has no quantity or price yet.
const FORMULA = 'if record.qty == () || record.unit_price == () { () } else { record.qty * record.unit_price }'

/** Adds a field of `type` from the palette and names it; it is left selected. */
async function designField(type, id, zh, en, { drag = false } = {}) {
  const before = await page.locator('[data-canvas-field]').count()
  const item = page.locator(`[data-palette] [data-palette-type="${type}"]`)
  if (drag) await item.dragTo(page.locator('[data-canvas] [data-canvas-end]'))
  else await item.click()
  await eventually(async () => (await page.locator('[data-canvas-field]').count()) === before + 1, `no ${type} field added`)
  await page.locator('input[data-prop-id]').fill(id)
  await page.locator('input[data-prop-label-zh]').fill(zh)
  await page.locator('input[data-prop-label-en]').fill(en)
  await page.locator(`[data-canvas-field="${id}"]`).waitFor()
}

// The definition the designer sent with its last save.
let sentDesign = null

/** Saves the designer's draft; answers the problems the server found. */
async function saveDesign() {
  const response = await answerTo('PUT', '/definitions/form/', () => page.click('[data-designer-save]'))
  check(response.status() === 200, `PUT form answered ${response.status()}: ${await response.text()}`)
  sentDesign = response.request().postDataJSON()?.definition ?? null
  await eventually(async () => (await page.locator('[data-designer-dirty]').count()) === 0, 'the designer still says unsaved')
  return (await response.json()).problems ?? []
}

async function newFormInBuilder(id, zh, en) {
  await page.click('[data-builder-new-form]')
  const dialog = page.locator('.el-dialog[data-builder-form-dialog]')
  await dialog.waitFor()
  await dialog.locator('input[data-new-form-id]').fill(id)
  await dialog.locator('input[data-new-form-zh]').fill(zh)
  await dialog.locator('input[data-new-form-en]').fill(en)
  const response = await answerTo('PUT', `/definitions/form/${id}`, () => dialog.locator('[data-new-form-submit]').click())
  check(response.status() === 200, `PUT form answered ${response.status()}: ${await response.text()}`)
  await page.waitForURL(new RegExp(`#/-/builder/${BUILT}/forms/${id}$`))
  await page.locator('[data-palette] [data-palette-type="text"]').waitFor()
}

await step('admin opens the app builder and makes the app asset_requests', async () => {
  await answerTo('GET', '/api/apps', () => page.click('[data-nav] [data-nav-page="admin-builder"]'))
  await page.locator('[data-builder-apps] [data-builder-app="crm"]').waitFor()
  await page.click('[data-builder-new-app]')
  const dialog = page.locator('.el-dialog[data-builder-app-dialog]')
  await dialog.waitFor()
  await dialog.locator('input[data-new-app-id]').fill(BUILT)
  await dialog.locator('input[data-new-app-zh]').fill('资产申请')
  await dialog.locator('input[data-new-app-en]').fill('Asset requests')
  await dialog.locator('[data-new-app-icon]').click()
  await page.locator('.el-select-dropdown__item[data-new-app-icon-option="Box"]').click()
  const response = await answerTo('POST', '/api/apps', () => dialog.locator('[data-new-app-submit]').click())
  check(response.status() === 201, `POST /api/apps answered ${response.status()}: ${await response.text()}`)
  const sent = response.request().postDataJSON()
  check(sent.icon === 'Box' && sent.languages === undefined, `the new app was sent as ${JSON.stringify(sent)}`)
  await page.waitForURL(new RegExp(`#/-/builder/${BUILT}$`))
  await eventually(async () => (await page.locator('[data-builder-app-title]').innerText()) === '资产申请', 'the app page does not show its name')
})

await step('admin adds the role requester to the app', async () => {
  await page.locator('input[data-builder-role-id]').fill('requester')
  await page.locator('input[data-builder-role-zh]').fill('申请人')
  await page.locator('input[data-builder-role-en]').fill('Requester')
  const response = await answerTo('PUT', `/definitions/app/${BUILT}`, () => page.click('[data-builder-role-add]'))
  check(response.status() === 200, `PUT app.json answered ${response.status()}: ${await response.text()}`)
  await page.locator('[data-builder-roles] [data-builder-role="requester"]').waitFor()
})

await step('admin designs a small form location, with name as its duplicate key, and saves it', async () => {
  await newFormInBuilder('location', '地点', 'Location')
  await designField('text', 'name', '名称', 'Name')
  await page.click('[data-prop-required]')
  await choose(page.locator('[data-form-title-field]'), '.el-select-dropdown__item:has-text("名称")')
  await page.click('#tab-settings')
  const dedupe = page.locator('[data-form-keys="dedupe"]')
  await dedupe.locator('[data-key-add]').click()
  await choose(dedupe.locator('[data-key="0"] [data-key-fields]'), '[data-key-field-option="name"]')
  await page.keyboard.press('Escape')
  const problems = await saveDesign()
  check(problems.length === 0, `the draft has problems: ${JSON.stringify(problems)}`)
  check(JSON.stringify(sentDesign?.dedupe) === '[["name"]]', `the duplicate keys saved are ${JSON.stringify(sentDesign?.dedupe)}`)
  await page.click('#tab-design')
})

await step('admin designs the form request: fields, coloured options, formula, condition, child table, link', async () => {
  await page.click('[data-designer] h2 a') // back to the app
  await page.locator('[data-builder-forms] [data-builder-form="location"]').waitFor()
  await newFormInBuilder('request', '申请', 'Request')
  await designField('text', 'title', '标题', 'Title')
  await page.click('[data-prop-required]')
  await choose(page.locator('[data-form-title-field]'), '.el-select-dropdown__item:has-text("标题")')
  await designField('select', 'category', '类别', 'Category')
  for (const [k, value, zh, en] of [[0, 'laptop', '笔记本', 'Laptop'], [1, 'monitor', '显示器', 'Monitor']]) {
    const row = page.locator(`[data-prop-options] [data-option="${k}"]`)
    await row.locator('input[data-option-value]').fill(value)
    await row.locator('input[data-option-zh]').fill(zh)
    await row.locator('input[data-option-en]').fill(en)
  }
  await choose(page.locator('[data-prop-options] [data-option="0"] [data-option-color]'), '[data-color-option="blue"]')
  await choose(page.locator('[data-prop-options] [data-option="1"] [data-option-color]'), '[data-color-option="orange"]')
  await designField('integer', 'qty', '数量', 'Quantity')
  await designField('number', 'unit_price', '单价', 'Unit price')
  await designField('number', 'total', '总价', 'Total')
  await page.locator('[data-prop-formula] .cm-content').fill(FORMULA)
  await designField('boolean', 'urgent', '加急', 'Urgent')
  await designField('text', 'reason', '加急原因', 'Reason')
  // The condition built as a row (field, operator, value) writes the rule text.
  const visibleIf = page.locator('[data-prop-visible-if]')
  await visibleIf.locator('[data-cond-add]').click()
  await choose(visibleIf.locator('[data-cond-row="0"] [data-cond-field]'), '[data-cond-field-option="urgent"]')
  await eventually(async () => (await visibleIf.locator('[data-cond-text]').innerText()) === 'record.urgent == true',
    async () => `the condition reads "${await visibleIf.locator('[data-cond-text]').innerText()}"`)
  await designField('date', 'needed_by', '需要日期', 'Needed by', { drag: true })
  await designField('table', 'items', '明细', 'Items')
  await page.click('[data-canvas-child="items.name"]')
  await page.locator('input[data-prop-label-zh]').fill('物品')
  await page.click('[data-prop-parent]')
  await choose(page.locator('[data-child-type]'), '[data-child-type-option="integer"]')
  await page.click('[data-child-add]')
  await page.locator('input[data-prop-id]').fill('count')
  await page.locator('input[data-prop-label-zh]').fill('件数')
  await page.locator('input[data-prop-label-en]').fill('Count')
  await page.locator('[data-canvas-child="items.count"]').waitFor()
  await designField('link', 'location', '地点', 'Location')
  check((await page.locator('[data-prop-form]').innerText()).includes('location'), 'the link does not target location')
  // Reordered by dragging: needed_by dropped on urgent goes before it.
  await page.locator('[data-canvas-field="needed_by"]').dragTo(page.locator('[data-canvas-field="urgent"]'))
  const order = await page.locator('[data-canvas-field]').evaluateAll((els) => els.map((e) => e.dataset.canvasField))
  check(order.join() === 'title,category,qty,unit_price,total,needed_by,urgent,reason,items,location', `the fields are in the order ${order}`)
})

await step('undo and redo take back and bring back an edit', async () => {
  await page.click('[data-canvas-field="location"]')
  await page.click('[data-canvas-field="location"] [data-canvas-remove]')
  await eventually(async () => (await page.locator('[data-canvas-field="location"]').count()) === 0, 'the field is not removed')
  await page.waitForTimeout(400) // the edit is recorded when the edits pause
  await page.click('[data-designer-undo]')
  await page.locator('[data-canvas-field="location"]').waitFor()
  await page.click('[data-designer-redo]')
  await eventually(async () => (await page.locator('[data-canvas-field="location"]').count()) === 0, 'redo does not remove it again')
  await page.locator('[data-canvas]').click({ position: { x: 5, y: 5 } })
  await page.keyboard.press('Control+z')
  await page.locator('[data-canvas-field="location"]').waitFor()
})

await step('a broken formula is marked as typed and answered as a problem at its field; clicking it selects the field', async () => {
  await page.click('[data-canvas-field="total"]')
  const formula = page.locator('[data-prop-formula]')
  const [checked] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/expressions/check') && r.request().postDataJSON()?.expression === 'record.qty *'),
    formula.locator('.cm-content').fill('record.qty *'),
  ])
  check(checked.status() === 200, `the check answered ${checked.status()}: ${await checked.text()}`)
  check((await checked.json()).problems?.length > 0, 'the check finds nothing wrong with "record.qty *"')
  // Marked as typed: underlined, in the gutter, and said under the editor.
  await formula.locator('.cm-lintRange-error').first().waitFor()
  await formula.locator('.cm-lint-marker-error').first().waitFor()
  await formula.locator('[data-expr-problem]').first().waitFor()
  await page.click('[data-canvas-field="qty"]')
  const problems = await saveDesign()
  check(problems.some((p) => p.pointer === '/fields/4/formula'), `the problems are ${JSON.stringify(problems)}`)
  await page.click('[data-designer-problems] [data-problem-pointer="/fields/4/formula"]')
  await eventually(async () => (await page.locator('input[data-prop-id]').inputValue()) === 'total', 'the problem does not select total')
  await page.locator('[data-prop-formula] .cm-content').fill(FORMULA)
})

await step('admin sets who may do what, total read-only for requester, and saves without problems', async () => {
  for (const action of ['create', 'read', 'update']) await page.click(`[data-perm-role="requester"] [data-perm-action="${action}"]`)
  await page.click('[data-matrix-field="total"] [data-matrix-readonly="requester"]')
  const problems = await saveDesign()
  check(problems.length === 0, `the draft has problems: ${JSON.stringify(problems)}`)
  const category = sentDesign?.fields?.find((f) => f.id === 'category')
  check(category?.options?.map((o) => o.color).join() === 'blue,orange', `the options saved are ${JSON.stringify(category?.options)}`)
  check(sentDesign?.fields?.find((f) => f.id === 'reason')?.visible_if === 'record.urgent == true', 'reason is not saved visible if urgent')
})

await step('a save over a conflicting change is refused (409) and the designer offers a reload', async () => {
  // Another admin renames the title meanwhile, through the API.
  const token = JSON.parse(await page.evaluate(() => sessionStorage.getItem('tessera.session'))).token
  const status = await page.evaluate(async ({ url, token }) => {
    const headers = { Authorization: `Bearer ${token}` }
    const view = await (await fetch(url, { headers })).json()
    view.definition.fields[0].label = { en: 'Subject', 'zh-CN': '主题' }
    const put = await fetch(url, {
      method: 'PUT',
      headers: { ...headers, 'Content-Type': 'application/json', 'If-Match': `"${view.version}"` },
      body: JSON.stringify({ definition: view.definition }),
    })
    return put.status
  }, { url: `${BASE}/api/apps/${BUILT}/definitions/form/request`, token })
  check(status === 200, `the other admin's save answered ${status}`)
  await page.click('[data-canvas-field="title"]')
  await page.locator('input[data-prop-label-en]').fill('Headline')
  const response = await answerTo('PUT', '/definitions/form/request', () => page.click('[data-designer-save]'))
  check(response.status() === 409, `the stale save answered ${response.status()}: ${await response.text()}`)
  const box = page.locator('.el-message-box')
  await box.waitFor()
  await answerTo('GET', '/definitions/form/request', () => box.locator('.el-button--primary').click())
  await eventually(async () => (await page.locator('[data-canvas-field="title"]').innerText()).includes('主题'), 'the form is not reloaded')
  await page.click('[data-canvas-field="title"]')
  await page.locator('input[data-prop-label-zh]').fill('标题')
  await page.locator('input[data-prop-label-en]').fill('Title')
  const problems = await saveDesign()
  check(problems.length === 0, `the draft has problems: ${JSON.stringify(problems)}`)
})

const sectionFields = (i) =>
  page.locator(`[data-layout-section="${i}"] [data-section-fields] [data-layout-field]`).evaluateAll((els) => els.map((e) => e.dataset.layoutField))

await step('admin lays the request form out in two sections on the tabs main and details, and saves without problems', async () => {
  await page.click('#tab-layout')
  const layout = page.locator('[data-layout]')
  await layout.waitFor()
  for (const [i, id, zh, en] of [[0, 'main', '申请', 'Request'], [1, 'details', '详情', 'Details']]) {
    await layout.locator('[data-layout-add-tab]').click()
    const row = layout.locator(`[data-layout-tab="${i}"]`)
    await row.locator('input[data-tab-id]').fill(id)
    await row.locator('input[data-tab-label-zh]').fill(zh)
    await row.locator('input[data-tab-label-en]').fill(en)
  }
  for (const [i, zh, en, tab] of [[0, '申请', 'Request', 'main'], [1, '详情', 'Details', 'details']]) {
    await layout.locator('[data-layout-add-section]').click()
    const section = layout.locator(`[data-layout-section="${i}"]`)
    await section.locator('input[data-section-label-zh]').fill(zh)
    await section.locator('input[data-section-label-en]').fill(en)
    await choose(section.locator('[data-section-tab]'), `[data-section-tab-option="${tab}"]`)
  }
  await choose(layout.locator('[data-layout-section="0"] [data-section-columns]'), '[data-columns-option="2"]')
  // Dragged from "not placed" into the empty section, then the rest added from its list.
  await dragByMouse(layout.locator('[data-unplaced-fields] [data-layout-field="title"]'), layout.locator('[data-layout-section="0"] [data-section-fields]'))
  await eventually(async () => (await sectionFields(0)).join() === 'title', async () => `the section Request holds ${await sectionFields(0)}`)
  for (const id of ['category', 'qty', 'unit_price', 'total']) {
    await choose(layout.locator('[data-layout-section="0"] [data-section-add-field]'), `[data-add-field-option="${id}"]`)
  }
  for (const id of ['needed_by', 'urgent', 'reason', 'items']) {
    await choose(layout.locator('[data-layout-section="1"] [data-section-add-field]'), `[data-add-field-option="${id}"]`)
  }
  // The last one dragged, onto the section's first field: it goes before it; dragged down again.
  await dragByMouse(layout.locator('[data-unplaced-fields] [data-layout-field="location"]'), layout.locator('[data-layout-section="1"] [data-layout-field="needed_by"]'), 0.2)
  await eventually(async () => (await sectionFields(1)).join() === 'location,needed_by,urgent,reason,items', async () => `the section Details holds ${await sectionFields(1)}`)
  await dragByMouse(layout.locator('[data-layout-section="1"] [data-layout-field="location"]'), layout.locator('[data-layout-section="1"] [data-layout-field="items"]'), 0.8)
  await eventually(async () => (await sectionFields(1)).join() === 'needed_by,urgent,reason,items,location', async () => `the section Details holds ${await sectionFields(1)}`)
  check((await layout.locator('[data-unplaced-fields] [data-layout-field]').count()) === 0, 'fields are left not placed')
  // A field taken out of its section goes back to "not placed"; undo puts it back.
  await page.waitForTimeout(400) // the edit is recorded when the edits pause
  await layout.locator('[data-layout-section="1"] [data-layout-field="location"] [data-layout-field-remove]').click()
  await layout.locator('[data-unplaced-fields] [data-layout-field="location"]').waitFor()
  await page.waitForTimeout(400)
  await page.click('[data-designer-undo]')
  await eventually(async () => (await sectionFields(1)).join() === 'needed_by,urgent,reason,items,location', async () => `after undo the section Details holds ${await sectionFields(1)}`)
  const problems = await saveDesign()
  check(problems.length === 0, `the draft has problems: ${JSON.stringify(problems)}`)
  const draft = await apiGet(`/api/apps/${BUILT}/definitions/form/request`)
  check(draft.status === 200, `GET the draft answered ${draft.status}: ${draft.text}`)
  const { layout: sections, tabs } = draft.json.definition
  check(JSON.stringify(tabs?.map((t) => [t.id, t.label?.en, t.label?.['zh-CN']])) === '[["main","Request","申请"],["details","Details","详情"]]',
    `the tabs saved are ${JSON.stringify(tabs)}`)
  const shape = sections?.map((s) => [s.label?.en, s.label?.['zh-CN'], s.fields.join(), s.columns ?? null, s.tab ?? null])
  check(JSON.stringify(shape) === JSON.stringify([
    ['Request', '申请', 'title,category,qty,unit_price,total', 2, 'main'],
    ['Details', '详情', 'needed_by,urgent,reason,items,location', null, 'details'],
  ]), `the layout saved is ${JSON.stringify(sections)}`)
  check(!Object.hasOwn(sections[1], 'columns'), `the section Details is saved with columns: ${JSON.stringify(sections[1])}`)
})

await step('the designer’s preview hides reason until urgent is ticked and computes total', async () => {
  await page.click('#tab-preview')
  await page.locator('[data-preview] [data-field="title"]').waitFor()
  check((await page.locator('[data-preview] [data-field="reason"]').count()) === 0, 'reason shows before urgent is ticked')
  // The preview shows the record page's tabs: urgent and reason are on details.
  await page.click('[data-preview] [data-record-tab="details"]')
  await answerTo('POST', '/definitions/form/request/preview', () => page.click('[data-preview] [data-field="urgent"] .el-switch'))
  await page.locator('[data-preview] [data-field="reason"]').waitFor()
  await page.click('[data-preview] [data-record-tab="main"]')
  await page.locator('[data-preview] [data-field="qty"] input').fill('3')
  await page.locator('[data-preview] [data-field="unit_price"] input').fill('2.5')
  await page.locator('[data-preview] [data-field="title"] input').click()
  await eventually(async () => /7\.5/.test(await page.locator('[data-preview] [data-field="total"]').innerText()),
    async () => `the preview's total shows "${await page.locator('[data-preview] [data-field="total"]').innerText()}"`)
})

await step('at phone width the designer’s preview is narrow and still hides reason as the server answers', async () => {
  await page.click('[data-preview-width] label:nth-child(2)')
  await eventually(async () => (await page.locator('[data-preview]').boundingBox())?.width <= 420,
    async () => `the phone preview is ${(await page.locator('[data-preview]').boundingBox())?.width}px wide`)
  check((await page.locator('[data-preview] .el-form--label-top').count()) === 1, 'the phone preview does not put labels on top')
  await page.click('[data-preview] [data-record-tab="details"]')
  await page.locator('[data-preview] [data-field="reason"]').waitFor() // urgent is still ticked
  const untick = await answerTo('POST', '/definitions/form/request/preview', () => page.click('[data-preview] [data-field="urgent"] .el-switch'))
  check((await untick.json()).hidden?.includes('reason'), 'the server does not hide reason')
  await eventually(async () => (await page.locator('[data-preview] [data-field="reason"]').count()) === 0, 'reason shows with urgent not ticked')
  await answerTo('POST', '/definitions/form/request/preview', () => page.click('[data-preview] [data-field="urgent"] .el-switch'))
  await page.locator('[data-preview] [data-field="reason"]').waitFor()
  if (SHOTS) await page.screenshot({ path: join(SHOTS, 'designer-preview.png'), fullPage: true })
  await page.click('[data-preview-width] label:nth-child(1)')
  await page.click('#tab-design')
})

await step('leaving the designer with unsaved changes asks first; then admin publishes the app', async () => {
  await page.locator('input[data-form-label-en]').fill('Asset request')
  await page.click('[data-designer] h2 a')
  const box = page.locator('.el-message-box')
  await box.waitFor()
  await box.locator('.el-message-box__btns .el-button:not(.el-button--primary)').click() // stay
  await eventually(async () => !(await box.isVisible()), 'the question stays open')
  check(page.url().endsWith('/forms/request'), `the designer was left: ${page.url()}`)
  const problems = await saveDesign()
  check(problems.length === 0, `the draft has problems: ${JSON.stringify(problems)}`)
  await page.click('[data-designer] h2 a')
  await page.locator('input[data-builder-publish-message]').fill('First release')
  const response = await answerTo('POST', `/api/apps/${BUILT}/publish`, () => page.click('[data-builder-publish-submit]'))
  check(response.status() === 201, `publish answered ${response.status()}: ${await response.text()}`)
  await page.locator('[data-builder-published]').waitFor()
})

await step('admin grants rep1 the role requester in asset_requests on the Users page', async () => {
  await answerTo('GET', '/api/users', () => page.click('[data-nav] [data-nav-page="admin-users"]'))
  const row = page.locator('[data-users] tbody tr', { has: page.locator('[data-username="rep1"]') })
  await row.locator('[data-user-grants]').click()
  const dialog = page.locator('.el-dialog[data-grants-dialog]')
  await dialog.waitFor()
  await choose(dialog.locator(`[data-grants-app="${BUILT}"]`), '[data-role-option="requester"]')
  await dialog.locator('.el-dialog__header').click()
  const response = await answerTo('PUT', `/api/users/rep1/grants/${BUILT}`, () => dialog.locator('[data-grants-save]').click())
  check(response.status() === 200, `PUT grants answered ${response.status()}: ${await response.text()}`)
  check((await response.json()).grants?.[BUILT]?.includes('requester'), 'rep1 is not a requester')
})

await step('rep1 opens the new app’s form: reason hidden until urgent, total computed before saving', async () => {
  await signInWith('rep1', 'demo')
  await page.locator('[data-nav]').waitFor()
  await page.goto(`${BASE}/#/${BUILT}`)
  await answerTo('GET', `/forms/request/records`, () => page.click('[data-nav] [data-nav-form="request"]'))
  await page.click('[data-new]')
  // The layout designed: the tabs main (first, shown) and details.
  await page.locator('[data-record-tabs] [data-record-tab="details"]').waitFor()
  const shownTabs = await page.locator('[data-record-tabs] [data-record-tab]').evaluateAll((els) => els.map((e) => e.dataset.recordTab))
  check(shownTabs.join() === 'main,details', `the record page shows the tabs ${shownTabs}`)
  check((await page.locator('[data-record-section="0"]').getAttribute('data-columns')) === '2', 'the section Request is not in 2 columns')
  await page.locator('[data-field="title"] input').fill(`Laptop ${stamp}`)
  check((await page.locator('[data-field="reason"]').count()) === 0, 'reason shows before urgent is ticked')
  await page.click('[data-record-tab="details"]')
  await page.click('[data-field="urgent"] .el-switch')
  await page.locator('[data-field="reason"] input').fill('The old one broke')
  await page.click('[data-record-tab="main"]')
  await page.locator('[data-field="qty"] input').fill('2')
  await page.locator('[data-field="unit_price"] input').fill('1200')
  await page.locator('[data-field="title"] input').click()
  await eventually(async () => /2,?400/.test(await page.locator('[data-field="total"]').innerText()),
    async () => `total shows "${await page.locator('[data-field="total"]').innerText()}"`)
  const response = await answerTo('POST', `/forms/request/records`, () => page.click('[data-save]'))
  check(response.status() === 201, `POST answered ${response.status()}: ${await response.text()}`)
  const made = await response.json()
  check((made.data ?? made).total === 2400 && (made.data ?? made).reason, `the record saved is ${JSON.stringify(made)}`)
})

// ---- Publishing with impact analysis, and the release history (issue 21): the exported app is
// checked by the command line; a required field added to the CRM's account is published only
// once the admin gave the accounts stored a default, and the release history shows it.
const { spawnSync } = await import('node:child_process')
const { writeFileSync } = await import('node:fs')

/** `GET path` of the API in the page, as the signed-in user: `{status, json?, bytes?, text?}`. */
function apiGet(path, { binary = false } = {}) {
  return page.evaluate(async ({ url, binary }) => {
    const stored = JSON.parse(sessionStorage.getItem('tessera.session') ?? '{}')
    const headers = stored.token ? { Authorization: `Bearer ${stored.token}` } : {}
    const response = await fetch(url, { headers, credentials: 'same-origin' })
    if (!response.ok) return { status: response.status, text: await response.text() }
    if (binary) return { status: response.status, bytes: Array.from(new Uint8Array(await response.arrayBuffer())) }
    return { status: response.status, json: await response.json() }
  }, { url: `${BASE}${path}`, binary })
}

await step('the exported app passes tessera check', async () => {
  await signInWith('admin', 'demo')
  await page.locator('[data-nav] [data-nav-page="admin-builder"]').waitFor()
  const bundle = await apiGet(`/api/apps/${BUILT}/bundle`, { binary: true })
  check(bundle.status === 200, `GET bundle answered ${bundle.status}: ${bundle.text}`)
  const file = join(tmpdir(), `tessera-smoke-${stamp}-${BUILT}.tpl`)
  writeFileSync(file, Buffer.from(bundle.bytes))
  try {
    const run = spawnSync(process.env.TESSERA_BIN ?? 'target/debug/tessera', ['check', file], { encoding: 'utf8', timeout: 60_000 })
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? run.error.message : ''}`.trim()
    check(run.status === 0, `tessera check exited ${run.status}: ${output.slice(0, 400)}`)
    check(!/error|problem/i.test(output), `tessera check reported: ${output.slice(0, 400)}`)
  } finally {
    rmSync(file, { force: true })
  }
})

let accountSample


await step('a required vat_no on account: publish shows how many accounts would not validate; with a default it publishes', async () => {
  const counted = await apiGet(`/api/apps/${APP}/forms/account/records?limit=1&count=true`)
  const total = counted.json?.total
  check(counted.status === 200 && typeof total?.records === 'number' && !total.capped, `the account count answered ${JSON.stringify(total)}`)
  const accounts = total.records
  check(accounts > 0, 'the CRM has no accounts')
  await page.goto(`${BASE}/#/-/builder/${APP}/forms/account`)
  await page.locator('[data-palette] [data-palette-type="text"]').waitFor()
  await page.locator('[data-canvas-field="name"]').waitFor()
  await designField('text', 'vat_no', '税号', 'VAT number')
  await page.click('[data-prop-required]')
  const problems = await saveDesign()
  check(problems.length === 0, `the draft has problems: ${JSON.stringify(problems)}`)
  await page.click('[data-designer] h2 a')
  await page.locator('[data-builder-forms] [data-builder-form="account"]').waitFor()
  await page.locator('input[data-builder-publish-message]').fill(`VAT numbers (smoke ${stamp})`)
  // The publish button measures the impact first and publishes nothing.
  const publishes = []
  const onRequest = (r) => r.method() === 'POST' && r.url().includes(`/api/apps/${APP}/publish`) && publishes.push(r.url())
  page.on('request', onRequest)
  try {
    const measured = await measuredImpact(APP, () => page.click('[data-builder-publish-submit]'))
    const account = measured.impact.forms.find((f) => f.form === 'account')
    check(account?.invalid === accounts && account.records === accounts, `the impact on account is ${JSON.stringify(account)}, not ${accounts} of ${accounts}`)
    const shown = page.locator('[data-impact] [data-impact-form="account"]')
    await shown.waitFor()
    check((await shown.getAttribute('data-impact-invalid')) === String(accounts), `the panel counts ${await shown.getAttribute('data-impact-invalid')} invalid accounts, not ${accounts}`)
    const summary = await shown.locator('[data-impact-summary]').innerText()
    check(summary.includes(String(accounts)), `the panel says "${summary}"`)
    await shown.locator('[data-impact-field="vat_no"] [data-impact-sample]').first().waitFor()
    accountSample = await shown.locator('[data-impact-field="vat_no"] [data-impact-sample]').first().getAttribute('data-impact-sample')
    check(await page.locator('[data-impact-publish]').isDisabled(), 'Publish is enabled while accounts would not validate')
    check(publishes.length === 0, `the draft was published before the impact was dealt with: ${publishes.join(', ')}`)
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'publish-impact.png'), fullPage: true })
    const again = await measuredImpact(APP, () => shown.locator('input[data-impact-default="vat_no"]').fill('unknown'))
    const sent = again.request.postDataJSON().migrations
    check(JSON.stringify(sent) === JSON.stringify([{ op: 'default', form: 'account', field: 'vat_no', value: 'unknown' }]), `the impact was measured with ${JSON.stringify(sent)}`)
    check(again.impact.forms.every((f) => f.invalid === 0), `records would still not validate: ${JSON.stringify(again.impact)}`)
  } finally {
    page.off('request', onRequest)
  }
  await eventually(async () => !(await page.locator('[data-impact-publish]').isDisabled()), 'Publish stays disabled after the default')
  const response = await answerTo('POST', `/api/apps/${APP}/publish`, () => page.click('[data-impact-publish]'))
  check(response.status() === 201, `publish answered ${response.status()}: ${await response.text()}`)
  const body = response.request().postDataJSON()
  check(body.migrations?.[0]?.value === 'unknown' && body.message === `VAT numbers (smoke ${stamp})`, `publish sent ${JSON.stringify(body)}`)
  await page.locator('[data-builder-published]').waitFor()
  // An account stored before the release now holds the default.
  await page.goto(`${BASE}/#/${APP}/account/${accountSample}`)
  const field = page.locator('[data-field="vat_no"]')
  await field.waitFor()
  const value = async () => ((await field.locator('input').count()) ? field.locator('input').inputValue() : field.innerText())
  await eventually(async () => (await value()).includes('unknown'), async () => `the account's vat_no shows "${await value()}"`)
  // Its history tells the migration, and that the form version it was checked against changed.
  await page.click('#tab-history')
  const newest = page.locator('[data-history-item]').first()
  await newest.locator('[data-form-version]').waitFor()
  const told = await newest.innerText()
  check(/Migrated|迁移/.test(told), `the account's newest version says "${told}"`)
})

await step('the release history shows the new release and its diff names vat_no', async () => {
  await answerTo('GET', `/api/apps/${APP}/releases`, () => page.goto(`${BASE}/#/-/builder/${APP}`))
  const newest = page.locator('[data-releases] [data-release]').first()
  await newest.waitFor()
  const release = await newest.getAttribute('data-release')
  const message = await page.locator(`[data-releases] [data-release-message="${release}"]`).innerText()
  check(message.includes(`smoke ${stamp}`), `the newest release #${release} says "${message}"`)
  const added = page.locator('[data-releases] [data-diff-file="forms/account.json"] [data-diff-field="vat_no"]')
  await added.waitFor()
  check((await added.getAttribute('data-diff-mark')) === 'added', `vat_no is marked ${await added.getAttribute('data-diff-mark')}`)
  check((await added.innerText()).includes('vat_no'), `the diff row says "${await added.innerText()}"`)
  if (SHOTS) await page.screenshot({ path: join(SHOTS, 'releases.png'), fullPage: true })
})

await finish()
