// Browser test of the report builder, the dashboard builder and drill-down: an admin builds a
// report on the CRM's opportunities (the sum of amount by stage and month of close date, as a
// stacked bar) by dragging fields, sees the server's result and a problem shown where it is, a
// conditional count (won only), a calculated share and a weighted sum (amount × probability) live,
// saves it into the draft, adds it to a new dashboard, and publishes on the builder page (a
// report-only change has no impact on records), the dashboard seen by sales managers only.
// Then manager1 (a sales manager) opens the dashboard and clicks a
// bar: the dialog lists exactly the records behind it — as many as the drill endpoint answers,
// each of that stage and month, their amounts adding up to the bar's value. Last, the admin
// counts accounts by their region's province on a map (the provinces' outlines), publishes it on
// a dashboard of its own, and a click on 广东 lists exactly the accounts in 广东省.
//
//   npm ci --prefix tests/browser          # once: installs playwright-core
//   TESSERA_URL=http://127.0.0.1:8080 node tests/browser/reports.mjs
//
// TESSERA_URL is a server started with `tessera serve --demo` on a fresh database (the test
// publishes the CRM with a new report and dashboard, ids fixed). Optional:
// TESSERA_SCREENSHOTS=<dir> saves a screenshot after every step; CHROMIUM=<path> overrides
// /usr/bin/chromium. Prints one line per step and finally `browser: N passed, M failed`; exits
// non-zero on any failure.
import { BASE, answerTo, apiCall, check, dragByMouse, eventually, finish, page, signIn, step } from './harness.mjs'

const APP = 'crm'
const REPORT = 'amount_by_stage_month'
const DASHBOARD = 'pipeline_months'
const MAP_REPORT = 'accounts_on_map'
const MAP_DASHBOARD = 'accounts_map'

/** Picks option `option` of the Element Plus select `select` (both locators). */
async function choose(select, option) {
  await select.click()
  await option.waitFor()
  await option.click()
}

/** Waits until the report builder has asked the server for the report as it now is. */
async function settledResult() {
  await eventually(async () => (await page.locator('[data-report-result]').getAttribute('data-report-querying')) === 'false', 'the live query never settled')
  await page.waitForTimeout(500) // the debounce of the last change
  await eventually(async () => (await page.locator('[data-report-result]').getAttribute('data-report-querying')) === 'false', 'the live query never settled')
}

await step('admin signs in', () => signIn('admin'))

await step('the builder page lists the CRM\'s reports and dashboards; "New report" opens the report builder', async () => {
  await page.goto(`${BASE}/#/-/builder/${APP}`)
  const card = page.locator('[data-builder-reports]')
  await card.locator('[data-builder-report="sales_funnel"]').waitFor()
  await card.locator('[data-builder-dashboard="sales"]').waitFor()
  await page.click('[data-builder-new-report]')
  await page.locator('.reports-card__prompt input').fill(REPORT)
  await page.click('.reports-card__prompt .el-button--primary')
  await page.locator(`[data-report-builder][data-report-id="${REPORT}"]`).waitFor()
  check(page.url().endsWith(`/-/builder/${APP}/reports/${REPORT}`), `the builder opened at ${page.url()}`)
})

await step('admin drags amount into measures, close date and stage into dimensions: the server\'s result follows', async () => {
  await choose(page.locator('[data-report-source]'), page.locator('[data-report-source-option="opportunity"]'))
  await page.locator('[data-report-field="close_date"]').waitFor()
  await dragByMouse(page.locator('[data-report-field="amount"]'), page.locator('[data-report-measures]'), 0.9)
  await page.locator('[data-report-measure="amount"]').waitFor()
  await dragByMouse(page.locator('[data-report-field="close_date"]'), page.locator('[data-report-dimensions]'), 0.9)
  await page.locator('[data-report-dimension="close_date"]').waitFor()
  await dragByMouse(page.locator('[data-report-field="stage"]'), page.locator('[data-report-dimensions]'), 0.9)
  await page.locator('[data-report-dimension="stage"]').waitFor()
  const order = await page.locator('[data-report-dimensions] [data-report-dimension]').evaluateAll((els) => els.map((e) => e.dataset.reportDimension))
  check(JSON.stringify(order) === '["close_date","stage"]', `dimensions in the order ${order.join(', ')}`)
  // A number is summed, a date grouped by month, unless changed.
  check((await page.locator('[data-report-agg="amount"]').innerText()).trim() !== '', 'the measure has no aggregate')
  await settledResult()
  const rows = Number(await page.locator('[data-report-rows]').getAttribute('data-report-rows'))
  check(rows > 1, `the result has ${rows} rows`)
  const months = await page.locator('[data-report-table] [data-col="close_date"]').allInnerTexts()
  check(months.length && months.every((m) => /^\d{4}-\d{2}$/.test(m.trim())), `close dates are not months: ${months.slice(0, 3).join(', ')}`)
})

