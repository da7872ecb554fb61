// Browser test of an app's settings page (`#/-/builder/{app}/settings`): an admin changes the
// CRM's icon, renames a menu group, reorders its forms by drag and moves one to another group,
// saves into the draft, and finds it all kept after a reload and in the draft the server holds;
// then publishes it and sees the icon and the currency where the app shows them.
//
//   npm ci --prefix tests/browser          # once: installs playwright-core
//   TESSERA_URL=http://127.0.0.1:8080 node tests/browser/settings.mjs
//
// TESSERA_URL is a server started with `tessera serve --demo` on a fresh database (the test
// changes and publishes the CRM's app.json). Optional: TESSERA_SCREENSHOTS=<dir> saves a
// screenshot after every step; CHROMIUM=<path> overrides /usr/bin/chromium. Prints one line per
// step and finally `browser: N passed, M failed`; exits non-zero on any failure.
import { BASE, answerTo, apiCall, check, dragByMouse, eventually, finish, page, signIn, step } from './harness.mjs'

const APP = 'crm'

/** The form ids of menu group `index` on the settings page, in the order shown. */
const groupForms = (index) =>
  page.locator(`[data-nav-group="${index}"] [data-nav-group-form]`).evaluateAll((rows) => rows.map((r) => r.dataset.navGroupForm))

const SETTINGS = `${BASE}/#/-/builder/${APP}/settings`
const stamp = Date.now().toString(36)
const RENAMED = { en: `Selling ${stamp}`, zh: `销售业务 ${stamp}` }
let salesBefore = []

await step('admin signs in', () => signIn('admin'))

await step('the settings page opens from the menu with the app\'s menu groups and letterhead', async () => {
  // The shell opens the app used last (after the smoke test, the one it built): the CRM first.
  await page.goto(`${BASE}/#/${APP}`)
  await page.locator('[data-nav] [data-nav-settings]').waitFor()
  await page.click('[data-nav] [data-nav-settings]')
  await eventually(() => page.url() === SETTINGS, () => `the menu entry opened ${page.url()}`)
  await page.locator('[data-nav-group="0"] [data-nav-group-form]').first().waitFor()
  salesBefore = await groupForms(0)
  check(salesBefore.length > 2, `the first group lists ${salesBefore.join(', ')}`)
  check((await page.locator('input[data-settings-company="name"]').inputValue()).length > 0, 'the letterhead has no company name')
  check((await page.locator('[data-settings-dirty]').count()) === 0, 'the page says it has unsaved changes before any')
  // Dashboards are not menu entries of app.json: the editor lists forms only.
  check((await page.locator('[data-nav-unplaced-form]').count()) === 0, 'forms of the CRM are offered as not in the menu')
})

await step('a logo URL shows a preview', async () => {
  const logo = 'data:image/svg+xml;utf8,' + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="teal"/></svg>')
  await page.locator('input[data-settings-company="logo_url"]').fill(logo)
  await page.locator('img[data-settings-logo-preview]').waitFor()
  await eventually(
    () => page.locator('img[data-settings-logo-preview]').evaluate((img) => img.complete && img.naturalWidth > 0),
    'the logo preview did not load',
  )
})

await step('the icon is chosen from the icons shown', async () => {
  check((await page.locator('[data-settings-icons] [data-settings-icon]').count()) >= 20, 'fewer than 20 icons offered')
  await page.click('[data-settings-icon="Money"]')
  await eventually(
    async () => (await page.locator('[data-settings-icon="Money"]').getAttribute('aria-pressed')) === 'true',
    'the icon clicked is not shown as chosen',
  )
  await page.locator('[data-settings-dirty]').waitFor()
})

await step('a menu group is renamed in both languages', async () => {
  await page.locator('[data-nav-group="0"] input[data-nav-group-zh]').fill(RENAMED.zh)
  await page.locator('[data-nav-group="0"] input[data-nav-group-en]').fill(RENAMED.en)
})

