// Browser test of the flow and approval designer (`#/-/builder/{app}/flows/{form}`): an admin
// opens the CRM's quote flow, runs its tests and has the path one took highlighted; then builds
// a small app `purchases` with a form `purchase`, opens its flow from the builder and draws
// draft → approval → approved, with a submit transition and an approval on `approval`
// (the requester's manager, then finance countersigning when `record.amount > 10000`) during
// which `note` is read-only (but editable by the finance step and hidden from the manager's, set
// in the field × step matrix),
// with a reminder timer, the finance step copying (抄送) the submitter; sees the server's check mark
// states and a broken condition, fixes them; runs the app's tests from the designer, publishes on
// the builder page; then rep1 submits a
// purchase, cannot change its note while it is approved, and manager1 and finance1 approve it
// from My tasks (finance1 correcting the note first), and rep1 is told the finance step approved it;
// a change to the flow published with the purchase in flight says so. Then a state on_hold holding a
// purchase is replaced by paused: the publish lists on_hold as staying until it is mapped to paused
// (the draft flow's `upgrade`), and the held purchase continues in paused.
//
//   npm ci --prefix tests/browser          # once: installs playwright-core
//   TESSERA_URL=http://127.0.0.1:8080 node tests/browser/flows.mjs
//
// TESSERA_URL is a server started with `tessera serve --demo` on a fresh database (the test
// creates the app `purchases`). Optional: TESSERA_SCREENSHOTS=<dir> saves a screenshot after
// every step; CHROMIUM=<path> overrides /usr/bin/chromium. Prints one line per step and finally
// `browser: N passed, M failed`; exits non-zero on any failure.
import { BASE, answerTo, apiCall, check, choose, eventually, finish, measuredImpact, page, signIn, step } from './harness.mjs'

const APP = 'purchases'
const FORM = 'purchase'
const stamp = Date.now().toString(36)

/** Closes an open select list (a multiple select stays open after a choice). */
async function closeSelect() {
  await page.keyboard.press('Escape')
  await eventually(async () => (await page.locator('.el-select-dropdown:visible').count()) === 0, 'a select list stays open')
}

/** Adds a field of `type` from the form designer's palette and names it; it is left selected. */
async function designField(type, id, zh, en) {
  const before = await page.locator('[data-canvas-field]').count()
  await page.locator(`[data-palette] [data-palette-type="${type}"]`).click()
  await eventually(async () => (await page.locator('[data-canvas-field]').count()) === before + 1, `no ${type} field added`)
  await page.locator('input[data-prop-id]').fill(id)
  await page.locator('input[data-prop-label-zh]').fill(zh)
  await page.locator('input[data-prop-label-en]').fill(en)
  await page.locator(`[data-canvas-field="${id}"]`).waitFor()
}

const node = (id) => page.locator(`[data-flow-canvas] [data-flow-node="${id}"]`)

/** The states on the canvas marked `data-flow-path="<value>"` (visited or not by the path shown). */
async function pathStates(value) {
  return page.locator(`[data-flow-canvas] [data-flow-path="${value}"]`).evaluateAll((els) => els.map((e) => e.dataset.flowNode).join())
}

/** The flow as the server holds it in the draft. */
async function draftFlow() {
  const { status, body } = await apiCall('GET', `/api/apps/${APP}/definitions/flow/${FORM}`)
  check(status === 200, `GET the draft's flow answered ${status}`)
  return body.definition
}

/** Waits until the designer has saved every edit (it saves once the edits pause). */
async function settled() {
  await eventually(
    async () => (await page.locator('[data-flow-dirty]').count()) === 0 && (await page.locator('[data-flow-saved]').count()) === 1,
    'the designer did not save the edits',
  )
  // A save answered while another edit was on its way: give the last answer time to arrive.
  await page.waitForTimeout(300)
  await eventually(async () => (await page.locator('[data-flow-dirty]').count()) === 0, 'the designer did not save the last edit')
}

/** Selects the state `id` by its chip under the canvas, and renames it. */
async function nameState(fromId, id, zh, en) {
  await page.click(`[data-flow-outline] [data-flow-state="${fromId}"]`)
  await page.locator('input[data-flow-prop-id]').fill(id)
  await page.locator('input[data-flow-prop-zh]').fill(zh)
  await page.locator('input[data-flow-prop-en]').fill(en)
  await node(id).waitFor()
}

/** Drags from the bottom handle of state `from` to the top handle of state `to`. */
async function connect(from, to) {
  const source = node(from).locator('.vue-flow__handle.source')
  const target = node(to).locator('.vue-flow__handle.target')
  const a = await source.boundingBox()
  const b = await target.boundingBox()
  check(a && b, 'a handle is not on the screen')
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2)
  await page.mouse.down()
  await page.mouse.move(a.x + a.width / 2 + 10, a.y + a.height / 2 + 20, { steps: 4 })
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 15 })
  await page.mouse.up()
}

await step('admin signs in', () => signIn('admin'))