await step('a measure the server refuses shows its problem at the measure; removing it clears it', async () => {
  await page.locator('[data-report-field-add="name"]').click()
  await page.locator('.el-dropdown-menu:visible [data-report-add="measure"]').click()
  await page.locator('[data-report-measure="name"]').waitFor()
  await choose(page.locator('[data-report-agg="name"]'), page.locator('.el-select-dropdown:visible [data-report-agg-option="sum"]'))
  const problem = page.locator('[data-report-problem="/measures/1"]')
  await problem.waitFor()
  check((await problem.innerText()).includes('number'), `the problem says "${await problem.innerText()}"`)
  await page.click('[data-report-measure-remove="name"]')
  await settledResult()
  check((await page.locator('[data-report-problem]').count()) === 0, 'a problem stays after the measure is gone')
})

/** Waits for the live query's answer to a definition whose measures satisfy `wanted`. */
function queryAnswer(wanted) {
  return page.waitForResponse((r) => {
    if (r.request().method() !== 'POST' || !r.url().includes(`/api/apps/${APP}/query`)) return false
    const sent = r.request().postDataJSON()
    return wanted(sent.measures ?? [])
  })
}

await step('a count of won opportunities only (a measure\'s own filter) equals the record count on won rows and is empty on the others; a calculated share follows', async () => {
  for (const id of ['count', 'count_2']) {
    await page.locator('[data-report-field-add="#count"]').click()
    await page.locator('.el-dropdown-menu:visible [data-report-add="measure"]').click()
    await page.locator(`[data-report-measure="${id}"]`).waitFor()
    await page.waitForTimeout(300) // the menu fades out
  }
  await page.click('[data-report-measure-more="count_2"]')
  const details = page.locator('[data-report-measure-details="count_2"]')
  await details.waitFor()
  await choose(details.locator('[data-report-measure-filter-add="count_2"]'), page.locator('.el-select-dropdown:visible [data-report-measure-filter-field="stage"]'))
  const condition = details.locator('[data-report-measure-filter="stage"]')
  await condition.waitFor()
  const won = (measures) => JSON.stringify(measures.find((m) => m.id === 'count_2')?.filter) === '{"stage":{"in":["won"]}}'
  const [answer] = await Promise.all([
    queryAnswer(won),
    choose(condition.locator('[data-report-measure-filter-value="stage"]'), page.locator('.el-select-dropdown:visible [data-report-measure-value-option="won"]')),
  ])
  await page.keyboard.press('Escape')
  check(answer.ok(), `the query answered ${answer.status()}: ${await answer.text()}`)
  const result = await answer.json()
  const sent = answer.request().postDataJSON().measures.find((m) => m.id === 'count_2')
  check(sent.agg === 'count' && !sent.field, `the conditional measure sent is ${JSON.stringify(sent)}`)
  const empty = (v) => v == null || v === 0
  const wrong = result.rows.filter((r) => (r.stage === 'won' ? r.count_2 !== r.count : !empty(r.count_2)))
  check(result.rows.some((r) => r.stage === 'won' && r.count > 0), 'no row of won opportunities')
  check(wrong.length === 0, `rows where the conditional count is off: ${JSON.stringify(wrong.slice(0, 3))}`)
  await settledResult()
  const shown = await page.locator('[data-report-table] [data-col="count_2"]').allInnerTexts()
  const expected = result.rows.map((r) => (r.count_2 == null ? '' : String(r.count_2)))
  check(shown.map((x) => x.trim()).join() === expected.join(), `the table's column shows ${shown.slice(0, 5)}, the answer ${expected.slice(0, 5)}`)

  // A calculated measure: the share of won among all, from the two counts.
  await page.click('[data-report-add-calc]')
  const calc = page.locator('[data-report-measure-details="calc"] input[data-report-measure-calc="calc"]')
  await calc.waitFor()
  const [calculated] = await Promise.all([
    queryAnswer((measures) => measures.find((m) => m.id === 'calc')?.calc === 'count_2 / count'),
    calc.fill('count_2 / count'),
  ])
  check(calculated.ok(), `the query answered ${calculated.status()}: ${await calculated.text()}`)
  const calcSent = calculated.request().postDataJSON().measures.find((m) => m.id === 'calc')
  check(!('agg' in calcSent) && !('field' in calcSent), `the calculated measure sent is ${JSON.stringify(calcSent)}`)
  const shares = (await calculated.json()).rows
  const off = shares.filter((r) => r.count > 0 && Math.abs(Number(r.calc ?? 0) - Number(r.count_2 ?? 0) / r.count) > 1e-9)
  check(off.length === 0, `rows where the share is off: ${JSON.stringify(off.slice(0, 3))}`)
  for (const id of ['calc', 'count_2', 'count']) await page.click(`[data-report-measure-remove="${id}"]`)
  await settledResult()
  check((await page.locator('[data-report-problem]').count()) === 0, 'a problem stays after the measures are gone')
})

