// Formatting of numbers and instants in the current locale, shared by the field types.
import { locale } from './i18n'

/** `1234567.5` → `1,234,567.50` (currency) or `1,234,567.5`. */
export function formatNumber(value, { fraction } = {}) {
  if (typeof value !== 'number') return value == null ? '' : String(value)
  const options = fraction === undefined ? { maximumFractionDigits: 6 } : { minimumFractionDigits: fraction, maximumFractionDigits: fraction }
  return new Intl.NumberFormat(locale.value, options).format(value)
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
