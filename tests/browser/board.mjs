// Browser test of the board (kanban) view of a list: a sales rep opens the opportunities as a
// board — one column per state of the CRM's opportunity flow, in the flow's order — and drags
// cards with the mouse: one stage on (the flow's action is taken), onto a stage no action of
// theirs leads to from where the card is (refused, the card goes back, the record unchanged),
// onto a stage whose action needs a field the deal leaves empty (the board asks the amount a
// proposal needs: cancelled, the record is unchanged; filled in, it is saved and the deal
// moves), and onto 赢单/Won (the `win` action). Each outcome is checked
// through the API with rep1's own session. Then a card's menu (the keyboard's way to move one),
// the board at phone width, and a select field's board (no flow: the drop saves the field).
//
//   npm ci --prefix tests/browser          # once: installs playwright-core
//   TESSERA_URL=http://127.0.0.1:8080 node tests/browser/board.mjs
//
// TESSERA_URL is a server started with `tessera serve --demo`. The test makes its own account
// and deals (named after a stamp) and narrows the board to them with the list's search box, so
// the demo's records never get in the way. Optional: TESSERA_SCREENSHOTS=<dir> saves a
// screenshot after every step; CHROMIUM=<path> overrides /usr/bin/chromium. Prints one line per
// step and finally `browser: N passed, M failed`; exits non-zero on any failure.
import { join } from 'node:path'
import { BASE, SHOTS, apiCall, check, dragByMouse, eventually, finish, page, signIn, step } from './harness.mjs'

const APP = 'crm'
const FORM = 'opportunity'
const stamp = Date.now().toString(36)
const RECORDS = `/api/apps/${APP}/forms/${FORM}/records`

const column = (state) => page.locator(`[data-board-column="${state}"]`)
const card = (id) => page.locator(`[data-board-card][data-id="${id}"]`)
const columnOfCard = (id) => card(id).evaluate((el) => el.closest('[data-board-column]')?.dataset.boardColumn ?? null)

async function record(id) {
  const { status, body } = await apiCall('GET', `${RECORDS}/${id}`)
  check(status === 200, `GET the deal answered ${status}`)
  return body
}

async function createDeal(name, data) {
  const { status, body } = await apiCall('POST', RECORDS, { data: { name: `${name} ${stamp}`, account, ...data } })
  check(status === 201, `creating ${name} answered ${status}: ${JSON.stringify(body)}`)
  return body
}

/** Waits for the board's columns to have loaded, the card `id` shown in column `state`. */
async function expectCardIn(id, state) {
  await eventually(
    async () => (await card(id).count()) === 1 && (await columnOfCard(id)) === state,
    async () => `the card is in column ${(await card(id).count()) ? await columnOfCard(id) : 'none'}, not ${state}`,
  )
}

/** Confirms the board's "which action" dialog when it opens (it does when the board is unsure). */
async function confirmIfAsked(action) {
  const dialog = page.locator('[data-board-choose]:visible')
  const asked = await dialog.waitFor({ timeout: 3000 }).then(
    () => true,
    () => false,
  )
  if (asked) {
    await page.waitForTimeout(300) // the dialog fades in
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `board-dialog-${action}.png`) })
    if (action) {
      const option = dialog.locator(`[data-board-choose-option="${action}"]`)
      check((await option.count()) === 1, `the dialog does not offer ${action}`)
      await option.click()
    }
    await dialog.locator('[data-board-choose-confirm]').click()
    await dialog.waitFor({ state: 'hidden' })
  }
}

/** A definition's label in every language. */
const labelsOf = (item) => (typeof item?.label === 'string' ? [item.label] : Object.values(item?.label ?? {}))

let flow = null // the form's flow as the app view gives it
let account = ''
const deals = {}