await step('the CRM’s quote flow opens from the builder as a graph with its approval steps', async () => {
  await page.goto(`${BASE}/#/-/builder/crm`)
  await page.locator('[data-builder-forms] [data-builder-flow="quote"]').click()
  await page.waitForURL(/#\/-\/builder\/crm\/flows\/quote$/)
  await node('in_review').waitFor()
  check((await page.locator('[data-flow-new]').count()) === 0, 'the quote flow opens as a new one')
  const states = await page.locator('[data-flow-canvas] [data-flow-node]').evaluateAll((els) => els.map((e) => e.dataset.flowNode))
  check(states.join() === 'draft,in_review,approved,sent,accepted,rejected,expired', `the graph shows the states ${states}`)
  // Six transitions, and the approval's outcome approved (its rejection goes back to draft).
  await eventually(async () => (await page.locator('[data-flow-canvas] .vue-flow__edge').count()) === 8,
    async () => `the graph shows ${await page.locator('[data-flow-canvas] .vue-flow__edge').count()} edges`)
  await node('in_review').click()
  await page.locator('[data-flow-approval] [data-flow-step="1"]').waitFor()
  // The condition is in the code editor.
  const when = page.locator('[data-flow-step="0"] [data-flow-step-when] .cm-content')
  await eventually(async () => (await when.innerText()).trim() === 'record.discount > 10', 'the manager step has lost its condition')
  // The submit's guard, in the code editor, checked by the server: no mark.
  await page.click('[data-flow-outline] [data-flow-transition="submit"]')
  const guard = page.locator('[data-flow-prop-guard]')
  await eventually(async () => (await guard.locator('.cm-content').innerText()).trim() === 'record.items != () && record.items.len() > 0', 'the guard is not in the editor')
  await page.waitForTimeout(1200) // the check answers after a pause
  check((await guard.locator('[data-expr-problem]').count()) === 0, `the guard is marked: ${await guard.innerText()}`)
  check((await page.locator('[data-flow-problems]').count()) === 0, 'the CRM flow shows problems')
  check((await page.locator('[data-flow-dirty]').count()) === 0, 'opening the flow changed it')
})

await step('the CRM’s scenario tests run from the designer, each shown passed', async () => {
  // Every test runs on a database of its own: a debug build takes a while for the CRM's.
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('/api/apps/crm/test'), { timeout: 120_000 }),
    page.click('[data-flow-run-tests]'),
  ])
  check(response.status() === 200, `POST test answered ${response.status()}`)
  const answer = await response.json()
  check(answer.items.length > 5 && answer.failed === 0, `the tests answered ${JSON.stringify(answer).slice(0, 400)}`)
  await page.locator('[data-flow-tests] [data-flow-tests-summary]').waitFor()
  check((await page.locator('[data-flow-tests] [data-flow-test-passed="true"]').count()) === answer.items.length, 'not every test is shown passed')
})

await step('showing the path of the test quote_approval highlights the states and moves its quote took', async () => {
  await page.click('[data-flow-tests] [data-flow-test-path="quote_approval"]')
  await page.locator('[data-flow-test="quote_approval"][data-flow-test-shown="true"]').waitFor()
  await page.locator('[data-flow-canvas] [data-flow-path-shown]').waitFor()
  check((await pathStates('true')) === 'draft,in_review,approved,sent,accepted', `the path's states are ${await pathStates('true')}`)
  check((await pathStates('false')) === 'rejected,expired', `the states off the path are ${await pathStates('false')}`)
  // Submit, send and accept, and both outcomes of the approval (rejected by the director first).
  const taken = await page.locator('[data-flow-canvas] .vue-flow__edge.flow-edge--path').evaluateAll((els) => els.map((e) => e.textContent))
  for (const action of ['submit', 'send', 'accept']) check(taken.some((text) => text.includes(`(${action})`)), `the move ${action} is not on the path: ${taken}`)
  for (const outcome of ['approved', 'rejected']) {
    check((await page.locator(`[data-flow-canvas] .flow-edge--${outcome}.flow-edge--path`).count()) === 1, `the approval's outcome ${outcome} is not on the path`)
  }
  const dimmed = await page.locator('[data-flow-canvas] .vue-flow__edge.flow-edge--dimmed').evaluateAll((els) => els.map((e) => e.textContent))
  check(taken.length === 5 && dimmed.length === 3 && dimmed.every((text) => /\((revise|decline|expire)\)/.test(text)), `off the path: ${dimmed}`)
  // The order, loop included, in words.
  const moves = await page.locator('[data-flow-test-moves="quote"]').innerText()
  check(moves.includes('submit → approve (manager) → reject (director) → rejected → submit'), `the quote's moves read ${moves}`)
})

await step('closing the path on the canvas clears the highlight', async () => {
  await page.click('[data-flow-canvas] [data-flow-path-shown] .el-tag__close')
  await eventually(async () => (await page.locator('[data-flow-canvas] [data-flow-path]').count()) === 0, 'the states stay marked')
  check((await page.locator('[data-flow-canvas] .flow-edge--path, [data-flow-canvas] .flow-edge--dimmed').count()) === 0, 'the edges stay marked')
  check((await page.locator('[data-flow-test-shown]').count()) === 0, 'the test stays marked')
})

