// The CRM's acceptance test in the browser, one lead's whole way: a visitor sends the public
// contact-us web form (from a campaign's link) naming the company of one of rep1's accounts;
// rep1 finds the lead in the pool, claims it, follows the lead flow (contact → qualify →
// convert: the account of that name is reused, not made again), drags the new deal across the
// opportunity board to won, finds it and the new contact in the account's related lists, and
// sees the stalled-deal reminder of the nightly run on the notification bell. Then a sales manager assigns a pool lead to
// rep2 from its record page, and a web form with a wrong e-mail address is refused at the field.
// Marketing saves a filter of the contact list as a segment, which a rep then applies to the
// contacts they may see. Each outcome is checked through the API too.
//
//   npm ci --prefix tests/browser          # once: installs playwright-core
//   TESSERA_URL=http://127.0.0.1:8080 node tests/browser/crm.mjs
//
// TESSERA_URL is a server started with `tessera serve --demo` on a fresh database (the test
// changes its data; the web form admits 10 submissions per address in 15 minutes and this test
// sends 3). Optional: TESSERA_SCREENSHOTS=<dir> saves a screenshot after every step
// (`crm-NN.png`) and descriptive ones (`crm-01-web-form.png` …) for the documentation;
// CHROMIUM=<path> overrides /usr/bin/chromium. Prints one line per step and finally
// `browser: N passed, M failed`; exits non-zero on any failure.
import { join } from 'node:path'
import { BASE, SHOTS, apiCall, check, choose, dragByMouse, eventually, finish, page, signIn, signOut, step } from './harness.mjs'

const APP = 'crm'
const stamp = Date.now().toString(36)
const records = (form) => `/api/apps/${APP}/forms/${form}/records`
const VISITOR = `周晓岚 ${stamp}`

/** A descriptive screenshot for the documentation (the harness numbers its own). */
async function shot(name, { full = true } = {}) {
  if (!SHOTS) return
  await page.waitForTimeout(400) // animations settle
  await page.screenshot({ path: join(SHOTS, `crm-${name}.png`), fullPage: full })
}

async function get(form, id) {
  const { status, body } = await apiCall('GET', `${records(form)}/${id}`)
  check(status === 200, `GET ${form} ${id} answered ${status}`)
  return body
}

async function list(form, filter, limit = 100) {
  const q = new URLSearchParams({ filter: JSON.stringify(filter), limit: String(limit), count: 'true' })
  const { status, body } = await apiCall('GET', `${records(form)}?${q}`)
  check(status === 200, `listing ${form} answered ${status}: ${JSON.stringify(body)}`)
  return body
}


/** Types into the input of field `id` on a record page or the web form. */
async function fillField(id, value) {
  const input = page.locator(`[data-field="${id}"] input, [data-field="${id}"] textarea`).first()
  await input.fill(value)
}

/** Takes a flow action from the record page's flow panel and waits for the new state. */
async function act(action, state) {
  await page.locator(`[data-flow-action="${action}"]`).click()
  const asked = page.locator('[data-flow-dialog]:visible')
  if (await asked.waitFor({ timeout: 1000 }).then(() => true, () => false)) await asked.locator('[data-flow-confirm]').click()
  await eventually(
    async () => (await page.locator('[data-flow-state]').getAttribute('data-state')) === state,
    async () => `the record is ${await page.locator('[data-flow-state]').getAttribute('data-state')}, not ${state} after ${action}`,
  )
}

// --- the opportunity board (see board.mjs) ---
const card = (id) => page.locator(`[data-board-card][data-id="${id}"]`)
const column = (state) => page.locator(`[data-board-column="${state}"]`)
const columnOfCard = (id) => card(id).evaluate((el) => el.closest('[data-board-column]')?.dataset.boardColumn ?? null)
async function confirmIfAsked(action) {
  const dialog = page.locator('[data-board-choose]:visible')
  if (!(await dialog.waitFor({ timeout: 2500 }).then(() => true, () => false))) return
  await page.waitForTimeout(300)
  const option = dialog.locator(`[data-board-choose-option="${action}"]`)
  if (await option.count()) await option.click()
  await dialog.locator('[data-board-choose-confirm]').click()
  await dialog.waitFor({ state: 'hidden' })
}