await step('rep1 switches the opportunity list to the board: one column per flow state, in order', async () => {
  await signIn('rep1')
  const app = await apiCall('GET', `/api/apps/${APP}`)
  check(app.status === 200, `GET the app answered ${app.status}`)
  flow = app.body.forms[FORM].flow
  check(flow?.states?.length > 2, 'the opportunity form has no flow in the app view')
  const acc = await apiCall('POST', `/api/apps/${APP}/forms/account/records`, { data: { name: `Board account ${stamp}` } })
  check(acc.status === 201, `creating the account answered ${acc.status}: ${JSON.stringify(acc.body)}`)
  account = acc.body.id
  deals.next = await createDeal('Board next', { amount: 80000 })
  deals.skip = await createDeal('Board skip', { amount: 50000 })
  deals.guard = await createDeal('Board guard', {})
  deals.win = await createDeal('Board win', { amount: 230000 })
  const proposed = await apiCall('POST', `${RECORDS}/${deals.win.id}/actions/propose`, {})
  check(proposed.status === 200, `propose answered ${proposed.status}`)
  deals.win = proposed.body.record

  await page.goto(`${BASE}/#/${APP}/${FORM}?q=${stamp}`)
  await page.locator('[data-list]').waitFor()
  await page.locator('[data-view-board]').click()
  await page.locator('[data-board]').waitFor()
  await eventually(async () => new URL(page.url().replace('#/', '')).searchParams.get('view') === 'board', 'the URL does not say view=board')
  const shown = await page.locator('[data-board-column]').evaluateAll((els) => els.map((e) => e.dataset.boardColumn))
  const states = flow.states.map((s) => s.id)
  check(JSON.stringify(shown) === JSON.stringify(states), `the columns are ${shown.join(', ')}, not the flow's ${states.join(', ')}`)
  const names = await page.locator('[data-board-column-name]').allTextContents()
  const labels = flow.states.map(labelsOf)
  check(names.every((n, i) => labels[i].includes(n.trim())), `the column names ${names.join(', ')} are not the states' labels`)
  await expectCardIn(deals.next.id, 'initial_contact')
  await expectCardIn(deals.win.id, 'proposal')
  // The search narrows every column: only this run's four deals are on the board.
  await eventually(async () => (await page.locator('[data-board-card]').count()) === 4, async () => `${await page.locator('[data-board-card]').count()} cards shown, not 4`)
  const counts = await page.locator('[data-board-column="initial_contact"] [data-board-count]').textContent()
  check(counts.trim() === '3', `the first column counts ${counts}, not 3`)
  check((await column('initial_contact').locator('[data-board-sum]').textContent()).includes('130,000'), 'the first column does not add up its amounts')
  // A card is also a link to its record.
  const href = await card(deals.next.id).locator('[data-board-card-link]').getAttribute('href')
  check(href?.includes(deals.next.id), `the card links to ${href}`)
})

await step('a shared board link opens the board again', async () => {
  const url = page.url()
  await page.goto(`${BASE}/#/${APP}`)
  await page.goto(url)
  await page.locator('[data-board]').waitFor()
  await expectCardIn(deals.next.id, 'initial_contact')
})

await step('dragging a deal to the next stage takes the flow action that leads there', async () => {
  await dragByMouse(card(deals.next.id), column('needs_analysis').locator('[data-board-list]'))
  await confirmIfAsked('analyse')
  await eventually(async () => (await record(deals.next.id)).data.stage === 'needs_analysis', 'the deal is not in needs analysis after the drop')
  await expectCardIn(deals.next.id, 'needs_analysis')
  const log = (await apiCall('GET', `${RECORDS}/${deals.next.id}/actions`)).body.log
  check(log.some((e) => e.action === 'analyse'), 'the flow log has no `analyse`')
})

await step('a drop onto a stage no action leads to is refused, the card goes back, the record unchanged', async () => {
  const before = await record(deals.skip.id)
  await dragByMouse(card(deals.skip.id), column('won').locator('[data-board-list]'))
  await page.locator('.board-message--refused').waitFor()
  check((await page.locator('[data-board-choose]:visible').count()) === 0, 'the board asked which action to take')
  await expectCardIn(deals.skip.id, 'initial_contact')
  const after = await record(deals.skip.id)
  check(after.data.stage === 'initial_contact' && after.version === before.version, `the deal changed: ${after.data.stage} v${after.version}`)
  await page.locator('.board-message--refused .el-message__closeBtn').click()
})