await step('admin makes the app purchases with the roles requester and finance', async () => {
  await page.goto(`${BASE}/#/-/builder`)
  await page.locator('[data-builder-apps] [data-builder-app="crm"]').waitFor()
  await page.click('[data-builder-new-app]')
  const dialog = page.locator('.el-dialog[data-builder-app-dialog]')
  await dialog.waitFor()
  await dialog.locator('input[data-new-app-id]').fill(APP)
  await dialog.locator('input[data-new-app-zh]').fill('采购')
  await dialog.locator('input[data-new-app-en]').fill('Purchases')
  const response = await answerTo('POST', '/api/apps', () => dialog.locator('[data-new-app-submit]').click())
  check(response.status() === 201, `POST /api/apps answered ${response.status()}: ${await response.text()}`)
  await page.waitForURL(new RegExp(`#/-/builder/${APP}$`))
  for (const [id, zh, en] of [['requester', '申请人', 'Requester'], ['finance', '财务', 'Finance']]) {
    await page.locator('input[data-builder-role-id]').fill(id)
    await page.locator('input[data-builder-role-zh]').fill(zh)
    await page.locator('input[data-builder-role-en]').fill(en)
    const saved = await answerTo('PUT', `/definitions/app/${APP}`, () => page.click('[data-builder-role-add]'))
    check(saved.status() === 200, `PUT app.json answered ${saved.status()}`)
    await page.locator(`[data-builder-roles] [data-builder-role="${id}"]`).waitFor()
  }
})

await step('admin designs the form purchase: title, amount, note and the state field status', async () => {
  await page.click('[data-builder-new-form]')
  const dialog = page.locator('.el-dialog[data-builder-form-dialog]')
  await dialog.waitFor()
  await dialog.locator('input[data-new-form-id]').fill(FORM)
  await dialog.locator('input[data-new-form-zh]').fill('采购申请')
  await dialog.locator('input[data-new-form-en]').fill('Purchase')
  await answerTo('PUT', `/definitions/form/${FORM}`, () => dialog.locator('[data-new-form-submit]').click())
  await page.waitForURL(new RegExp(`#/-/builder/${APP}/forms/${FORM}$`))
  await page.locator('[data-palette] [data-palette-type="text"]').waitFor()
  await designField('text', 'title', '标题', 'Title')
  await page.click('[data-prop-required]')
  await designField('currency', 'amount', '金额', 'Amount')
  await designField('text', 'note', '备注', 'Note')
  await designField('select', 'status', '状态', 'Status')
  for (const role of ['requester', 'finance']) {
    for (const action of ['create', 'read', 'update']) {
      if (role === 'finance' && action === 'create') continue
      await page.click(`[data-perm-role="${role}"] [data-perm-action="${action}"]`)
    }
  }
  const response = await answerTo('PUT', `/definitions/form/${FORM}`, () => page.click('[data-designer-save]'))
  check(response.status() === 200, `PUT form answered ${response.status()}: ${await response.text()}`)
  await eventually(async () => (await page.locator('[data-designer-dirty]').count()) === 0, 'the designer still says unsaved')
})

await step('the builder offers "Add flow" for the form; it opens a new flow in the state field status', async () => {
  await page.click('[data-designer] h2 a')
  const flowLink = page.locator(`[data-builder-forms] [data-builder-flow="${FORM}"]`)
  await flowLink.waitFor()
  await flowLink.click()
  await page.waitForURL(new RegExp(`#/-/builder/${APP}/flows/${FORM}$`))
  await page.locator('[data-flow-new]').waitFor()
  await node('draft').waitFor()
  await page.click('[data-flow-settings]')
  await eventually(async () => (await page.locator('[data-flow-field]').innerText()).includes('status'), 'the flow is not in the field status')
  // Saved as one draws: the draft file exists after the first pause.
  await settled()
  check((await draftFlow()).field === 'status', 'the draft flow has no state field')
})

await step('admin draws the states approval and approved and connects draft → approval', async () => {
  await page.click('[data-flow-add-state]')
  await node('state_2').waitFor()
  await nameState('state_2', 'approval', '审批中', 'In approval')
  await page.click('[data-flow-add-state]')
  await node('state_3').waitFor()
  await nameState('state_3', 'approved', '已批准', 'Approved')
  await page.click('[data-flow-prop-terminal]')
  await page.click('[data-flow-layout]')
  await settled()
  await connect('draft', 'approval')
  await page.locator('[data-flow-outline] [data-flow-transition="action_1"]').waitFor()
  await page.locator('input[data-flow-prop-action]').fill('submit')
  await page.locator('input[data-flow-prop-zh]').fill('提交审批')
  await page.locator('input[data-flow-prop-en]').fill('Submit')
  await choose(page.locator('[data-flow-prop-who-roles]'), '[data-flow-who-role-option="requester"]')
  await closeSelect()
  await page.locator('[data-flow-outline] [data-flow-transition="submit"]').waitFor()
  check((await page.locator('[data-flow-canvas] .vue-flow__edge').count()) === 1, 'the canvas does not show one edge')
})

