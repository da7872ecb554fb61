// Links to records of another form (mirrors `link.rs`): the value is the record id; people see
// the target's title field.
import { displayTitle } from '../titles'
import LinkWidget from './LinkWidget.vue'
import LinkValue from './LinkValue.vue'

export default {
  link: {
    widget: LinkWidget,
    display: LinkValue,
    column: 'text',
    operators: ['eq', 'ne', 'is_null'],
    // The stored value is an id: sorting by it orders nothing people can see, and the API
    // cannot sort by the linked record's title.
    sortable: false,
    // Callers that format links as text make sure the titles were requested (see titles.js).
    format: (v, field, app) => (v ? displayTitle(app, field.form, v) : ''),
  },
}
