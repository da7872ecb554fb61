// Numeric field types (mirrors `number.rs`). Bounds are shown as a hint, not enforced by the
// input: an input that silently clamps hides the server's explanation of what is allowed.
import { h, defineComponent } from 'vue'
import { ElInputNumber, ElRate } from 'element-plus'
import { currencyOf, currencySymbol, formatMoney, formatNumber } from '../format'
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

// An amount: two digits after the point, the symbol of the app's currency before it.
const CurrencyWidget = defineComponent({
  name: 'CurrencyWidget',
  props: widgetProps,
  emits: ['update:modelValue'],
  setup(props, { emit }) {
    return () =>
      h(
        ElInputNumber,
        {
          precision: 2,
          controls: false,
          placeholder: range(props.field),
          valueOnClear: null,
          class: 'number-input',
          modelValue: props.modelValue ?? undefined,
          'onUpdate:modelValue': (v) => emit('update:modelValue', v === undefined || Number.isNaN(v) ? null : v),
        },
        { prefix: () => currencySymbol(currencyOf(props.app)) },
      )
  },
})

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
  // In the currency of the app the field belongs to (its app.json's `currency`).
  currency: { widget: CurrencyWidget, column: 'number', format: (v, field, app) => formatMoney(v, currencyOf(app)) },
  rating: {
    widget: RatingWidget,
    column: 'number',
    format: (v, field) => (typeof v === 'number' ? '★'.repeat(v) + '☆'.repeat(Math.max(0, (field.max ?? 5) - v)) : ''),
  },
}