let campaign = null // a demo campaign: the web form's link carries its id
let account = null // one of rep1's demo accounts: the visitor's company
let lead = null
let opportunity = null

await step('a visitor opens the public contact-us form from a campaign link', async () => {
  await signIn('admin')
  const campaigns = await list('campaign', {}, 5)
  check(campaigns.items.length > 0, 'the demo has no campaign')
  campaign = campaigns.items[0]
  // One of rep1's accounts whose name no other account has: conversion must reuse it.
  const mine = await list('account', { owner: 'rep1' }, 100)
  for (const a of mine.items) {
    const same = await list('account', { name: a.data.name }, 5)
    if (same.items.length === 1) {
      account = a
      break
    }
  }
  check(account, 'rep1 has no account with a name of its own')
  // Admins find the public link on the list page of a form with a web form.
  await page.goto(`${BASE}/#/${APP}/lead`)
  await page.locator('[data-web-form-button]').click()
  await page.locator('[data-web-form-copy]:visible').waitFor()
  await shot('00-web-form-link', { full: false })
  await page.keyboard.press('Escape')
  await signOut()
  await page.goto(`${BASE}/#/-/web/${APP}/lead?campaign=${campaign.id}`)
  await page.locator('[data-web-form-send]').waitFor()
  check((await page.locator('[data-nav]').count()) === 0, 'the public page shows the app shell')
  const title = (await page.locator('[data-web-form-title]').textContent()).trim()
  check(title === '联系我们的销售团队', `the web form is titled ${title}`)
  check((await page.locator('[data-web-form-app]').textContent()).includes('客户关系管理'), 'the page does not name the app')
  for (const id of ['name', 'company', 'title', 'phone', 'email', 'region', 'industry', 'notes']) {
    check((await page.locator(`[data-field="${id}"]`).count()) === 1, `the web form has no ${id} field`)
  }
  check((await page.locator('[data-field="campaign"]').count()) === 0, 'the hidden campaign field is shown')
  // The honeypot is there for bots, out of people's sight and tab order.
  const trap = page.locator('[data-web-form-trap]')
  check((await trap.getAttribute('tabindex')) === '-1', 'the honeypot is in the tab order')
  check(!(await trap.isVisible()) || (await trap.boundingBox()).x < 0, 'the honeypot is visible')
  check((await page.locator('[aria-hidden="true"] [data-web-form-trap]').count()) === 1, 'the honeypot is not aria-hidden')
  await shot('01-web-form')
})

await step('a wrong e-mail address is refused at its field', async () => {
  await fillField('name', VISITOR)
  await fillField('email', 'zhou.xiaolan@')
  await page.click('[data-web-form-send]')
  await page.locator('[data-field="email"].is-error').waitFor()
  const message = await page.locator('[data-field="email"] .el-form-item__error').textContent()
  check(message.trim().length > 0, 'the e-mail field shows no error')
  check((await page.locator('[data-web-form-thanks]').count()) === 0, 'the wrong form was thanked')
  await shot('02-web-form-error')
})

await step('the visitor sends the form and is thanked', async () => {
  await fillField('company', account.data.name)
  await fillField('title', '采购经理')
  await fillField('phone', '13912345678')
  await fillField('email', `zhou.${stamp}@example.com`)
  await fillField('notes', '我们计划下季度升级 CRM 系统，希望了解报价。')
  await page.click('[data-web-form-send]')
  await page.locator('[data-web-form-thanks]').waitFor()
  const thanks = await page.locator('[data-web-form-thanks-text]').textContent()
  check(thanks.includes('感谢您的留言'), `the thanks say ${thanks}`)
  await shot('03-web-form-thanks')
})

