// Choice fields (mirrors `select.rs`): one option, several options, or free tags.
import { h, defineComponent } from 'vue'
import { ElSelect, ElOption, ElInputTag } from 'element-plus'
import { label, locale, t } from '../i18n'
import { widgetProps } from './widget'

function optionLabel(field, value) {
  const option = field.options?.find((o) => o.value === value)
  return option ? label(option.label, value) : String(value)
}

/** The named colours an option may have (`color`), as shown; any other is a `#rrggbb`. */
export const OPTION_COLORS = {
  blue: '#409eff',
  green: '#67c23a',
  orange: '#e6a23c',
  red: '#f56c6c',
  purple: '#9b59b6',
  grey: '#909399',
  cyan: '#13c2c2',
  yellow: '#f1c40f',
}

// Inline styles: the field registry has no stylesheet of its own.
const PILL = 'display:inline-block;padding:0 8px;margin:0 4px 2px 0;border:1px solid;border-radius:10px;line-height:20px'
const DOT = 'display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:6px'

/** An option's colour as CSS, or null when it has none (or one this UI cannot show). */
export function optionColor(option) {
  const c = option?.color
  if (!c) return null
  return OPTION_COLORS[c] ?? (/^#[0-9a-fA-F]{6}$/.test(c) ? c : null)
}

/** An option's label, after a dot of its colour when it has one. */
function optionContent(option) {
  const color = optionColor(option)
  const text = label(option.label, option.value)
  return color ? [h('span', { style: `${DOT};background:${color}` }), text] : text
}

const choice = (name, multiple) =>
  defineComponent({
    name,
    props: widgetProps,
    emits: ['update:modelValue'],
    setup(props, { emit }) {
      return () =>
        h(
          ElSelect,
          {
            modelValue: props.modelValue ?? (multiple ? [] : undefined),
            multiple,
            clearable: true,
            filterable: true,
            // Re-render option labels when the language changes.
            key: locale.value,
            'onUpdate:modelValue': (v) => emit('update:modelValue', multiple ? (v?.length ? v : null) : v ?? null),
          },
          () =>
            (props.field.options ?? []).map((o) =>
              h(ElOption, { key: o.value, value: o.value, label: label(o.label, o.value) }, () => optionContent(o)),
            ),
        )
    },
  })

const TagsWidget = defineComponent({
  name: 'TagsWidget',
  props: widgetProps,
  emits: ['update:modelValue'],
  setup(props, { emit }) {
    return () =>
      h(ElInputTag, {
        modelValue: props.modelValue ?? [],
        clearable: true,
        placeholder: t('tags.add'),
        'onUpdate:modelValue': (v) => emit('update:modelValue', v?.length ? v : null),
      })
  },
})

const joinList = (values) => values.join(locale.value === 'zh-CN' ? '、' : ', ')

/** A chosen option (or several) read-only: as text, or as pills in their colours when an option has one. */
const ChoiceDisplay = defineComponent({
  name: 'ChoiceDisplay',
  props: widgetProps,
  setup(props) {
    return () => {
      const values = Array.isArray(props.modelValue) ? props.modelValue : [props.modelValue]
      const options = values.map((v) => props.field.options?.find((o) => o.value === v) ?? { value: v, label: String(v) })
      if (!options.some(optionColor)) return h('span', { class: 'field-value' }, joinList(options.map((o) => label(o.label, o.value))))
      return h(
        'span',
        { class: 'field-value' },
        options.map((o) => {
          const color = optionColor(o)
          return h('span', { style: color ? `${PILL};color:${color};border-color:${color}` : PILL, 'data-choice-color': o.color ?? null }, label(o.label, o.value))
        }),
      )
    }
  },
})

export default {
  select: { widget: choice('SelectWidget', false), display: ChoiceDisplay, column: 'text', operators: ['eq', 'ne', 'in', 'nin', 'is_null'], format: (v, field) => (v == null ? '' : optionLabel(field, v)) },
  multiselect: {
    widget: choice('MultiselectWidget', true),
    display: ChoiceDisplay,
    column: 'opaque',
    operators: ['has', 'is_null'],
    format: (v, field) => (Array.isArray(v) ? joinList(v.map((x) => optionLabel(field, x))) : ''),
  },
  tags: { widget: TagsWidget, column: 'opaque', operators: ['has', 'is_null'], format: (v) => (Array.isArray(v) ? joinList(v) : '') },
}