await step('the server marks the unconnected states on the graph; the state field gets their options', async () => {
  await settled()
  // approved is reached by nothing; approval leads nowhere.
  await node('approved').and(page.locator('[data-flow-node-problem]')).waitFor()
  await node('approval').and(page.locator('[data-flow-node-problem]')).waitFor()
  const listed = await page.locator('[data-flow-problems] [data-flow-problem]').allInnerTexts()
  check(listed.some((p) => /approved/.test(p) && /reach/.test(p)), `the problems listed: ${listed.join(' | ')}`)
  // The states are no options of status yet: the designer adds them to the form's draft.
  await page.click('[data-flow-settings]')
  await page.locator('[data-flow-missing-options]').waitFor()
  await answerTo('PUT', `/definitions/form/${FORM}`, () => page.click('[data-flow-sync-options]'))
  await page.locator('[data-flow-missing-options]').waitFor({ state: 'detached' })
})

await step('approval becomes an approval: the manager, then finance countersigning above 10000; note read-only', async () => {
  await page.click('[data-flow-outline] [data-flow-state="approval"]')
  await page.click('[data-flow-prop-approval] .el-switch')
  await page.locator('[data-flow-approval] [data-flow-step="0"]').waitFor()
  // approved follows the approval when it passes.
  await choose(page.locator('[data-flow-approved]'), '[data-flow-approved-option="approved"]')
  const first = page.locator('[data-flow-step="0"]')
  check((await first.locator('[data-flow-approver-kind]').innerText()).length > 0, 'the first step has no approver')
  await page.click('[data-flow-step-add]')
  const second = page.locator('[data-flow-step="1"]')
  await second.waitFor()
  await second.locator('input[data-flow-step-id]').fill('finance')
  await second.locator('input[data-flow-step-zh]').fill('财务会签')
  await second.locator('input[data-flow-step-en]').fill('Finance countersign')
  await choose(second.locator('[data-flow-approver="0"] [data-flow-approver-kind]'), '[data-flow-approver-kind-option="role"]')
  await choose(second.locator('[data-flow-approver="0"] [data-flow-approver-role]'), '[data-flow-role-option="finance"]')
  await choose(second.locator('[data-flow-step-mode]'), '[data-flow-mode-option="all"]')
  // The finance step copies (抄送) the submitter: told how it ended.
  await choose(second.locator('[data-flow-step-cc]'), '[data-flow-cc-option="submitter"]')
  await closeSelect()
  await second.locator('[data-flow-step-when] .cm-content').fill('record.amount > 10000')
  await choose(page.locator('[data-flow-prop-lock]'), '[data-flow-lock-option="note"]')
  await closeSelect()
  await node('approval').locator('[data-flow-node-approval]').waitFor()
  await node('approval').locator('[data-flow-node-locked]').waitFor()
})

await step('saved, the draft has no problems left, and holds the approval as drawn', async () => {
  await settled()
  await eventually(async () => (await page.locator('[data-flow-node-problem]').count()) === 0,
    async () => `still marked: ${await page.locator('[data-flow-problems]').innerText().catch(() => '')}`)
  check((await page.locator('[data-flow-problems] [data-flow-problem]').count()) === 0, 'the flow still lists problems')
  const flow = await draftFlow()
  check(flow.states.map((s) => s.id).join() === 'draft,approval,approved', `the states saved are ${flow.states.map((s) => s.id)}`)
  const submit = flow.transitions.find((tr) => tr.action === 'submit')
  check(submit?.from?.join() === 'draft' && submit.to === 'approval', `submit is ${JSON.stringify(submit)}`)
  check(submit.who?.roles?.join() === 'requester', `who may submit: ${JSON.stringify(submit.who)}`)
  const approval = flow.states[1].approval
  check(approval?.approved === 'approved', `the approval is ${JSON.stringify(approval)}`)
  check(approval.steps.length === 2 && approval.steps[0].approvers[0].manager, `the first step is ${JSON.stringify(approval.steps[0])}`)
  const finance = approval.steps[1]
  check(finance.id === 'finance' && finance.mode === 'all' && finance.when === 'record.amount > 10000' && finance.approvers[0].role === 'finance',
    `the finance step is ${JSON.stringify(finance)}`)
  check(JSON.stringify(finance.cc) === '["submitter"]', `the finance step copies ${JSON.stringify(finance.cc)}`)
  check(!('cc' in approval.steps[0]), `the manager step is ${JSON.stringify(approval.steps[0])}`)
  check(JSON.stringify(flow.states[1].lock) === '{"fields":["note"]}', `the lock is ${JSON.stringify(flow.states[1].lock)}`)
  check(flow.states[2].terminal === true, 'approved is not terminal')
  check(!JSON.stringify(flow).includes('position'), 'node positions were saved into the flow')
})

await step('undo takes back the lock and redo brings it back', async () => {
  await page.click('[data-flow-settings]')
  await page.click('[data-flow-undo]')
  await eventually(async () => (await node('approval').locator('[data-flow-node-locked]').count()) === 0, 'undo did not take back the lock')
  await page.click('[data-flow-redo]')
  await node('approval').locator('[data-flow-node-locked]').waitFor()
  await settled()
})