await step('a form is dragged to the top of its group', async () => {
  const last = salesBefore[salesBefore.length - 1]
  const group = page.locator('[data-nav-group="0"]')
  await dragByMouse(group.locator(`[data-nav-group-form="${last}"]`), group.locator(`[data-nav-group-form="${salesBefore[0]}"]`), 0.2)
  const expected = [last, ...salesBefore.slice(0, -1)]
  await eventually(
    async () => JSON.stringify(await groupForms(0)) === JSON.stringify(expected),
    async () => `the group lists ${(await groupForms(0)).join(', ')}, not ${expected.join(', ')}`,
  )
})

let moved = ''
let secondBefore = []
await step('a form is dragged into another group', async () => {
  secondBefore = await groupForms(1)
  const firstNow = await groupForms(0)
  moved = firstNow[1]
  await dragByMouse(page.locator(`[data-nav-group="0"] [data-nav-group-form="${moved}"]`), page.locator(`[data-nav-group="1"] [data-nav-group-form="${secondBefore[0]}"]`), 0.2)
  await eventually(
    async () => (await groupForms(1))[0] === moved && !(await groupForms(0)).includes(moved),
    async () => `group 1 lists ${(await groupForms(1)).join(', ')}; group 0 ${(await groupForms(0)).join(', ')}`,
  )
})

await step('leaving with unsaved changes asks first, and staying keeps them', async () => {
  await page.click('[data-settings-back]')
  const box = page.locator('.el-message-box')
  await box.waitFor()
  await box.locator('.el-button:not(.el-button--primary)').click()
  await box.waitFor({ state: 'hidden' })
  check(page.url().endsWith('/settings'), `the page left to ${page.url()}`)
  check((await page.locator('[data-settings-dirty]').count()) === 1, 'the unsaved changes are gone')
})

await step('the settings are saved into the draft', async () => {
  const response = await answerTo('PUT', `/api/apps/${APP}/definitions/app/${APP}`, () => page.click('[data-settings-save]'))
  check(response.status() === 200, `the save answered ${response.status()}: ${await response.text()}`)
  const sent = JSON.parse(response.request().postData())
  check(sent.definition?.icon === 'Money', `the save sent icon ${sent.definition?.icon}`)
  check(response.request().headers()['if-match'], 'the save was sent without If-Match')
  await page.locator('[data-settings-dirty]').waitFor({ state: 'detached' })
})

await step('after a reload the page shows the order, the names and the icon saved', async () => {
  await page.reload()
  await page.locator('[data-nav-group="0"] [data-nav-group-form]').first().waitFor()
  const first = await groupForms(0)
  const last = salesBefore[salesBefore.length - 1]
  check(first[0] === last, `the first group now starts with ${first[0]}, not ${last}`)
  check(!first.includes(moved), `${moved} is still in the first group`)
  check((await groupForms(1))[0] === moved, `the second group starts with ${(await groupForms(1))[0]}, not ${moved}`)
  check((await page.locator('[data-nav-group="0"] input[data-nav-group-en]').inputValue()) === RENAMED.en, 'the English group name is not kept')
  check((await page.locator('[data-nav-group="0"] input[data-nav-group-zh]').inputValue()) === RENAMED.zh, 'the Chinese group name is not kept')
  check((await page.locator('[data-settings-icon="Money"]').getAttribute('aria-pressed')) === 'true', 'the icon is not kept')
  check((await page.locator('img[data-settings-logo-preview]').count()) === 1, 'the logo is not kept')
})

await step('the draft on the server holds the settings', async () => {
  const { status, body } = await apiCall('GET', `/api/apps/${APP}/definitions/app/${APP}`)
  check(status === 200, `GET the draft's app.json answered ${status}`)
  const def = body.definition
  check(body.draft === true, 'app.json is not marked as changed in the draft')
  check(def.icon === 'Money', `the draft's icon is ${def.icon}`)
  check(def.navigation[0].label.en === RENAMED.en && def.navigation[0].label['zh-CN'] === RENAMED.zh, `the draft's first group is ${JSON.stringify(def.navigation[0].label)}`)
  check(def.navigation[0].forms[0] === salesBefore[salesBefore.length - 1], `the draft's first group lists ${def.navigation[0].forms.join(', ')}`)
  check(def.navigation[1].forms[0] === moved, `the draft's second group lists ${def.navigation[1].forms.join(', ')}`)
  check(def.company?.logo_url?.startsWith('data:image/svg+xml'), 'the draft has no logo URL')
  check(Array.isArray(def.roles) && def.roles.length > 0, 'the roles were lost from app.json')
  check(def.currency === undefined && def.languages === undefined, 'settings left alone were written into app.json')
})