await step('amount weighted by probability (times) sums amount × probability; taken back, the plain sum returns', async () => {
  const plain = (await page.locator('[data-report-table] [data-col="amount"]').allInnerTexts()).join()
  await page.click('[data-report-measure-more="amount"]')
  const details = page.locator('[data-report-measure-details="amount"]')
  await details.waitFor()
  const [weighted] = await Promise.all([
    queryAnswer((measures) => measures.find((m) => m.id === 'amount')?.times === 'probability'),
    choose(details.locator('[data-report-measure-times="amount"]'), page.locator('.el-select-dropdown:visible [data-report-measure-times-option="probability"]')),
  ])
  check(weighted.ok(), `the query answered ${weighted.status()}: ${await weighted.text()}`)
  const sent = weighted.request().postDataJSON().measures.find((m) => m.id === 'amount')
  check(sent.agg === 'sum' && sent.field === 'amount', `the weighted measure sent is ${JSON.stringify(sent)}`)
  await settledResult()
  const shown = (await page.locator('[data-report-table] [data-col="amount"]').allInnerTexts()).join()
  check(shown !== plain, 'the weighted sums are the plain sums')
  await details.locator('[data-report-measure-times="amount"]').hover()
  await details.locator('[data-report-measure-times="amount"] .el-select__clear').click()
  await settledResult()
  await eventually(async () => (await page.locator('[data-report-table] [data-col="amount"]').allInnerTexts()).join() === plain, 'the plain sums do not return')
  await page.click('[data-report-measure-more="amount"]')
  await details.waitFor({ state: 'detached' })
})

await step('close date dragged into filters offers relative periods: "this year" keeps only this year\'s months', async () => {
  await dragByMouse(page.locator('[data-report-field="close_date"]'), page.locator('[data-report-filters]'), 0.9)
  await page.locator('[data-report-filter="close_date"]').waitFor()
  await choose(page.locator('[data-report-filter-value="close_date"]'), page.locator('.el-select-dropdown:visible [data-report-period-option="this_year"]'))
  await settledResult()
  const year = String(new Date().getFullYear())
  const months = await page.locator('[data-report-table] [data-col="close_date"]').allInnerTexts()
  check(months.length > 0 && months.every((m) => m.startsWith(year)), `months shown with the filter: ${[...new Set(months)].join(', ')}`)
  await page.click('[data-report-filter-remove="close_date"]')
  await settledResult()
  const all = await page.locator('[data-report-table] [data-col="close_date"]').allInnerTexts()
  check(all.some((m) => !m.startsWith(year)), 'removing the filter did not bring other years back')
})

await step('admin draws it as a stacked bar: months across, a series per stage', async () => {
  await page.click('[data-report-kind="bar"]')
  await choose(page.locator('[data-report-chart-x]'), page.locator('[data-report-chart-x-option="close_date"]'))
  await choose(page.locator('[data-report-chart-series]'), page.locator('[data-report-chart-series-option="stage"]'))
  await settledResult()
  await page.locator('[data-report-preview] [data-tile-chart]').waitFor()
  const stacked = await page.locator('[data-report-preview] [data-tile-chart]').evaluate((el) => {
    const series = el.__chart?.getOption().series ?? []
    return { count: series.length, stacked: series.every((s) => s.type === 'bar' && s.stack) }
  })
  check(stacked.count > 1 && stacked.stacked, `the chart is not a stacked bar: ${JSON.stringify(stacked)}`)
})

