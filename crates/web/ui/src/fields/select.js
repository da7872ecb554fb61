// Choice fields (mirrors `select.rs`): one option, several options, or free tags.
import { h, defineComponent } from 'vue'
import { ElSelect, ElOption, ElInputTag } from 'element-plus'
import { label, locale, t } from '../i18n'
import { widgetProps } from './widget'

function optionLabel(field, value) {
  const option = field.options?.find((o) => o.value === value)
  return option ? label(option.label, value) : String(value)
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
          () => (props.field.options ?? []).map((o) => h(ElOption, { key: o.value, value: o.value, label: label(o.label, o.value) })),
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

export default {
  select: { widget: choice('SelectWidget', false), column: 'text', operators: ['eq', 'ne', 'in', 'nin', 'is_null'], format: (v, field) => (v == null ? '' : optionLabel(field, v)) },
  multiselect: {
    widget: choice('MultiselectWidget', true),
    column: 'opaque',
    format: (v, field) => (Array.isArray(v) ? joinList(v.map((x) => optionLabel(field, x))) : ''),
  },
  tags: { widget: TagsWidget, column: 'opaque', format: (v) => (Array.isArray(v) ? joinList(v) : '') },
}
