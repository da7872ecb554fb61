// Formatting of numbers and instants in the current locale, shared by the field types.
import { reactive } from 'vue'
import { locale } from './i18n'

/** What an app without `currency` in its app.json counts in. */
export const DEFAULT_CURRENCY = 'CNY'

// Each app's `currency` (ISO 4217), filled in by the shell as app definitions arrive. Reactive,
// so amounts already shown in the default currency are shown again in the app's own once its
// definition is there.
const appCurrencies = reactive({})

/** Remembers the currency of `app` (its app.json's `currency`; absent means CNY). */
export function setAppCurrency(app, currency) {
  if (app) appCurrencies[app] = currency || DEFAULT_CURRENCY
}

/** The currency amounts of `app` are in. */
export function currencyOf(app) {
  return appCurrencies[app] ?? DEFAULT_CURRENCY
}

/**
 * `1234567.5` → `1,234,567.50` (currency) or `1,234,567.5`. `fraction` fixes the digits after
 * the point; `maxFraction` only caps them (computed figures such as rates run on for ever).
 */
export function formatNumber(value, { fraction, maxFraction = 6 } = {}) {
  if (typeof value !== 'number') return value == null ? '' : String(value)
  const options = fraction === undefined ? { maximumFractionDigits: maxFraction } : { minimumFractionDigits: fraction, maximumFractionDigits: fraction }
  return new Intl.NumberFormat(locale.value, options).format(value)
}

/**
 * An amount with its currency's symbol and always two digits after the point (as the currency
 * field stores it, whatever the currency's usual digits): `1234.5` → `¥1,234.50`. CNY keeps
 * the bare `¥` in every locale (English would say `CN¥`); other currencies are shown as the
 * reader's locale names them (`US$` in Chinese, `$` in English).
 */
export function formatMoney(value, currency = DEFAULT_CURRENCY) {
  if (typeof value !== 'number') return value == null ? '' : String(value)
  try {
    return moneyFormat(currency).format(value)
  } catch {
    // A code this browser does not know: the code before the figure still says what it is.
    return `${currency} ${formatNumber(value, { fraction: 2 })}`
  }
}

/** The symbol amounts in `currency` are shown with (`¥`, `US$`), for an amount's input. */
export function currencySymbol(currency = DEFAULT_CURRENCY) {
  try {
    return moneyFormat(currency).formatToParts(0).find((part) => part.type === 'currency')?.value ?? currency
  } catch {
    return currency
  }
}

function moneyFormat(currency) {
  return new Intl.NumberFormat(locale.value, {
    style: 'currency',
    currency,
    currencyDisplay: currency === 'CNY' ? 'narrowSymbol' : 'symbol',
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  })
}

/** A short number for chart axes: `167620000` → `1.7亿` (zh-CN) or `168M` (en); `0.25` stays. */
export function formatCompact(value) {
  if (typeof value !== 'number') return value == null ? '' : String(value)
  // Compact notation rounds small figures (rates, scores) to the same few labels.
  if (Math.abs(value) < 1000) return formatNumber(value, { maxFraction: 2 })
  return new Intl.NumberFormat(locale.value, { notation: 'compact', maximumFractionDigits: 1 }).format(value)
}

/** An RFC 3339 instant in the reader's time zone: `2026/11/23 18:00`. */
export function formatInstant(value) {
  if (!value) return ''
  const date = new Date(value)
  if (Number.isNaN(date.getTime())) return String(value)
  return date.toLocaleString(locale.value, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
}

/** Whether a field value counts as empty (what `required` refuses). */
export function isEmpty(value) {
  return value == null || value === '' || (Array.isArray(value) && value.length === 0)
}