await step('admin names it and saves it into the draft, with no problem in the report', async () => {
  await page.locator('input[data-report-label-zh]').fill('按阶段和月份的商机金额')
  await page.locator('input[data-report-label-en]').fill('Amount by stage and month')
  const response = await answerTo('PUT', `/definitions/report/${REPORT}`, () => page.click('[data-report-save]'))
  check(response.ok(), `save answered ${response.status()}: ${await response.text()}`)
  const saved = await response.json()
  const own = (saved.problems ?? []).filter((p) => p.file === `reports/${REPORT}.json`)
  check(own.length === 0, `the report has problems: ${JSON.stringify(own)}`)
  const stored = await apiCall('GET', `/api/apps/${APP}/definitions/report/${REPORT}`)
  const def = stored.body?.definition ?? {}
  check(def.source === 'opportunity', `the draft's report counts ${def.source}`)
  check(def.measures?.[0]?.agg === 'sum' && def.measures[0].field === 'amount', `measures ${JSON.stringify(def.measures)}`)
  check(def.dimensions?.[0]?.bucket === 'month' && def.dimensions[1]?.field === 'stage', `dimensions ${JSON.stringify(def.dimensions)}`)
  check(def.chart?.kind === 'bar' && def.chart.x === 'close_date' && def.chart.series === 'stage', `chart ${JSON.stringify(def.chart)}`)
  await eventually(async () => !(await page.locator('[data-report-dirty]').count()), 'the builder still says unsaved')
})

await step('"Add to dashboard" puts it on a new dashboard, opened in the dashboard builder', async () => {
  await page.click('[data-report-add-to-dashboard]')
  const dialog = page.locator('[data-report-dashboard-dialog]')
  await dialog.locator('[data-report-dashboard-choice]').waitFor()
  await choose(dialog.locator('[data-report-dashboard-choice]'), page.locator('.el-select-dropdown:visible [data-report-dashboard-option="+"]'))
  await dialog.locator('input[data-report-dashboard-id]').fill(DASHBOARD)
  await dialog.locator('input[data-report-dashboard-zh]').fill('月度管道')
  await dialog.locator('input[data-report-dashboard-en]').fill('Pipeline by month')
  const response = await answerTo('PUT', `/definitions/dashboard/${DASHBOARD}`, () => dialog.locator('[data-report-dashboard-submit]').click())
  check(response.ok(), `saving the dashboard answered ${response.status()}: ${await response.text()}`)
  await page.locator(`[data-dash-builder][data-dash-id="${DASHBOARD}"]`).waitFor()
  await page.locator(`[data-dash-tile="${REPORT}"]`).waitFor()
  // The tile shows the draft's report, run by the server.
  await page.locator(`[data-dash-tile="${REPORT}"] [data-tile-chart]`).waitFor()
})

