// Attachments (mirrors `attachment.rs`): a list of stored-file references. Read-only for
// now: the API has no upload or download route yet.
import { t } from '../i18n'

export default {
  attachment: {
    widget: null,
    readonly: true,
    column: 'opaque',
    wide: true,
    format: (v) => (Array.isArray(v) && v.length ? v.map((a) => a.name).join(', ') : t('attachment.none')),
  },
}
