// What every browser test of Tessera's UI shares: a headless Chromium with a fresh profile, one
// page, and steps that each pass or fail with a screenshot. A test script imports this first:
//
//   import { BASE, answerTo, apiCall, check, eventually, finish, page, signIn, step } from './harness.mjs'
//
// TESSERA_URL is the server under test; optional TESSERA_SCREENSHOTS=<dir> keeps a screenshot
// after every step (named after the script), CHROMIUM=<path> overrides /usr/bin/chromium. A run
// prints one line per step and finally `browser: N passed, M failed`, and exits non-zero on any
// failure, leaving a screenshot of the failing page in the temporary folder.
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'

let chromium
try {
  ;({ chromium } = await import('playwright-core'))
} catch {
  console.error('browser: playwright-core is not installed; run `npm ci --prefix tests/browser` first')
  process.exit(2)
}

export const BASE = process.env.TESSERA_URL?.replace(/\/+$/, '')
if (!BASE) {
  console.error('browser: set TESSERA_URL to a running `tessera serve --demo`, e.g. http://127.0.0.1:8080')
  process.exit(2)
}
export const SHOTS = process.env.TESSERA_SCREENSHOTS
if (SHOTS) mkdirSync(SHOTS, { recursive: true })
export const TIMEOUT = 15_000
// Screenshots are named after the script that runs (`smoke-01.png`).
const SCRIPT = basename(process.argv[1] ?? 'browser', '.mjs')

const profile = mkdtempSync(join(tmpdir(), 'tessera-browser-'))
export let context
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
  })
} catch (e) {
  console.error(`browser: cannot start Chromium (apt-get install -y chromium): ${e.message.split('\n')[0]}`)
  rmSync(profile, { recursive: true, force: true })
  process.exit(2)
}
export const page = context.pages()[0] ?? (await context.newPage())
page.setDefaultTimeout(TIMEOUT)

// Problems the page itself reports fail the step they happen in: an uncaught exception in
// the UI, or a server error (5xx) answering the UI.
const problems = []
page.on('pageerror', (e) => problems.push(`uncaught error in the page: ${e.message}`))
page.on('response', (r) => {
  if (r.status() >= 500) problems.push(`${r.request().method()} ${r.url()} answered ${r.status()}`)
})

// A stray rejected promise of the test itself must not kill it without the summary line.
process.on('unhandledRejection', (e) => problems.push(`unhandled: ${e?.message ?? e}`))

let passed = 0
let failed = 0
let stepNo = 0

export async function step(name, body) {
  stepNo += 1
  problems.length = 0
  try {
    await body()
    if (problems.length) throw new Error(problems.join('; '))
    passed += 1
    console.log(`ok ${stepNo} - ${name}`)
    if (SHOTS) await page.screenshot({ path: join(SHOTS, `${SCRIPT}-${String(stepNo).padStart(2, '0')}.png`), fullPage: true })
  } catch (e) {
    failed += 1
    const shot = join(tmpdir(), `tessera-${SCRIPT}-failure-${stepNo}.png`)
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {})
    console.log(`not ok ${stepNo} - ${name}: ${e.message.split('\n')[0]}`)
    console.log(`  page: ${page.url()}; screenshot: ${shot}`)
    await finish()
  }
}

export async function finish() {
  console.log(`browser: ${passed} passed, ${failed} failed`)
  await context.close().catch(() => {})
  rmSync(profile, { recursive: true, force: true })
  process.exit(failed ? 1 : 0)
}

export function check(condition, message) {
  if (!condition) throw new Error(message)
}

/** Waits until `probe()` returns true (the page re-renders after an answer arrives). */
export async function eventually(probe, message) {
  const deadline = Date.now() + TIMEOUT
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(typeof message === 'function' ? await message() : message)
    await page.waitForTimeout(100)
  }
}

/** Does `action` and returns the response to the API call it causes (`method`, a URL part). */
export async function answerTo(method, part, action) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === method && r.url().includes(part)),
    action(),
  ])
  return response
}