await step('admin adds the sales funnel, drags it before the new report, makes the report a row taller by its corner and saves', async () => {
  await choose(page.locator('[data-dash-tile-report]'), page.locator('.el-select-dropdown:visible [data-dash-tile-report-option="sales_funnel"]'))
  await page.click('[data-dash-tile-add]')
  await page.locator('[data-dash-tile="sales_funnel"] [data-tile-chart]').waitFor()
  const order = () => page.locator('[data-dash-tile]').evaluateAll((els) => els.map((e) => e.dataset.dashTile))
  await page.waitForTimeout(500) // the grid slides a new tile into its place
  // Moved by its bar onto the first place: the tiles flow again in the new order.
  const bar = await page.locator('[data-dash-tile="sales_funnel"] .dash-tile__bar').boundingBox()
  const first = await page.locator(`[data-dash-tile="${REPORT}"] .dash-tile__bar`).boundingBox()
  await page.mouse.move(bar.x + 40, bar.y + bar.height / 2)
  await page.mouse.down()
  await page.mouse.move(bar.x + 30, bar.y + bar.height / 2 + 5, { steps: 5 })
  await page.mouse.move(first.x + 20, first.y + 10, { steps: 25 })
  await page.waitForTimeout(200)
  await page.mouse.up()
  await eventually(async () => (await order()).join() === `sales_funnel,${REPORT}`, async () => `the tiles are in the order ${(await order()).join(', ')}`)
  const tile = page.locator(`[data-dash-tile="${REPORT}"]`)
  await eventually(async () => (await tile.getAttribute('data-dash-tile-size')) === '6x4', async () => `the report's tile is ${await tile.getAttribute('data-dash-tile-size')}`)
  const handle = tile.locator('.vgl-item__resizer')
  await handle.scrollIntoViewIfNeeded()
  const box = await handle.boundingBox()
  // One grid row down: 80 px and the 12 px between rows.
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
  await page.mouse.down()
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2 + 92, { steps: 20 })
  await page.mouse.up()
  await eventually(async () => (await tile.getAttribute('data-dash-tile-size')) === '6x5', async () => `the tile is ${await tile.getAttribute('data-dash-tile-size')}`)
  const response = await answerTo('PUT', `/definitions/dashboard/${DASHBOARD}`, () => page.click('[data-dash-save]'))
  check(response.ok(), `save answered ${response.status()}`)
  const stored = await apiCall('GET', `/api/apps/${APP}/definitions/dashboard/${DASHBOARD}`)
  const tiles = (stored.body?.definition?.tiles ?? []).map((t) => `${t.report} ${t.width}x${t.height}`)
  check(tiles.join() === `sales_funnel 6x4,${REPORT} 6x5`, `tiles ${tiles.join(', ')}`)
})

await step('admin makes the dashboard seen by sales managers only; saved as its roles', async () => {
  await choose(page.locator('[data-dash-roles]'), page.locator('.el-select-dropdown:visible [data-dash-role-option="sales_manager"]'))
  await page.keyboard.press('Escape')
  await page.locator('[data-dash-dirty]').waitFor()
  const response = await answerTo('PUT', `/definitions/dashboard/${DASHBOARD}`, () => page.click('[data-dash-save]'))
  check(response.ok(), `save answered ${response.status()}`)
  const stored = await apiCall('GET', `/api/apps/${APP}/definitions/dashboard/${DASHBOARD}`)
  const def = stored.body?.definition ?? {}
  check(JSON.stringify(def.roles) === '["sales_manager"]', `the dashboard's roles are ${JSON.stringify(def.roles)}`)
  check(def.tiles?.length === 2, `the tiles are ${JSON.stringify(def.tiles)}`)
  // Opened again, the builder shows the roles chosen.
  await page.reload()
  await page.locator('[data-dash-roles]').waitFor()
  await eventually(async () => (await page.locator('[data-dash-roles]').innerText()).includes('sales_manager'), 'the roles are not shown again')
  await eventually(async () => (await page.locator('[data-dash-dirty]').count()) === 0, 'opened again, the dashboard says unsaved')
})

await step('admin publishes on the builder page: a report and a dashboard change no records', async () => {
  await page.click('[data-dash-back]')
  await page.locator('[data-builder-reports]').waitFor()
  await page.locator('input[data-builder-publish-message]').fill('Pipeline by month')
  const response = await answerTo('POST', `/api/apps/${APP}/publish`, () => page.click('[data-builder-publish-submit]'))
  check(response.status() === 201, `publish answered ${response.status()}: ${await response.text()}`)
  await page.locator('[data-builder-published]').waitFor()
})

await step('manager1 signs in and opens the new dashboard from the menu', async () => {
  await signIn('manager1', ['demo'])
  await page.goto(`${BASE}/#/${APP}`)
  const entry = page.locator(`[data-nav] [data-nav-dashboard="${DASHBOARD}"]`)
  await entry.waitFor()
  await answerTo('GET', `/dashboards/${DASHBOARD}`, () => entry.click())
  await page.locator(`[data-tile="${REPORT}"] [data-tile-chart]`).waitFor()
})

