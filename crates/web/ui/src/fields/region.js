// Regions (mirrors `region.rs`): `{province, city?}`.
import RegionWidget from './RegionWidget.vue'

export default {
  region: {
    widget: RegionWidget,
    column: 'opaque',
    format: (v) => (v ? [v.province, v.city].filter(Boolean).join(' / ') : ''),
  },
}
