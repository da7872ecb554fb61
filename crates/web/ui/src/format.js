// Formatting of numbers and instants in the current locale, shared by the field types.
import { locale } from './i18n'

/**
 * `1234567.5` → `1,234,567.50` (currency) or `1,234,567.5`. `fraction` fixes the digits after
 * the point; `maxFraction` only caps them (computed figures such as rates run on for ever).
 */
export function formatNumber(value, { fraction, maxFraction = 6 } = {}) {
  if (typeof value !== 'number') return value == null ? '' : String(value)
  const options = fraction === undefined ? { maximumFractionDigits: maxFraction } : { minimumFractionDigits: fraction, maximumFractionDigits: fraction }
  return new Intl.NumberFormat(locale.value, options).format(value)
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