let clicked = null
await step('manager1 clicks the tallest bar part: the dialog lists exactly the records behind it', async () => {
  const chart = page.locator(`[data-tile="${REPORT}"] [data-tile-chart]`)
  await chart.scrollIntoViewIfNeeded()
  await page.waitForTimeout(800) // the bars grow in
  // Where the biggest part of a bar is drawn, and the cell it stands for.
  clicked = await chart.evaluate((el) => {
    const instance = el.__chart
    let best = null
    instance.getOption().series.forEach((series, seriesIndex) => {
      series.data.forEach((item, dataIndex) => {
        if (item?.value == null || (best && best.value >= item.value)) return
        best = { seriesIndex, dataIndex, value: item.value, drill: item.drill }
      })
    })
    const layout = instance.getModel().getSeriesByIndex(best.seriesIndex).getData().getItemLayout(best.dataIndex)
    return { ...best, x: layout.x + layout.width / 2, y: layout.y + layout.height / 2 }
  })
  check(clicked?.drill?.cell?.close_date && clicked.drill.cell.stage, `the bar names no cell: ${JSON.stringify(clicked)}`)
  const box = await chart.boundingBox()
  const response = await answerTo('POST', `/reports/${REPORT}/drill`, () => page.mouse.click(box.x + clicked.x, box.y + clicked.y))
  check(response.ok(), `the drill-down answered ${response.status()}`)
  const sent = response.request().postDataJSON()
  check(JSON.stringify(sent.cell) === JSON.stringify(clicked.drill.cell), `asked for ${JSON.stringify(sent.cell)}, clicked ${JSON.stringify(clicked.drill.cell)}`)
  const dialog = page.locator('[data-drill]')
  await dialog.locator('[data-drill-count]').waitFor()
  const shown = Number(await dialog.locator('[data-drill-count]').getAttribute('data-drill-count'))
  const links = await dialog.locator('[data-drill-record]').count()
  // The server's own answer for the same cell: every record, page by page.
  const ids = []
  let cursor = null
  do {
    const page_ = await apiCall('POST', `/api/apps/${APP}/reports/${REPORT}/drill`, { cell: clicked.drill.cell, measure: 'amount', limit: 500, ...(cursor ? { cursor } : {}) })
    check(page_.status === 200, `the drill endpoint answered ${page_.status}`)
    for (const record of page_.body.items) {
      check(record.data.stage === clicked.drill.cell.stage && String(record.data.close_date).startsWith(clicked.drill.cell.close_date), `record ${record.id} is not of the cell`)
      ids.push({ id: record.id, amount: record.data.amount })
    }
    cursor = page_.body.next_cursor
  } while (cursor)
  check(shown === ids.length && links === ids.length, `the dialog shows ${shown} (${links} links); the drill endpoint has ${ids.length}`)
  const total = ids.reduce((sum, r) => sum + Number(r.amount ?? 0), 0)
  check(Math.abs(total - clicked.value) < 0.005, `the records' amounts add up to ${total}, the bar says ${clicked.value}`)
})

await step('a record of the dialog opens its page', async () => {
  const link = page.locator('[data-drill] [data-drill-record]').first()
  const id = await link.getAttribute('data-drill-record')
  await link.click()
  await eventually(async () => page.url().endsWith(`/${APP}/opportunity/${id}`), () => `the record page did not open: ${page.url()}`)
  await eventually(async () => !(await page.locator('[data-drill]').isVisible()), 'the dialog stays open')
})

await step('on the sales dashboard, filtered to rep1, a cross-table cell drills to its records, the filter applied', async () => {
  await answerTo('GET', '/dashboards/sales', () => page.goto(`${BASE}/#/${APP}/dashboards/sales`))
  const filter = page.locator('[data-dashboard-filter="owner"] .el-select')
  await filter.click()
  await page.keyboard.type('rep1')
  await answerTo('GET', '/dashboards/sales', () => page.keyboard.press('Enter'))
  await page.keyboard.press('Escape')
  const pivot = page.locator('[data-tile="pipeline_by_owner"] [data-tile-pivot]')
  await pivot.waitFor()
  // The answer is drawn after it arrives.
  await eventually(async () => (await pivot.locator('[data-pivot-row]').count()) === 1, async () => `the cross table has ${await pivot.locator('[data-pivot-row]').count()} rows with the filter on rep1`)
  check((await pivot.locator('[data-col="owner"]').innerText()).trim() === 'rep1', 'the cross table\'s row is not rep1\'s')
  const won = await pivot.locator('[data-pivot-column]').evaluateAll((ths) => ths.find((th) => th.dataset.pivotColumnKey === 'won')?.dataset.pivotColumn)
  check(won != null, 'the cross table has no column for won')
  const cell = pivot.locator(`[data-pivot-cell="0/${won}/count"]`) // rep1 × won, the count
  const expected = Number((await cell.innerText()).replace(/[^\d]/g, ''))
  const response = await answerTo('POST', '/reports/pipeline_by_owner/drill', () => cell.click())
  const sent = response.request().postDataJSON()
  check(sent.cell.owner === 'rep1' && sent.cell.stage === 'won' && sent.measure === 'count', `asked for ${JSON.stringify(sent)}`)
  check(JSON.stringify(sent.filter?.owner) === '{"in":["rep1"]}', `the dashboard filter was not sent: ${JSON.stringify(sent.filter)}`)
  const dialog = page.locator('[data-drill]')
  await eventually(async () => (await dialog.locator('[data-drill-count]').count()) > 0, 'no count shown')
  const shown = Number(await dialog.locator('[data-drill-count]').getAttribute('data-drill-count'))
  check(shown === expected && expected > 0, `the dialog lists ${shown} records, the cell says ${expected}`)
  await dialog.locator('[data-drill-close]').click()
})