await step('the web form works at phone width, in English too', async () => {
  await page.setViewportSize({ width: 390, height: 844 })
  await page.click('[data-web-form-again]')
  await page.locator('[data-web-form-send]').waitFor()
  await page.click('[data-language-switch]')
  await page.locator('.el-dropdown-menu__item:visible', { hasText: 'English' }).click()
  await eventually(async () => (await page.locator('[data-web-form-title]').textContent()).trim() === 'Contact our sales team', 'the title is not in English')
  const wide = await page.evaluate(() => document.documentElement.scrollWidth)
  check(wide <= 390, `the page is ${wide}px wide at phone width`)
  await shot('04-web-form-phone')
  // Back to Chinese, the demo's language, at desktop width.
  await page.click('[data-language-switch]')
  await page.locator('.el-dropdown-menu__item:visible', { hasText: '中文' }).click()
  await page.setViewportSize({ width: 1280, height: 860 })
})

await step('rep1 switches the leads to the pool and finds the new lead there', async () => {
  await signIn('rep1')
  const pooled = await list('lead', { owner: '', name: VISITOR })
  check(pooled.items.length === 1, `${pooled.items.length} pool leads named ${VISITOR}`)
  lead = pooled.items[0]
  check(lead.data.campaign === campaign.id, `the lead's campaign is ${lead.data.campaign}, not the link's ${campaign.id}`)
  check(lead.data.source === 'web', `the lead's source is ${lead.data.source}`)
  await page.goto(`${BASE}/#/${APP}/lead`)
  await page.locator('[data-list]').waitFor()
  check((await page.locator('[data-web-form-button]').count()) === 0, 'a sales rep is offered the web form link')
  await page.locator('[data-pool-pool]').click()
  await eventually(() => page.url().includes('owner=pool'), 'the URL does not say owner=pool')
  await eventually(async () => (await page.locator(`[data-list] tbody tr`).count()) > 0, 'the pool lists nothing')
  const owners = await page.locator('[data-list] tbody tr td:nth-last-child(2)').allTextContents()
  check(owners.every((o) => o.trim() === '公海池'), `the pool lists owners ${[...new Set(owners)].join(', ')}`)
  await page.locator('input[data-search], [data-search] input').first().fill(stamp)
  await eventually(async () => (await page.locator('[data-list] tbody tr').count()) === 1, 'the search does not narrow the pool to the lead')
  await shot('05-lead-pool')
})

await step('rep1 opens the pool lead and claims it', async () => {
  await page.locator('[data-list] tbody tr', { hasText: VISITOR }).click()
  await page.locator('[data-pool-claim]').waitFor()
  check((await page.locator('[data-pool-tag]').textContent()).trim() === '公海池', 'the record does not say it is in the pool')
  await shot('06-lead-in-pool')
  await page.click('[data-pool-claim]')
  await eventually(async () => (await page.locator('[data-record-owner]').textContent()).includes('rep1'), 'the page does not show rep1 as the owner')
  check((await page.locator('[data-pool-claim]').count()) === 0, 'Claim is still offered')
  await page.locator('[data-pool-return]').waitFor()
  const now = await get('lead', lead.id)
  check(now.owner === 'rep1', `the lead's owner is "${now.owner}"`)
  await shot('07-lead-claimed')
})

await step('rep1 contacts, qualifies and converts the lead into the existing account', async () => {
  await act('contact', 'contacted')
  await act('qualify', 'qualified')
  await shot('08-lead-qualified')
  await act('convert', 'converted')
  lead = await get('lead', lead.id)
  check(lead.data.status === 'converted', `the lead is ${lead.data.status}`)
  check(lead.data.converted_account === account.id, `the lead was converted into account ${lead.data.converted_account}, not ${account.id}`)
  const same = await list('account', { name: account.data.name }, 5)
  check(same.items.length === 1, `${same.items.length} accounts are named ${account.data.name}`)
  opportunity = await get('opportunity', lead.data.converted_opportunity)
  check(opportunity.data.account === account.id, `the opportunity is of account ${opportunity.data.account}`)
  check(opportunity.data.lead === lead.id && opportunity.data.campaign === campaign.id, 'the opportunity does not name its lead and campaign')
  await shot('09-lead-converted')
})

