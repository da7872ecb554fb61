// Child tables (mirrors `table.rs`): an array of row objects with the columns in `fields`.
import { t } from '../i18n'
import TableWidget from './TableWidget.vue'

export default {
  table: {
    widget: TableWidget,
    // Read-only tables still show their rows, as a grid without inputs.
    display: TableWidget,
    column: 'opaque',
    wide: true,
    // Receives the errors inside its rows (`/2/qty`) and shows each in its cell.
    locatesErrors: true,
    format: (v) => (Array.isArray(v) ? t('table.rows', { n: v.length }) : ''),
  },
}