/**
 * The map's regions as drawn in `chart` (a `[data-tile-chart]`): each one's name, value and
 * drill-down, or null before the map series is drawn.
 */
function mapRegions(chart) {
  return chart.evaluate((el) => {
    const series = el.__chart?.getOption().series ?? []
    return series[0]?.type === 'map' ? series[0].data.map((d) => ({ name: d.name, value: d.value ?? null, drill: d.drill ?? null })) : null
  })
}

await step('admin builds a report counting accounts by their region\'s province and draws it as a map of provinces', async () => {
  await signIn('admin')
  await page.goto(`${BASE}/#/-/builder/${APP}`)
  await page.click('[data-builder-new-report]')
  await page.locator('.reports-card__prompt input').fill(MAP_REPORT)
  await page.click('.reports-card__prompt .el-button--primary')
  await page.locator(`[data-report-builder][data-report-id="${MAP_REPORT}"]`).waitFor()
  await choose(page.locator('[data-report-source]'), page.locator('[data-report-source-option="account"]'))
  // A region field is offered by its parts: the province and the city.
  const part = page.locator('[data-report-field="province.province"]')
  await part.waitFor()
  check((await part.innerText()).includes('省份/城市 › 省份'), `the palette names the part "${await part.innerText()}"`)
  await page.locator('[data-report-field="province.city"]').waitFor()
  await dragByMouse(part, page.locator('[data-report-dimensions]'), 0.9)
  await page.locator('[data-report-dimension="province_province"]').waitFor()
  await dragByMouse(page.locator('[data-report-field="#count"]'), page.locator('[data-report-measures]'), 0.9)
  await page.locator('[data-report-measure="count"]').waitFor()
  await page.click('[data-report-kind="map"]')
  await settledResult()
  const chart = page.locator('[data-report-preview] [data-tile-chart]')
  await chart.locator('canvas').waitFor()
  const provinces = await page.locator('[data-report-table] [data-col="province_province"]').allInnerTexts()
  check(provinces.length > 1 && provinces.includes('广东省'), `the result's provinces are ${provinces.join(', ')}`)
  // Every province of the result has a value (its colour); the others are drawn without one.
  await eventually(async () => (await mapRegions(chart)) != null, 'the preview draws no map of provinces')
  const regions = await mapRegions(chart)
  const valued = regions.filter((region) => region.value != null)
  check(valued.length === new Set(provinces).size, `${valued.length} provinces have a value; the result has ${new Set(provinces).size} provinces`)
  const guangdong = regions.find((region) => region.name === '广东')
  check(guangdong?.value > 0 && guangdong.drill?.cell?.province_province === '广东省', `广东 is ${JSON.stringify(guangdong)}`)
})