await step('rep1 gives the new deal an amount and an expected close date', async () => {
  await page.goto(`${BASE}/#/${APP}/opportunity/${opportunity.id}`)
  await page.locator('[data-field="amount"] input').waitFor()
  await fillField('amount', '186000')
  const close = new Date(Date.now() + 30 * 86400e3).toISOString().slice(0, 10)
  const date = page.locator('[data-field="close_date"] input').first()
  await date.fill(close)
  await date.press('Enter')
  await page.locator('[data-record-title]').click() // the picker closes
  await page.click('[data-save]')
  await eventually(async () => (await get('opportunity', opportunity.id)).data.amount === 186000, 'the amount was not saved')
  opportunity = await get('opportunity', opportunity.id)
  check(opportunity.data.close_date === close, `the close date is ${opportunity.data.close_date}, not ${close}`)
})

await step('rep1 drags the deal across the opportunity board to won', async () => {
  await page.goto(`${BASE}/#/${APP}/opportunity?view=board&q=${encodeURIComponent(opportunity.data.name)}`)
  await page.locator('[data-board]').waitFor()
  const stages = [
    ['needs_analysis', 'analyse'],
    ['proposal', 'propose'],
    ['negotiation', 'negotiate'],
    ['won', 'win'],
  ]
  await eventually(async () => (await card(opportunity.id).count()) === 1, 'the deal is not on the board')
  await shot('10-board-before')
  for (const [state, action] of stages) {
    // A column that finishes loading under the mouse would drop the drag.
    await eventually(async () => (await page.locator('[data-board][aria-busy="false"]').count()) === 1, 'the board is still loading')
    await dragByMouse(card(opportunity.id), column(state).locator('[data-board-list]'))
    await confirmIfAsked(action)
    const asked = page.locator('[data-flow-dialog]:visible')
    if (await asked.count()) {
      await asked.locator('[data-flow-comment] textarea').fill('Signed')
      await asked.locator('[data-flow-confirm]').click()
    }
    await eventually(async () => (await get('opportunity', opportunity.id)).data.stage === state, `the deal is not in ${state} after the drop`)
    await eventually(
      async () => (await card(opportunity.id).count()) === 1 && (await columnOfCard(opportunity.id)) === state,
      `the card is not shown in ${state}`,
    )
  }
  opportunity = await get('opportunity', opportunity.id)
  check(opportunity.data.stage === 'won', `the deal is ${opportunity.data.stage}`)
  await shot('11-board-won')
})

await step("the account's related lists show the deal won and the new contact", async () => {
  await page.goto(`${BASE}/#/${APP}/account/${account.id}`)
  await page.locator('[data-related]').waitFor()
  const deals = page.locator('[data-related-form="opportunity"]')
  await deals.locator(`[data-related-row="${opportunity.id}"]`).waitFor()
  const row = deals.locator('tr', { has: page.locator(`[data-related-row="${opportunity.id}"]`) })
  check((await row.textContent()).includes('赢单'), `the deal's row says ${await row.textContent()}`)
  const total = (await list('opportunity', { account: account.id }, 1)).total.records
  check((await deals.locator('[data-related-count]').textContent()).trim() === total.toLocaleString('en-US'), 'the deals count differs from the API')
  const contacts = page.locator('[data-related-form="contact"]')
  await contacts.locator(`[data-related-row="${opportunity.data.contact}"]`).waitFor()
  check((await contacts.textContent()).includes(VISITOR), 'the contact list does not name the visitor')
  await page.locator('[data-related]').scrollIntoViewIfNeeded()
  await shot('12-account-related')
  // "View all" lists the same records on the list page.
  await deals.locator('[data-related-all]').click()
  await page.locator('[data-related-chip]').waitFor()
  await eventually(async () => (await page.locator('[data-count]').textContent()).includes(String(total)), 'the list does not count the related deals')
  await shot('13-related-view-all')
})

