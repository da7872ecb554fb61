// Saved filters (mirrors `filter.rs`): the list API's filter over the records of the form the
// field names (`form`), a segment kept as data.
import { loadedApp } from '../defs'
import { filterableFields, filterText } from '../listFilter'
import FilterWidget from './FilterWidget.vue'

export default {
  filter: {
    widget: FilterWidget,
    column: 'opaque',
    wide: true,
    // As text once the target form's fields are known (they name the conditions).
    format: (v, field, app) => {
      const forms = loadedApp(app)?.forms
      return forms ? filterText(v, filterableFields(forms[field.form]), app) : ''
    },
  },
}
