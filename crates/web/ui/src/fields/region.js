// Regions (mirrors `region.rs`): `{province, city?}`.
import RegionWidget from './RegionWidget.vue'

export default {
  region: {
    widget: RegionWidget,
    column: 'opaque',
    format: (v) => (v ? [v.province, v.city].filter(Boolean).join(' / ') : ''),
    parts: [
      { id: 'province', label: { en: 'Province', 'zh-CN': '省份' } },
      { id: 'city', label: { en: 'City', 'zh-CN': '城市' } },
    ],
  },
}
