// What every field widget shares: its props and a helper to build the simple ones.
//
// A widget is a component taking `modelValue`, `field` (the definition), `app` (the app id,
// for links) and `errors` (located problems *inside* the value, for child tables), emitting
// `update:modelValue`. Widgets that can also show a value (the child table) take `readonly`.
// Empty input is emitted as `null`, which the API reads as "clear".
import { defineComponent, h } from 'vue'

export const widgetProps = {
  modelValue: { default: null },
  field: { type: Object, required: true },
  app: { type: String, default: '' },
  errors: { type: Array, default: () => [] },
  readonly: { type: Boolean, default: false },
}

/**
 * A widget made of one Element Plus input: `attrs(field, value)` gives the component's props,
 * `toModel` turns what it emits into the stored value.
 */
export function simpleWidget(name, component, attrs, toModel = (v) => (v === '' || v === undefined ? null : v)) {
  return defineComponent({
    name,
    props: widgetProps,
    emits: ['update:modelValue'],
    setup(props, { emit }) {
      return () =>
        h(component, {
          ...attrs(props.field, props.modelValue),
          modelValue: props.modelValue ?? undefined,
          'onUpdate:modelValue': (v) => emit('update:modelValue', toModel(v)),
        })
    },
  })
}
