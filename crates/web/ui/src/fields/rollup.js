// Rollups (mirrors `rollup.rs`): a number the server aggregates from linked records, never
// written by people.
import { formatNumber } from '../format'

export default {
  rollup: { widget: null, readonly: true, column: 'number', format: (v) => formatNumber(v) },
}
