// Dates and instants (mirrors `date.rs`): stored as ISO 8601 text, `2026-11-23` and
// `2026-11-23T18:00:00+08:00`, which the server's `date`/`date-time` formats accept.
import { ElDatePicker } from 'element-plus'
import { formatInstant } from '../format'
import { simpleWidget } from './widget'

const picker = (name, type, valueFormat) =>
  simpleWidget(name, ElDatePicker, () => ({ type, valueFormat, clearable: true, class: 'date-input' }))

export default {
  // Dates are shown as stored: ISO order reads the same in Chinese and English.
  date: { widget: picker('DateWidget', 'date', 'YYYY-MM-DD'), column: 'text' },
  datetime: { widget: picker('DatetimeWidget', 'datetime', 'YYYY-MM-DDTHH:mm:ssZ'), column: 'text', format: formatInstant },
}
