// Browser test of the notification bell in the shell's header: a sales rep wins a deal, which
// notifies their manager (the CRM's opportunity flow: `win` → `notify` the manager); the manager
// finds the count on the bell, the deal first in its list and unread, opens it from there (it is
// marked read, the count drops by one) and marks all read (the count is gone). A user without
// notifications sees the empty list.
//
//   npm ci --prefix tests/browser          # once: installs playwright-core
//   TESSERA_URL=http://127.0.0.1:8080 node tests/browser/notifications.mjs
//
// TESSERA_URL is a server started with `tessera serve --demo` on a fresh database. The demo's
// timers notify people as the server starts, so every count expected is the API's, never a
// fixed number. Optional: TESSERA_SCREENSHOTS=<dir> saves a screenshot after every step;
// CHROMIUM=<path> overrides /usr/bin/chromium. Prints one line per step and finally
// `browser: N passed, M failed`; exits non-zero on any failure.
import { answerTo, apiCall, check, eventually, finish, page, signIn, step } from './harness.mjs'

const APP = 'crm'
const stamp = Date.now().toString(36)

/** The caller's inbox as the API gives it: `{items, unread, capped}`. */
async function inbox() {
  const { status, body } = await apiCall('GET', '/api/notifications?limit=20')
  check(status === 200, `GET /api/notifications answered ${status}`)
  return body
}

/** What the badge should say for an inbox: the count, "99+" past 99, nothing at 0. */
const badgeText = ({ unread, capped }) => (capped ? '99+' : unread ? String(unread) : null)

/** The badge's text while it is shown, else null. */
async function shownCount() {
  // One read of the page: between a visibility check and a text read the badge may go, and the
  // read would then wait for it.
  return page.locator('[data-bell-count]').evaluateAll((badges) => {
    const shown = badges.find((b) => b.getClientRects().length > 0 && getComputedStyle(b).visibility !== 'hidden')
    return shown ? shown.textContent.trim() : null
  })
}

async function expectBadge(expected) {
  await eventually(async () => (await shownCount()) === expected, async () => `the bell shows ${await shownCount()}, not ${expected}`)
}

/** Opens the bell's list (and waits for the answer it asks for on opening). */
async function openBell() {
  await answerTo('GET', '/api/notifications', () => page.click('[data-bell]'))
  await page.locator('[data-bell-read-all]').waitFor()
}

async function closeBell() {
  await page.click('[data-bell]')
  await page.locator('[data-bell-read-all]').waitFor({ state: 'hidden' })
}

await step('a user without notifications sees no count and an empty list', async () => {
  await signIn('finance1')
  const mine = await inbox()
  await page.locator('[data-bell]').waitFor()
  await expectBadge(badgeText(mine))
  await openBell()
  const shown = await page.locator('[data-notification]:visible').count()
  check(shown === mine.items.length, `the list shows ${shown} notifications, the API ${mine.items.length}`)
  check((await page.locator('[data-bell-empty]:visible').count()) === (mine.items.length ? 0 : 1), 'the empty state does not match the list')
  await closeBell()
})

let deal = ''
await step('rep1 wins a deal, which notifies their manager', async () => {
  await signIn('rep1')
  const account = await apiCall('POST', `/api/apps/${APP}/forms/account/records`, { data: { name: `Bell account ${stamp}` } })
  check(account.status === 201, `creating the account answered ${account.status}: ${JSON.stringify(account.body)}`)
  const opportunity = await apiCall('POST', `/api/apps/${APP}/forms/opportunity/records`, {
    data: { name: `Bell deal ${stamp}`, account: account.body.id, amount: 120000 },
  })
  check(opportunity.status === 201, `creating the opportunity answered ${opportunity.status}: ${JSON.stringify(opportunity.body)}`)
  deal = opportunity.body.id
  for (const action of ['propose', 'win']) {
    const { status, body } = await apiCall('POST', `/api/apps/${APP}/forms/opportunity/records/${deal}/actions/${action}`, {})
    check(status === 200, `${action} answered ${status}: ${JSON.stringify(body)}`)
  }
})