await step('a drop onto a stage whose action needs an empty field asks for it: cancelled, nothing changes; filled in, the deal moves', async () => {
  const before = await record(deals.guard.id)
  const dialog = page.locator('[data-required-dialog]:visible')
  const amount = dialog.locator('[data-required-field="amount"]')
  // The proposal needs an amount, which this deal lacks: the board asks it before the action.
  await dragByMouse(card(deals.guard.id), column('proposal').locator('[data-board-list]'))
  await confirmIfAsked('propose')
  await dialog.waitFor()
  check((await dialog.locator('[data-required-field]').count()) === 1 && (await amount.count()) === 1, 'the dialog does not ask just the amount')
  check(await dialog.locator('[data-required-confirm]').isDisabled(), 'the dialog may be confirmed with the amount empty')
  await dialog.locator('[data-required-cancel]').click()
  await dialog.waitFor({ state: 'hidden' })
  await expectCardIn(deals.guard.id, 'initial_contact')
  const after = await record(deals.guard.id)
  check(after.data.stage === 'initial_contact' && after.version === before.version, `cancelling changed the deal: ${after.data.stage} v${after.version}`)

  await dragByMouse(card(deals.guard.id), column('proposal').locator('[data-board-list]'))
  await confirmIfAsked('propose')
  await dialog.waitFor()
  await amount.locator('input').fill('88000')
  await amount.locator('input').press('Tab') // the number input takes its value on change
  await eventually(async () => !(await dialog.locator('[data-required-confirm]').isDisabled()), 'the dialog cannot be confirmed with the amount filled in')
  if (SHOTS) await page.screenshot({ path: join(SHOTS, 'board-required-amount.png') })
  await dialog.locator('[data-required-confirm]').click()
  await dialog.waitFor({ state: 'hidden' })
  await eventually(async () => (await record(deals.guard.id)).data.stage === 'proposal', 'the deal is not in proposal after the amount was given')
  const moved = await record(deals.guard.id)
  check(moved.data.amount === 88000, `the deal's amount is ${moved.data.amount}, not 88000`)
  await expectCardIn(deals.guard.id, 'proposal')
})

await step('dragging a deal in proposal onto the won column wins it', async () => {
  await dragByMouse(card(deals.win.id), column('won').locator('[data-board-list]'))
  await confirmIfAsked('win')
  // An action asking for a comment opens the action dialog: fill it in.
  const asked = page.locator('[data-flow-dialog]:visible')
  if (await asked.count()) {
    await asked.locator('[data-flow-comment] textarea').fill('Signed')
    await asked.locator('[data-flow-confirm]').click()
  }
  await eventually(async () => (await record(deals.win.id)).data.stage === 'won', 'the deal is not won after the drop')
  await expectCardIn(deals.win.id, 'won')
  const sum = await column('won').locator('[data-board-sum]').textContent()
  check(sum.includes('230,000'), `the won column adds up to ${sum}`)
})

await step("a card's menu moves it too, from the keyboard", async () => {
  const menu = card(deals.next.id).locator('[data-board-move]')
  await menu.focus()
  await page.keyboard.press('Enter')
  await page.locator('[data-board-move-to="proposal"]:visible').click()
  await confirmIfAsked('propose')
  await eventually(async () => (await record(deals.next.id)).data.stage === 'proposal', 'the deal is not in proposal after the move')
  await expectCardIn(deals.next.id, 'proposal')
})

await step('at phone width the columns scroll sideways and the cards stay readable', async () => {
  await page.setViewportSize({ width: 390, height: 844 })
  await page.waitForTimeout(300)
  const scrolls = await page.locator('[data-board-columns]').evaluate((el) => el.scrollWidth > el.clientWidth + 100)
  check(scrolls, 'the columns do not scroll sideways at phone width')
  const width = await column('initial_contact').evaluate((el) => el.getBoundingClientRect().width)
  check(width >= 260 && width <= 390, `a column is ${width}px wide at phone width`)
})

await step('without a flow: grouped by a select field, a drop saves the field', async () => {
  await page.setViewportSize({ width: 1280, height: 860 })
  await page.locator('[data-board-group]').click()
  await page.locator('[data-board-group-option="type"]:visible').click()
  await eventually(async () => new URL(page.url().replace('#/', '')).searchParams.get('by') === 'type', 'the URL does not say by=type')
  const options = (await apiCall('GET', `/api/apps/${APP}`)).body.forms[FORM].fields.find((f) => f.id === 'type').options.map((o) => o.value)
  const shown = await page.locator('[data-board-column]').evaluateAll((els) => els.map((e) => e.dataset.boardColumn))
  check(JSON.stringify(shown.filter((c) => c !== '__none')) === JSON.stringify(options), `the columns are ${shown.join(', ')}`)
  const before = await record(deals.skip.id)
  const from = before.data.type ?? '__none'
  const to = options.find((o) => o !== from)
  await expectCardIn(deals.skip.id, from)
  await dragByMouse(card(deals.skip.id), column(to).locator('[data-board-list]'))
  await eventually(async () => (await record(deals.skip.id)).data.type === to, `the deal's type is not ${to} after the drop`)
  await expectCardIn(deals.skip.id, to)
  const after = await record(deals.skip.id)
  check(after.version === before.version + 1 && after.data.stage === 'initial_contact', 'the drop changed more than the type')
})

await finish()