await step('a stale save is refused, and the page offers to reload', async () => {
  // Someone else renames the same menu group meanwhile: a navigation edited on both sides
  // cannot be merged.
  const { body: current } = await apiCall('GET', `/api/apps/${APP}/definitions/app/${APP}`)
  const theirs = JSON.parse(JSON.stringify(current.definition))
  theirs.navigation[0].label.en = `Theirs ${stamp}`
  const saved = await page.evaluate(
    async ({ app, definition, version }) => {
      const stored = JSON.parse(sessionStorage.getItem('tessera.session') ?? '{}')
      const response = await fetch(`/api/apps/${app}/definitions/app/${app}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${stored.token}`, 'If-Match': `"${version}"` },
        body: JSON.stringify({ definition }),
      })
      return response.status
    },
    { app: APP, definition: theirs, version: current.version },
  )
  check(saved === 200, `the other save answered ${saved}`)
  // This page, still on the version before, renames the group too.
  await page.locator('[data-nav-group="0"] input[data-nav-group-en]').fill(`${RENAMED.en}!`)
  const response = await answerTo('PUT', `/api/apps/${APP}/definitions/app/${APP}`, () => page.click('[data-settings-save]'))
  check(response.status() === 409, `the stale save answered ${response.status()}`)
  const box = page.locator('.el-message-box')
  await box.waitFor()
  await answerTo('GET', `/api/apps/${APP}/definitions/app/${APP}`, () => box.locator('.el-button--primary').click())
  await page.locator('[data-settings-dirty]').waitFor({ state: 'detached' })
  await eventually(
    async () => (await page.locator('[data-nav-group="0"] input[data-nav-group-en]').inputValue()) === `Theirs ${stamp}`,
    'the reloaded page does not show the other save',
  )
})

await step('published, the app shows its icon and its amounts in its currency', async () => {
  await page.goto(SETTINGS)
  await page.locator('[data-nav-group="0"] [data-nav-group-form]').first().waitFor()
  await page.locator('[data-settings-currency]').click()
  await page.locator('.el-select-dropdown [data-settings-currency-option="USD"]').click()
  await eventually(async () => (await page.locator('[data-settings-currency-sample]').innerText()).includes('$'), 'the sample amount does not show $')
  const response = await answerTo('PUT', `/api/apps/${APP}/definitions/app/${APP}`, () => page.click('[data-settings-save]'))
  check(response.status() === 200, `the save answered ${response.status()}`)
  const release = await apiCall('POST', `/api/apps/${APP}/publish`, { message: 'settings test' })
  check(release.status === 201, `publish answered ${release.status}: ${JSON.stringify(release.body).slice(0, 300)}`)
  // A new page load: the shell asks for the app's definition afresh.
  await page.goto(`${BASE}/#/${APP}/opportunity`)
  await page.reload()
  await page.locator('[data-app-icon="Money"]').waitFor()
  await page.locator('[data-list] tbody [data-col="amount"]').first().waitFor()
  const amounts = await page.locator('[data-list] tbody [data-col="amount"]').allInnerTexts()
  const shown = amounts.filter((s) => s.trim())
  check(shown.length > 0 && shown.every((s) => /\$\s?-?[\d,]+\.\d\d$|^-?US\$/.test(s.trim())), `amounts shown as ${shown.slice(0, 4).join(' | ')}`)
  const menu = await page.locator('[data-nav] [data-nav-form]').evaluateAll((items) => items.map((i) => i.dataset.navForm))
  check(menu[0] === salesBefore[salesBefore.length - 1], `the menu starts with ${menu[0]}`)
  // The amount's input says what it counts in, too.
  await page.goto(`${BASE}/#/${APP}/opportunity/new`)
  const prefix = page.locator('[data-field="amount"] .el-input__prefix')
  await prefix.waitFor()
  check(/\$/.test(await prefix.innerText()), `the amount's input shows "${await prefix.innerText()}" before it`)
})

await finish()
