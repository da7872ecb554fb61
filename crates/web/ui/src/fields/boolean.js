// Yes/no fields (mirrors `boolean.rs`).
import { ElSwitch } from 'element-plus'
import { t } from '../i18n'
import { simpleWidget } from './widget'

export default {
  boolean: {
    widget: simpleWidget('BooleanWidget', ElSwitch, () => ({}), (v) => Boolean(v)),
    column: 'bool',
    format: (v) => (v == null ? '' : v ? t('common.yes') : t('common.no')),
  },
}