let before = null // manager1's inbox once the deal is won
await step('manager1 finds the count on the bell, and the deal won newest in the inbox', async () => {
  await signIn('manager1')
  before = await inbox()
  const newest = before.items[0]
  check(newest?.message.text === '商机赢单' && newest.message.record === deal, `the newest notification is ${JSON.stringify(newest)}`)
  check(newest.read_at === null, 'the deal won is read already')
  await expectBadge(badgeText(before))
  const label = await page.locator('[data-bell]').getAttribute('aria-label')
  check(label === `通知，${badgeText(before)} 条未读`, `the bell is labelled "${label}"`)
})

await step('the bell lists the newest, the deal won first and unread', async () => {
  await openBell()
  const first = page.locator('[data-notification]').first()
  check((await first.getAttribute('data-notification')) === before.items[0].id, `the list starts with ${await first.getAttribute('data-notification')}`)
  check((await first.getAttribute('data-unread')) === 'true', 'the deal won is not shown as unread')
  check((await first.textContent()).includes('商机赢单'), `the first item says ${await first.textContent()}`)
  check((await first.textContent()).includes(`Bell deal ${stamp}`), 'the first item does not name the deal')
  const ids = await page.locator('[data-notification]').evaluateAll((items) => items.map((i) => `${i.dataset.notification}:${i.dataset.unread}`))
  const expected = before.items.map((n) => `${n.id}:${n.read_at === null}`)
  check(JSON.stringify(ids) === JSON.stringify(expected), `the list shows ${ids.length} items unlike the API's ${expected.length}`)
})

await step('in English the bell and its list speak English', async () => {
  await closeBell()
  await page.click('[data-language-switch]')
  await page.locator('.el-dropdown-menu__item:visible', { hasText: 'English' }).click()
  await eventually(
    async () => (await page.locator('[data-bell]').getAttribute('aria-label')) === `Notifications, ${badgeText(before)} unread`,
    async () => `the bell is labelled "${await page.locator('[data-bell]').getAttribute('aria-label')}"`,
  )
  await openBell()
  check((await page.locator('[data-bell-read-all]').textContent()).trim() === 'Mark all read', 'the button to mark all read is not in English')
})

await step('opening the deal won from the bell goes to the deal and marks it read', async () => {
  const item = page.locator(`[data-notification="${before.items[0].id}"]`)
  const response = await answerTo('POST', '/api/notifications/read', () => item.click())
  check(response.status() === 200, `marking it read answered ${response.status()}`)
  check(JSON.stringify(JSON.parse(response.request().postData())) === JSON.stringify({ ids: [before.items[0].id] }), `sent ${response.request().postData()}`)
  await eventually(() => page.url().endsWith(`#/${APP}/opportunity/${deal}`), () => `the bell opened ${page.url()}`)
  await eventually(
    async () => (await page.locator('[data-record-title]').textContent()).includes(`Bell deal ${stamp}`),
    async () => `the record page is titled ${await page.locator('[data-record-title]').textContent()}`,
  )
  const after = await inbox()
  check(after.items[0].read_at !== null, 'the deal won is still unread')
  check(after.capped || after.unread === before.unread - 1, `${after.unread} unread after opening one of ${before.unread}`)
  await expectBadge(badgeText(after))
  await openBell()
  await eventually(
    async () => (await item.getAttribute('data-unread')) === 'false',
    'the deal won is still shown as unread',
  )
})

await step('"Mark all read" marks every one read and the count is gone', async () => {
  const response = await answerTo('POST', '/api/notifications/read', () => page.click('[data-bell-read-all]'))
  check(response.status() === 200, `marking all read answered ${response.status()}`)
  check(response.request().postData() === '{}', `sent ${response.request().postData()}`)
  await expectBadge(null)
  const after = await inbox()
  check(after.unread === 0 && !after.capped, `${after.unread} still unread`)
  await eventually(
    async () => (await page.locator('[data-notification][data-unread="true"]').count()) === 0,
    'items are still shown as unread',
  )
  check(await page.locator('[data-bell-read-all]').isDisabled(), '"Mark all read" is offered with nothing unread')
  check((await page.locator('[data-bell]').getAttribute('aria-label')) === 'Notifications', 'the bell still speaks of unread ones')
})

await finish()
