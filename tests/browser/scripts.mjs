// Browser test of an app's rule scripts page (`#/-/builder/{app}/rules/{rule}`): an admin opens
// the CRM's lead scoring script from the builder page, types a call of a function the rules do
// not have and sees the server's check mark its line as they type, fixes it, and saves the
// script into the draft without problems.
//
//   npm ci --prefix tests/browser          # once: installs playwright-core
//   TESSERA_URL=http://127.0.0.1:8080 node tests/browser/scripts.mjs
//
// TESSERA_URL is a server started with `tessera serve --demo` on a fresh database (the test
// changes the draft of the CRM's `rules/lead_score.rhai`). See harness.mjs for the options.
import { BASE, answerTo, check, eventually, finish, page, signIn, step } from './harness.mjs'

const APP = 'crm'
const RULE = 'lead_score'
const editor = page.locator('[data-script-source] .cm-content')

await step('admin signs in', () => signIn('admin'))

await step('the builder page opens the rule scripts, and the lead score script in the editor', async () => {
  await page.goto(`${BASE}/#/-/builder/${APP}`)
  await page.click('[data-builder-scripts]')
  await page.locator(`[data-script="${RULE}"]`).click()
  await eventually(async () => (await editor.innerText()).includes('fn '), 'the script is not shown in the editor')
  check((await page.locator('[data-script-dirty]').count()) === 0, 'the page says it has unsaved changes before any')
})

await step('a call of a function the rules lack is marked at its line as it is typed', async () => {
  await editor.click()
  await page.keyboard.press('Control+End')
  const checked = await answerTo('POST', '/expressions/check', () => page.keyboard.type('\nfn extra(record) { shout(record) }'))
  const sent = checked.request().postDataJSON()
  check(sent.kind === 'script', `the check was asked for ${JSON.stringify(sent.kind)}`)
  const problem = page.locator('[data-script-source] [data-expr-problem]').first()
  await problem.waitFor()
  const text = await problem.innerText()
  check(text.includes('shout'), `the problem shown is ${text}`)
  await page.locator('[data-script-source] .cm-lintRange-error, [data-script-source] .cm-lintRange-warning').first().waitFor()
})

await step('fixed, the mark goes, and the script saves into the draft without problems', async () => {
  await page.keyboard.press('Control+End')
  for (let i = 0; i < 'shout(record) }'.length; i += 1) await page.keyboard.press('Backspace')
  await page.keyboard.type('record }')
  await eventually(async () => (await page.locator('[data-script-source] [data-expr-problem]').count()) === 0, 'the problem is still shown')
  const saved = await answerTo('PUT', `/definitions/rule/${RULE}`, () => page.click('[data-script-save]'))
  check(saved.status() === 200, `the save answered ${saved.status()}`)
  const body = await saved.json()
  check((body.problems ?? []).length === 0, `the draft has problems: ${JSON.stringify(body.problems)}`)
  check(saved.request().postDataJSON().source.includes('fn extra(record) { record }'), 'the saved source lacks the edit')
  await page.locator(`[data-script="${RULE}"] .el-tag`).waitFor()
})

await finish()