await step("a related list's New starts a record linked to the account", async () => {
  await page.goto(`${BASE}/#/${APP}/account/${account.id}`)
  await page.locator('[data-related-form="contact"] [data-related-new]').click()
  await eventually(() => page.url().includes(`/contact/new?account=${account.id}`), () => `New opened ${page.url()}`)
  await page.locator('[data-field="account"]').waitFor()
  await eventually(async () => (await page.locator('[data-field="account"]').textContent()).includes(account.data.name), 'the account is not filled in')
})

await step("the nightly stalled-deal run reminds rep1, whose bell shows it", async () => {
  // An admin runs the nightly schedule now (the demo's deals are up to three weeks old).
  await signIn('admin')
  const ran = await apiCall('POST', `/api/apps/${APP}/schedules/stalled_deals/run`)
  check(ran.status === 200 && ran.body.ran === 'stalled_deals', `the schedule answered ${ran.status}`)
  await signIn('rep1')
  const inbox = (await apiCall('GET', '/api/notifications?limit=20')).body
  const reminder = inbox.items.find((n) => n.message.text.includes('14 天无进展'))
  check(reminder, 'rep1 has no stalled-deal reminder')
  await page.goto(`${BASE}/#/${APP}`)
  await page.locator('[data-bell]').waitFor()
  await page.click('[data-bell]')
  const item = page.locator(`[data-notification="${reminder.id}"]`)
  await item.waitFor()
  check((await item.textContent()).includes(reminder.message.text), `the reminder says ${await item.textContent()}`)
  await shot('14-bell-reminder', { full: false })
})

let poolLead = null
await step('manager1 assigns a pool lead to rep2 from its record page', async () => {
  await signIn('manager1')
  // Another visitor's submission: web leads land in the pool.
  const name = `池中线索 ${stamp}`
  const sent = await page.evaluate(
    async ({ path, name }) => {
      const body = JSON.stringify({ data: { name, company: 'Pool Co', phone: '13800001111' }, trap: '' })
      const response = await fetch(path, { method: 'POST', credentials: 'omit', headers: { 'Content-Type': 'application/json' }, body })
      return response.status
    },
    { path: `/api/public/apps/${APP}/forms/lead`, name },
  )
  check(sent === 201, `the web form answered ${sent}`)
  const created = { body: (await list('lead', { owner: '', name })).items[0] }
  check(created.body, 'the second web lead is not in the pool')
  poolLead = await get('lead', created.body.id)
  check(poolLead.owner === '', `the lead's owner is "${poolLead.owner}"`)
  await page.goto(`${BASE}/#/${APP}/lead/${poolLead.id}`)
  await page.locator('[data-pool-assign]').click()
  const dialog = page.locator('[data-pool-assign-dialog]:visible')
  await dialog.waitFor()
  await dialog.locator('.el-select').click()
  await page.locator('[data-user-option="rep2"]:visible').click()
  await shot('15-assign-dialog', { full: false })
  await dialog.locator('[data-pool-assign-confirm]').click()
  await eventually(async () => (await page.locator('[data-record-owner]').textContent()).includes('rep2'), 'the page does not show rep2 as the owner')
  check((await get('lead', poolLead.id)).owner === 'rep2', 'the lead is not rep2s')
  await shot('16-lead-assigned')
})

// --- saved filters: the decision makers among the contacts, kept as a segment ---
const DECISION_MAKERS = { is_decision_maker: { eq: true } }
const SEGMENT = `关键决策人 ${stamp}`
let segment = null

/** The number of records the list says match (its footer's last number). */
async function listedTotal() {
  const text = await page.locator('[data-count]').textContent()
  return Number(/([\d,]+)\D*$/.exec(text)?.[1].replace(/,/g, '') ?? NaN)
}