await step('the matrix makes note editable by the finance step and hidden from the manager; a reminder after 1 day is added to approval', async () => {
  await page.click('[data-flow-outline] [data-flow-state="approval"]')
  const matrix = page.locator('[data-flow-matrix]')
  await matrix.waitFor()
  const cell = (field, stepId) => matrix.locator(`[data-flow-matrix-cell="${field}/${stepId}"]`)
  check((await cell('note', 'finance').getAttribute('data-flow-matrix-value')) === 'locked', 'note is not shown locked for finance')
  check((await cell('amount', 'finance').getAttribute('data-flow-matrix-value')) === 'free', 'amount is not shown free')
  await cell('note', 'finance').click()
  await eventually(async () => (await cell('note', 'finance').getAttribute('data-flow-matrix-value')) === 'editable', 'note did not become editable by finance')
  check((await cell('note', 'manager').getAttribute('data-flow-matrix-value')) === 'locked', 'note became editable by the manager too')
  // Two clicks on to "hidden": the manager does not see the note while the purchase waits on them.
  await cell('note', 'manager').click()
  await eventually(async () => (await cell('note', 'manager').getAttribute('data-flow-matrix-value')) === 'editable', 'note did not become editable by the manager')
  await cell('note', 'manager').click()
  await eventually(async () => (await cell('note', 'manager').getAttribute('data-flow-matrix-value')) === 'hidden', 'note did not become hidden from the manager')
  await page.click('[data-flow-timer-add]')
  const timer = page.locator('[data-flow-timers] [data-flow-timer="0"]')
  await timer.waitFor()
  await timer.locator('input[data-flow-timer-id]').fill('nudge')
  await timer.locator('input[data-flow-timer-after]').fill('1d')
  await timer.locator('input[data-flow-timer-text-en]').fill('Please decide')
  await settled()
  const flow = await draftFlow()
  const approvalState = flow.states.find((s) => s.id === 'approval')
  const steps = approvalState.approval.steps
  check(JSON.stringify(steps.find((s) => s.id === 'finance').editable) === '["note"]', `the finance step is ${JSON.stringify(steps[1])}`)
  check(!('editable' in steps[0]) && JSON.stringify(steps[0].hidden) === '["note"]', `the manager step is ${JSON.stringify(steps[0])}`)
  check(JSON.stringify(approvalState.lock) === '{"fields":["note"]}', `the lock is ${JSON.stringify(approvalState.lock)}`)
  const timers = approvalState.timers ?? []
  check(timers.length === 1 && timers[0].id === 'nudge' && timers[0].after === '1d' && timers[0].do?.remind?.text?.en === 'Please decide',
    `the timers are ${JSON.stringify(timers)}`)
  await eventually(async () => (await page.locator('[data-flow-problems] [data-flow-problem]').count()) === 0,
    async () => `the flow lists problems: ${await page.locator('[data-flow-problems]').innerText()}`)
})

await step('a broken condition in the code editor is marked by the server’s check; fixed, the mark goes', async () => {
  const when = page.locator('[data-flow-step="1"] [data-flow-step-when]')
  await when.locator('.cm-content').fill('record.amount >')
  await when.locator('[data-expr-problem]').first().waitFor()
  check(Number(await when.getAttribute('data-problems')) > 0, 'the editor counts no problem')
  await when.locator('.cm-content').fill('record.amont > 10000')
  await eventually(async () => (await when.locator('[data-expr-problem]').count()) > 0, 'an unknown field is not marked')
  await when.locator('.cm-content').fill('record.amount > 10000')
  await eventually(async () => (await when.locator('[data-expr-problem]').count()) === 0, 'the mark stays once fixed')
  await settled()
  check((await draftFlow()).states[1].approval.steps[1].when === 'record.amount > 10000', 'the condition is not saved back')
})

await step('a state left unconnected is marked as a dead end and goes away with Delete', async () => {
  await page.click('[data-flow-add-state]')
  await node('state_4').waitFor()
  await settled()
  await node('state_4').and(page.locator('[data-flow-node-problem]')).waitFor()
  // The problem in the list selects the state it is about.
  await page.click('[data-flow-problems] [data-flow-problem="/states/3"]')
  await eventually(async () => (await page.locator('input[data-flow-prop-id]').inputValue()) === 'state_4', 'the problem does not select state_4')
  await node('state_4').click()
  await page.keyboard.press('Delete')
  await node('state_4').waitFor({ state: 'detached' })
  await settled()
  await eventually(async () => (await page.locator('[data-flow-node-problem]').count()) === 0, 'a state is still marked')
})

await step('with saving as one edits turned off, leaving with unsaved changes asks first; Save saves them', async () => {
  await page.click('[data-flow-autosave]')
  await page.click('[data-flow-settings]')
  await page.locator('input[data-flow-label-en]').fill('Purchase approval')
  await page.locator('[data-flow-dirty]').waitFor()
  await page.click('[data-flow-back]')
  const box = page.locator('.el-message-box')
  await box.waitFor()
  await box.locator('.el-message-box__btns .el-button:not(.el-button--primary)').click() // stay
  await box.waitFor({ state: 'hidden' })
  check(page.url().endsWith(`/flows/${FORM}`), `the designer was left: ${page.url()}`)
  const response = await answerTo('PUT', `/definitions/flow/${FORM}`, () => page.click('[data-flow-save]'))
  check(response.status() === 200, `PUT flow answered ${response.status()}: ${await response.text()}`)
  check(response.request().headers()['if-match'], 'the save was sent without If-Match')
  await page.locator('[data-flow-dirty]').waitFor({ state: 'detached' })
  check((await draftFlow()).label.en === 'Purchase approval', 'the label is not in the draft')
  await page.click('[data-flow-autosave]')
})