await step('admin saves the map, puts it on a new dashboard and publishes', async () => {
  await page.locator('input[data-report-label-zh]').fill('客户地图')
  await page.locator('input[data-report-label-en]').fill('Accounts on a map')
  const saved = await answerTo('PUT', `/definitions/report/${MAP_REPORT}`, () => page.click('[data-report-save]'))
  check(saved.ok(), `save answered ${saved.status()}: ${await saved.text()}`)
  const own = ((await saved.json()).problems ?? []).filter((p) => p.file === `reports/${MAP_REPORT}.json`)
  check(own.length === 0, `the report has problems: ${JSON.stringify(own)}`)
  const stored = (await apiCall('GET', `/api/apps/${APP}/definitions/report/${MAP_REPORT}`)).body?.definition ?? {}
  check(stored.chart?.kind === 'map' && stored.dimensions?.[0]?.field === 'province.province', `the report saved is ${JSON.stringify(stored)}`)
  await page.click('[data-report-add-to-dashboard]')
  const dialog = page.locator('[data-report-dashboard-dialog]')
  await dialog.locator('[data-report-dashboard-choice]').waitFor()
  await choose(dialog.locator('[data-report-dashboard-choice]'), page.locator('.el-select-dropdown:visible [data-report-dashboard-option="+"]'))
  await dialog.locator('input[data-report-dashboard-id]').fill(MAP_DASHBOARD)
  await dialog.locator('input[data-report-dashboard-zh]').fill('客户分布')
  await dialog.locator('input[data-report-dashboard-en]').fill('Where our accounts are')
  const response = await answerTo('PUT', `/definitions/dashboard/${MAP_DASHBOARD}`, () => dialog.locator('[data-report-dashboard-submit]').click())
  check(response.ok(), `saving the dashboard answered ${response.status()}: ${await response.text()}`)
  await page.locator(`[data-dash-tile="${MAP_REPORT}"] [data-tile-chart] canvas`).waitFor()
  await page.click('[data-dash-back]')
  await page.locator('input[data-builder-publish-message]').fill('Accounts on a map')
  const published = await answerTo('POST', `/api/apps/${APP}/publish`, () => page.click('[data-builder-publish-submit]'))
  check(published.status() === 201, `publish answered ${published.status()}: ${await published.text()}`)
  await page.locator('[data-builder-published]').waitFor()
})

await step('on the dashboard, a click on 广东 lists exactly the accounts in 广东省', async () => {
  await answerTo('GET', `/dashboards/${MAP_DASHBOARD}`, () => page.goto(`${BASE}/#/${APP}/dashboards/${MAP_DASHBOARD}`))
  const chart = page.locator(`[data-tile="${MAP_REPORT}"] [data-tile-chart]`)
  await chart.locator('canvas').waitFor()
  await chart.scrollIntoViewIfNeeded()
  await eventually(async () => (await mapRegions(chart)) != null, 'the dashboard draws no map of provinces')
  await page.waitForTimeout(800) // the map fades in
  // Where 广东 is drawn: the centre ECharts gives its region (inside its mainland), in pixels.
  // On a busy machine the map may still be settling: asked again and clicked again until the
  // click asks for the drill-down.
  let response = null
  for (let attempt = 0; !response && attempt < 5; attempt++) {
    const [x, y] = await chart.evaluate((el) => {
      const instance = el.__chart
      const center = instance.getModel().getSeriesByIndex(0).coordinateSystem.getRegion('广东').getCenter()
      return instance.convertToPixel({ seriesIndex: 0 }, center)
    })
    const box = await chart.boundingBox()
    const drilled = (r) => r.request().method() === 'POST' && r.url().includes(`/reports/${MAP_REPORT}/drill`)
    const asked = page.waitForResponse(drilled, { timeout: 3000 }).catch(() => null)
    await page.mouse.click(box.x + x, box.y + y)
    response = await asked
  }
  check(response?.ok(), `the drill-down answered ${response?.status() ?? 'nothing: no click on 广东 asked for it'}`)
  const sent = response.request().postDataJSON()
  check(JSON.stringify(sent.cell) === '{"province_province":"广东省"}', `asked for ${JSON.stringify(sent.cell)}`)
  const dialog = page.locator('[data-drill]')
  await dialog.locator('[data-drill-count]').waitFor()
  const shown = (await dialog.locator('[data-drill-record]').evaluateAll((links) => links.map((a) => a.dataset.drillRecord))).sort()
  const accounts = await apiCall('GET', `/api/apps/${APP}/forms/account/records?limit=200`)
  check(accounts.status === 200 && !accounts.body.next_cursor, `listing accounts answered ${accounts.status}`)
  const expected = accounts.body.items.filter((r) => r.data.province?.province === '广东省').map((r) => r.id).sort()
  check(expected.length > 0 && JSON.stringify(shown) === JSON.stringify(expected), `the dialog lists ${shown.join(', ')}; the accounts in 广东省 are ${expected.join(', ')}`)
  await dialog.locator('[data-drill-close]').click()
})

await finish()