/**
 * The impact a publish panel measures after `action`: the run it starts on the server
 * (`POST …/impact/runs`), polled until done. Answers the start's request and the impact.
 */
export async function measuredImpact(app, action) {
  const done = page.waitForResponse(
    async (r) => r.request().method() === 'GET' && r.url().includes(`/api/apps/${app}/impact/runs/`) && (await r.json().catch(() => null))?.state === 'done',
  )
  const started = await answerTo('POST', `/api/apps/${app}/impact/runs`, action)
  check(started.status() === 202, `the impact run answered ${started.status()}: ${await started.text()}`)
  return { request: started.request(), impact: (await (await done).json()).impact }
}

/** Signs whoever is in out, leaving the browser on the login page as a visitor. */
export async function signOut() {
  await page.goto(`${BASE}/`)
  await page.locator('[data-login-submit], [data-nav]').first().waitFor()
  if (await page.locator('[data-nav]').count()) {
    await page.click('[data-user-menu]')
    await page.locator('[data-logout]').click()
    await page.locator('[data-login-submit]').waitFor()
  }
}

/**
 * Signs `username` in on the login page — signing whoever is in out first — trying each of
 * `passwords` (`--demo` gives the demo password; a server set up otherwise, `admin-pass`).
 */
export async function signIn(username, passwords = ['demo', 'admin-pass']) {
  await signOut()
  for (const password of passwords) {
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', password)
    await page.click('[data-login-submit]')
    const outcome = await Promise.race([
      page.locator('[data-nav]').waitFor().then(() => 'in'),
      page.locator('[data-login-error]').waitFor().then(() => 'refused'),
    ])
    if (outcome === 'in') return
  }
  throw new Error(`${username} could not sign in with ${passwords.join(' or ')}`)
}

/** An API call from inside the page, with the tab's session: `{status, body}`. */
export async function apiCall(method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const stored = JSON.parse(sessionStorage.getItem('tessera.session') ?? '{}')
      const headers = { Accept: 'application/json' }
      if (stored.token) headers.Authorization = `Bearer ${stored.token}`
      else if (stored.csrf_token) headers['X-CSRF-Token'] = stored.csrf_token
      if (body !== undefined) headers['Content-Type'] = 'application/json'
      const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
      const text = await response.text()
      return { status: response.status, body: text ? JSON.parse(text) : null }
    },
    { method, path, body },
  )
}

/**
 * Drags `source` onto `target` with the mouse, in small moves: SortableJS (in its pointer
 * mode) starts a drag only after the pointer has moved, and picks the place from where the
 * pointer passes. `where` is the point of the target to end on, as a fraction of its height
 * (above its middle: before it; near its bottom: after it).
 */
export async function dragByMouse(source, target, where = 0.5) {
  // The mouse reaches only what is on the screen.
  await target.scrollIntoViewIfNeeded()
  await source.scrollIntoViewIfNeeded()
  const from = await source.boundingBox()
  const to = await target.boundingBox()
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2)
  await page.mouse.down()
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2 + 4, { steps: 2 })
  await page.mouse.move(to.x + to.width / 2, to.y + to.height * where, { steps: 20 })
  await page.waitForTimeout(150)
  await page.mouse.move(to.x + to.width / 2, to.y + to.height * where + 1, { steps: 2 })
  await page.mouse.up()
}

/**
 * Clicks the visible option matching the selector `option` of the Element Plus select (a
 * locator) `select` opens, typing `search` into it first (a filterable select: the option is
 * then among the first).
 */
export async function choose(select, option, search) {
  // A list still fading out after the previous choice holds options of the same names.
  await eventually(async () => (await page.locator('.el-select-dropdown:visible').count()) === 0, 'a select list stays open')
  await select.click()
  if (search) await page.keyboard.type(search)
  const item = page.locator(`${option}:visible`).first()
  await item.waitFor()
  await item.click()
}