await step('the app’s tests run from the designer against the draft', async () => {
  const response = await answerTo('POST', `/api/apps/${APP}/test`, () => page.click('[data-flow-run-tests]'))
  check(response.status() === 200, `POST test answered ${response.status()}: ${await response.text()}`)
  const answer = await response.json()
  await page.locator('[data-flow-tests]').waitFor()
  check(answer.failed === 0, `tests failed: ${JSON.stringify(answer.items)}`)
})

await step('back on the builder page, admin publishes the app', async () => {
  await page.click('[data-flow-to-builder]')
  await page.waitForURL(new RegExp(`#/-/builder/${APP}$`))
  // The form now has a flow: the builder says so.
  await page.locator(`[data-builder-flow="${FORM}"]`).waitFor()
  await page.locator('input[data-builder-publish-message]').fill(`Purchases with approval ${stamp}`)
  const response = await answerTo('POST', `/api/apps/${APP}/publish`, () => page.click('[data-builder-publish-submit]'))
  check(response.status() === 201, `publish answered ${response.status()}: ${await response.text()}`)
  await page.locator('[data-builder-published]').waitFor()
})

await step('admin grants rep1 requester and finance1 finance in purchases on the Users page', async () => {
  await answerTo('GET', '/api/users', () => page.click('[data-nav] [data-nav-page="admin-users"]'))
  for (const [user, role] of [['rep1', 'requester'], ['finance1', 'finance']]) {
    const row = page.locator('[data-users] tbody tr', { has: page.locator(`[data-username="${user}"]`) })
    await row.locator('[data-user-grants]').click()
    const dialog = page.locator('.el-dialog[data-grants-dialog]')
    await dialog.waitFor()
    await choose(dialog.locator(`[data-grants-app="${APP}"]`), `[data-role-option="${role}"]`)
    await dialog.locator('.el-dialog__header').click()
    const response = await answerTo('PUT', `/api/users/${user}/grants/${APP}`, () => dialog.locator('[data-grants-save]').click())
    check(response.status() === 200, `PUT grants answered ${response.status()}: ${await response.text()}`)
    check((await response.json()).grants?.[APP]?.includes(role), `${user} is not ${role} in ${APP}`)
    await dialog.waitFor({ state: 'hidden' })
  }
})

