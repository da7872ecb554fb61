// Text-like field types (mirrors the server's `forms/src/field_types/text.rs`): one string
// each, some with a format the server checks (email, url, phone pattern).
import { ElInput } from 'element-plus'
import { User } from '@element-plus/icons-vue'
import { simpleWidget } from './widget'

const input = (name, type, extra = {}) =>
  simpleWidget(name, ElInput, (field) => ({ type, maxlength: field.max_length ?? undefined, clearable: true, ...extra }))

export default {
  text: { widget: input('TextWidget', 'text'), column: 'text' },
  textarea: {
    widget: simpleWidget('TextareaWidget', ElInput, (field) => ({
      type: 'textarea',
      autosize: { minRows: 3, maxRows: 12 },
      maxlength: field.max_length ?? undefined,
    })),
    column: 'text',
    wide: true,
    // Long text makes a poor list column and a poor sort key.
    listable: false,
  },
  email: { widget: input('EmailWidget', 'email', { inputmode: 'email' }), column: 'text' },
  phone: { widget: input('PhoneWidget', 'tel', { inputmode: 'tel' }), column: 'text' },
  url: { widget: input('UrlWidget', 'url', { inputmode: 'url', placeholder: 'https://' }), column: 'text' },
  // A username. There is no user directory API yet, so it is typed, not picked.
  user: { widget: input('UserWidget', 'text', { prefixIcon: User }), column: 'text' },
}
