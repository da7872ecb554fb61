// Numeric field types (mirrors `number.rs`). Bounds are shown as a hint, not enforced by the
// input: an input that silently clamps hides the server's explanation of what is allowed.
import { h, defineComponent } from 'vue'
import { ElInputNumber, ElRate } from 'element-plus'
import { formatNumber } from '../format'
import { simpleWidget, widgetProps } from './widget'

function range({ min, max }) {
  if (min != null && max != null) return `${min} – ${max}`
  if (min != null) return `≥ ${min}`
  if (max != null) return `≤ ${max}`
  return undefined
}

const numberInput = (name, precision) =>
  simpleWidget(
    name,
    ElInputNumber,
    (field) => ({ precision, controls: false, placeholder: range(field), valueOnClear: null, class: 'number-input' }),
    (v) => (v === undefined || Number.isNaN(v) ? null : v),
  )

// Stars; 0 means "no rating" and is stored as 0 (the server's range starts at 0).
const RatingWidget = defineComponent({
  name: 'RatingWidget',
  props: widgetProps,
  emits: ['update:modelValue'],
  setup(props, { emit }) {
    return () =>
      h(ElRate, {
        modelValue: props.modelValue ?? 0,
        max: props.field.max ?? 5,
        clearable: true,
        'onUpdate:modelValue': (v) => emit('update:modelValue', v),
      })
  },
})

export default {
  number: { widget: numberInput('NumberWidget', undefined), column: 'number', format: (v) => formatNumber(v) },
  integer: { widget: numberInput('IntegerWidget', 0), column: 'number', format: (v) => formatNumber(v) },
  decimal: { widget: numberInput('DecimalWidget', undefined), column: 'number', format: (v) => formatNumber(v) },
  currency: { widget: numberInput('CurrencyWidget', 2), column: 'number', format: (v) => formatNumber(v, { fraction: 2 }) },
  rating: {
    widget: RatingWidget,
    column: 'number',
    format: (v, field) => (typeof v === 'number' ? '★'.repeat(v) + '☆'.repeat(Math.max(0, (field.max ?? 5) - v)) : ''),
  },
}