let purchaseId = ''
await step('rep1 creates a purchase of 20000 and submits it; its note is read-only in approval', async () => {
  await signIn('rep1', ['demo'])
  await page.goto(`${BASE}/#/${APP}/${FORM}/new`)
  await page.locator('[data-save]').waitFor()
  await page.locator('[data-field="title"] input').fill(`Laptops ${stamp}`)
  await page.locator('[data-field="amount"] input').fill('20000')
  await page.locator('[data-field="note"] input').fill('for the new team')
  const response = await answerTo('POST', `/forms/${FORM}/records`, () => page.click('[data-save]'))
  check(response.status() === 201, `POST answered ${response.status()}: ${await response.text()}`)
  purchaseId = (await response.json()).id
  await page.waitForURL(new RegExp(`#/${APP}/${FORM}/${purchaseId}$`))
  const submitted = await answerTo('POST', `/records/${purchaseId}/actions/submit`, () => page.click('[data-flow-action="submit"]'))
  check(submitted.status() === 200, `submit answered ${submitted.status()}: ${await submitted.text()}`)
  await eventually(async () => (await page.locator('[data-flow-state]').getAttribute('data-state')) === 'approval', 'the purchase is not in approval')
  await eventually(async () => (await page.locator('[data-field="note"] input').count()) === 0, 'the note can still be edited in approval')
  // Nor does the server take a change to it.
  const { body: record } = await apiCall('GET', `/api/apps/${APP}/forms/${FORM}/records/${purchaseId}`)
  const patched = await page.evaluate(
    async ({ url, version }) => {
      const stored = JSON.parse(sessionStorage.getItem('tessera.session') ?? '{}')
      const r = await fetch(url, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${stored.token}`, 'If-Match': `"${version}"` },
        body: JSON.stringify({ data: { note: 'changed in approval' } }),
      })
      return r.status
    },
    { url: `/api/apps/${APP}/forms/${FORM}/records/${purchaseId}`, version: record.version },
  )
  check(patched >= 400 && patched < 500, `a change to the locked note answered ${patched}`)
})

/** Approves the purchase from My tasks as the user signed in. */
async function approveFromTasks() {
  await page.goto(`${BASE}/#/-/tasks`)
  const row = page.locator('[data-tasks] tbody tr', { has: page.locator(`[data-task-record="${purchaseId}"]`) })
  await row.waitFor()
  await row.locator('[data-task-approve]').click()
  const dialog = page.locator('.el-dialog[data-flow-dialog]')
  await dialog.waitFor()
  const response = await answerTo('POST', '/approve', () => dialog.locator('[data-flow-confirm]').click())
  check(response.status() === 200, `approve answered ${response.status()}: ${await response.text()}`)
  return (await response.json()).flow
}

await step('manager1 does not see the note the manager step hides, approves from My tasks; it waits for finance', async () => {
  await signIn('manager1', ['demo'])
  await page.goto(`${BASE}/#/${APP}/${FORM}/${purchaseId}`)
  await page.locator('[data-field="title"]').waitFor()
  await eventually(async () => (await page.locator('[data-field="note"]').count()) === 0, 'the record page shows manager1 the note')
  const { body: seen } = await apiCall('GET', `/api/apps/${APP}/forms/${FORM}/records/${purchaseId}`)
  check(seen.data && !('note' in seen.data), `the API gives manager1 the note: ${JSON.stringify(seen.data)}`)
  const flow = await approveFromTasks()
  check(flow?.state === 'approval', `after the manager the purchase is in ${flow?.state}`)
})

await step('finance1 countersigns it from My tasks; it is approved', async () => {
  await signIn('finance1', ['demo'])
  // The finance step lets its approvers change note, though approval locks it.
  await page.goto(`${BASE}/#/${APP}/${FORM}/${purchaseId}`)
  await page.locator('[data-field="note"] input').waitFor()
  await page.locator('[data-field="note"] input').fill('for the new team, 2 fewer')
  const saved = await answerTo('PATCH', `/records/${purchaseId}`, () => page.click('[data-save]'))
  check(saved.status() === 200, `finance1's change to note answered ${saved.status()}: ${await saved.text()}`)
  const flow = await approveFromTasks()
  check(flow?.state === 'approved', `after finance the purchase is in ${flow?.state}`)
})

await step('rep1, copied on the finance step, is told it approved the purchase', async () => {
  await signIn('rep1', ['demo'])
  await eventually(async () => {
    const { status, body } = await apiCall('GET', '/api/notifications')
    check(status === 200, `GET /api/notifications answered ${status}`)
    return body.items.some((n) => n.message?.record === purchaseId && n.message?.step === 'finance' && n.message?.outcome === 'approved')
  }, 'rep1 has no notification of the finance step')
})

await step('admin changes the flow and publishes: the builder tells the purchase in flight, without holding the publish', async () => {
  await signIn('admin')
  await page.goto(`${BASE}/#/-/builder/${APP}/flows/${FORM}`)
  await node('approval').waitFor()
  await page.click('[data-flow-outline] [data-flow-state="approval"]')
  await page.locator('input[data-flow-prop-en]').fill('Waiting for approval')
  await settled()
  await page.click('[data-flow-to-builder]')
  await page.waitForURL(new RegExp(`#/-/builder/${APP}$`))
  await page.locator('input[data-builder-publish-message]').fill(`Approval renamed ${stamp}`)
  const response = await answerTo('POST', `/api/apps/${APP}/publish`, () => page.click('[data-builder-publish-submit]'))
  check(response.status() === 201, `publish answered ${response.status()}: ${await response.text()}`)
  await page.locator('[data-builder-published]').waitFor()
  const line = page.locator(`[data-published-flow][data-impact-flow="${FORM}"]`)
  await line.waitFor()
  const text = await line.innerText()
  check(/\b1\b/.test(text) && text.includes('approved: 1'), `the line says "${text}"`)
})

await step('admin adds the state on_hold, reached from draft by hold, and publishes', async () => {
  await page.goto(`${BASE}/#/-/builder/${APP}/flows/${FORM}`)
  await node('approval').waitFor()
  await page.click('[data-flow-add-state]')
  await node('state_4').waitFor()
  await nameState('state_4', 'on_hold', '暂缓', 'On hold')
  await page.click('[data-flow-prop-terminal]')
  await page.click('[data-flow-layout]')
  await settled()
  await connect('draft', 'on_hold')
  await page.locator('[data-flow-outline] [data-flow-transition="action_2"]').waitFor()
  await page.locator('input[data-flow-prop-action]').fill('hold')
  await page.locator('input[data-flow-prop-zh]').fill('暂缓')
  await page.locator('input[data-flow-prop-en]').fill('Hold')
  await choose(page.locator('[data-flow-prop-who-roles]'), '[data-flow-who-role-option="requester"]')
  await closeSelect()
  await page.locator('[data-flow-outline] [data-flow-transition="hold"]').waitFor()
  await settled()
  // The new state becomes an option of status in the form's draft.
  await page.click('[data-flow-settings]')
  await page.locator('[data-flow-missing-options]').waitFor()
  await answerTo('PUT', `/definitions/form/${FORM}`, () => page.click('[data-flow-sync-options]'))
  await page.locator('[data-flow-missing-options]').waitFor({ state: 'detached' })
  await eventually(async () => (await page.locator('[data-flow-node-problem]').count()) === 0,
    async () => `still marked: ${await page.locator('[data-flow-problems]').innerText().catch(() => '')}`)
  await page.click('[data-flow-to-builder]')
  await page.waitForURL(new RegExp(`#/-/builder/${APP}$`))
  await page.locator('input[data-builder-publish-message]').fill(`On hold ${stamp}`)
  const response = await answerTo('POST', `/api/apps/${APP}/publish`, () => page.click('[data-builder-publish-submit]'))
  check(response.status() === 201, `publish answered ${response.status()}: ${await response.text()}`)
})

let heldId = ''
await step('rep1 puts a new purchase on hold', async () => {
  await signIn('rep1', ['demo'])
  const created = await apiCall('POST', `/api/apps/${APP}/forms/${FORM}/records`, { data: { title: `Chairs ${stamp}`, amount: 500 } })
  check(created.status === 201, `POST answered ${created.status}: ${JSON.stringify(created.body)}`)
  heldId = created.body.id
  const held = await apiCall('POST', `/api/apps/${APP}/forms/${FORM}/records/${heldId}/actions/hold`, {})
  check(held.status === 200 && held.body.flow?.state === 'on_hold', `hold answered ${held.status}: ${JSON.stringify(held.body)}`)
})

await step('admin replaces on_hold by a new state paused in the designer', async () => {
  await signIn('admin')
  await page.goto(`${BASE}/#/-/builder/${APP}/flows/${FORM}`)
  await node('on_hold').waitFor()
  await page.click('[data-flow-add-state]')
  await node('state_5').waitFor()
  await nameState('state_5', 'paused', '已暂停', 'Paused')
  await page.click('[data-flow-prop-terminal]')
  await page.click('[data-flow-layout]')
  await settled()
  await connect('draft', 'paused')
  await page.locator('[data-flow-outline] [data-flow-transition="action_3"]').waitFor()
  await page.locator('input[data-flow-prop-action]').fill('pause')
  await page.locator('[data-flow-outline] [data-flow-transition="pause"]').waitFor()
  await settled()
  // Synced while on_hold is a state still: status keeps its option, and the held purchase stays valid.
  await page.click('[data-flow-settings]')
  await page.locator('[data-flow-missing-options]').waitFor()
  await answerTo('PUT', `/definitions/form/${FORM}`, () => page.click('[data-flow-sync-options]'))
  await page.locator('[data-flow-missing-options]').waitFor({ state: 'detached' })
  await node('on_hold').click()
  await page.keyboard.press('Delete')
  await node('on_hold').waitFor({ state: 'detached' })
  await settled()
  await eventually(async () => (await page.locator('[data-flow-node-problem]').count()) === 0,
    async () => `still marked: ${await page.locator('[data-flow-problems]').innerText().catch(() => '')}`)
  const flow = await draftFlow()
  check(flow.states.map((s) => s.id).join() === 'draft,approval,approved,paused', `the states saved are ${flow.states.map((s) => s.id)}`)
})

await step('the publish lists on_hold as staying; mapped to paused, the impact is measured again and publishes', async () => {
  await page.click('[data-flow-to-builder]')
  await page.waitForURL(new RegExp(`#/-/builder/${APP}$`))
  await page.locator('input[data-builder-publish-message]').fill(`On hold becomes paused ${stamp}`)
  await measuredImpact(APP, () => page.click('[data-builder-publish-submit]'))
  const flowLine = page.locator(`[data-impact] [data-impact-flow="${FORM}"]`)
  const row = flowLine.locator('[data-impact-staying-state="on_hold"]')
  await row.waitFor()
  check((await row.getAttribute('data-impact-staying')) === 'true', 'on_hold is not shown staying')
  check((await flowLine.locator('[data-impact-flow-staying]').innerText()).includes('on_hold'), 'the line does not name on_hold')
  check((await row.locator('[data-impact-map-state]').innerText()).trim().length > 0, 'no default choice is shown')
  const [saved, measured] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes(`/definitions/flow/${FORM}`)),
    measuredImpact(APP, () => choose(row.locator('[data-impact-map-state]'), '[data-impact-map-option="paused"]')),
  ])
  check(saved.status() === 200, `PUT flow answered ${saved.status()}: ${await saved.text()}`)
  check(saved.request().headers()['if-match'], 'the upgrade was saved without If-Match')
  const answer = measured.impact
  const flowImpact = answer.flows.find((f) => f.form === FORM)
  check(flowImpact && !flowImpact.staying.includes('on_hold'), `the impact measured again says ${JSON.stringify(answer.flows)}`)
  await eventually(async () => (await row.getAttribute('data-impact-staying')) === 'false', 'on_hold is still shown staying')
  check((await flowLine.locator('[data-impact-flow-staying]').count()) === 0, 'the line still names staying states')
  check(JSON.stringify((await draftFlow()).upgrade) === '{"states":{"on_hold":"paused"}}', 'the draft flow has no upgrade of on_hold')
  const response = await answerTo('POST', `/api/apps/${APP}/publish`, () => page.click('[data-impact-publish]'))
  check(response.status() === 201, `publish answered ${response.status()}: ${await response.text()}`)
  await page.locator('[data-builder-published]').waitFor()
  const view = await apiCall('GET', `/api/apps/${APP}/forms/${FORM}/records/${heldId}/actions`)
  check(view.status === 200 && view.body.state === 'paused', `the held purchase is now ${JSON.stringify(view.body).slice(0, 300)}`)
})

await finish()