/** The list shows what the API lists for `filter` as the user signed in: as many, and only those. */
async function listShows(filter) {
  const expected = await list('contact', filter, 500)
  check(expected.items.length > 0, `no contact matches ${JSON.stringify(filter)}`)
  await eventually(
    async () => (await listedTotal()) === expected.total.records,
    async () => `the list counts ${await listedTotal()} contacts, the API ${expected.total.records}`,
  )
  const names = new Set(expected.items.map((c) => c.data.name))
  const shown = await page.locator('[data-list] tbody [data-col="name"]').allTextContents()
  check(shown.length > 0 && shown.every((n) => names.has(n.trim())), `the list shows contacts the filter does not match: ${shown.filter((n) => !names.has(n.trim())).join(', ')}`)
}

await step('marketing1 filters the contacts to decision makers and saves that as a segment', async () => {
  await signIn('marketing1')
  await page.goto(`${BASE}/#/${APP}/contact`)
  await page.locator('[data-list]').waitFor()
  check((await page.locator('[data-save-segment]').count()) === 0, 'Save as segment is offered without conditions')
  await page.click('[data-filter-toggle]')
  const row = page.locator('[data-filter-row]').first()
  await choose(row.locator('[data-filter-field]'), '[data-filter-field-option="is_decision_maker"]', '关键决策人')
  await row.locator('[data-filter-value] .el-switch').click()
  await page.click('[data-filter-apply]')
  await eventually(() => decodeURIComponent(page.url()).includes('"is_decision_maker"'), 'the URL does not keep the condition')
  await listShows(DECISION_MAKERS)
  await page.click('[data-save-segment]')
  const prompt = page.locator('.saved-filter-prompt:visible')
  await prompt.locator('input').fill(SEGMENT)
  await prompt.locator('.el-button--primary').click()
  await eventually(() => page.url().includes('saved=segment%2F') || page.url().includes('saved=segment/'), () => `the list does not apply the new segment: ${page.url()}`)
  const saved = await list('segment', { name: SEGMENT })
  check(saved.items.length === 1, `${saved.items.length} segments are named ${SEGMENT}`)
  segment = saved.items[0]
  check(JSON.stringify(segment.data.criteria) === JSON.stringify(DECISION_MAKERS), `the segment's criteria are ${JSON.stringify(segment.data.criteria)}`)
  check(page.url().includes(segment.id), 'the list applies another segment')
  check((await page.locator('[data-saved-filter-chip]').textContent()).includes(SEGMENT), 'the list does not name the segment applied')
  // The segment stands for the conditions now: they are not applied twice.
  check(!decodeURIComponent(page.url()).includes('where='), 'the conditions stay beside the segment')
  await listShows(DECISION_MAKERS)
  await shot('17-segment-saved')
})

await step('rep1 applies the saved segment to the contacts they may see, and opens it from its record', async () => {
  await signIn('rep1')
  await page.goto(`${BASE}/#/${APP}/contact`)
  await page.locator('[data-list]').waitFor()
  check((await page.locator('[data-save-segment]').count()) === 0, 'a rep is offered to save segments')
  await choose(page.locator('[data-saved-filter]'), `[data-saved-filter-option="segment/${segment.id}"]`, SEGMENT)
  await eventually(() => page.url().includes(segment.id), () => `choosing the segment opened ${page.url()}`)
  await page.locator('[data-saved-filter-chip]').waitFor()
  // As rep1's own list with the same filter: only their decision makers.
  await listShows(DECISION_MAKERS)
  await shot('18-segment-applied')
  // A reload keeps the segment applied.
  await page.reload()
  await page.locator('[data-saved-filter-chip]').waitFor()
  await listShows(DECISION_MAKERS)
  // The segment's record says its conditions and opens the list with them applied.
  await page.goto(`${BASE}/#/${APP}/segment/${segment.id}`)
  const criteria = page.locator('[data-field="criteria"]')
  await eventually(async () => (await criteria.textContent()).includes('关键决策人 等于 是'), async () => `the criteria read ${await criteria.textContent()}`)
  await page.click('[data-saved-filter-open]')
  await eventually(() => page.url().includes(`/contact?`) && page.url().includes(segment.id), () => `Open list opened ${page.url()}`)
  await page.locator('[data-saved-filter-chip]').waitFor()
  await listShows(DECISION_MAKERS)
})

await finish()
