// China's 34 provincial-level divisions: their short names and English names, and how a
// free-text province names one of them. The region field offers them; the
// report kind `map` colours them on the provinces' outlines, which come from the
// `china-geojson` package (its features are named by these short names) and are loaded on
// first use, so the main bundle does not carry them.

// `also` holds other English or pinyin names.
export const PROVINCES = [
  { zh: '北京', en: 'Beijing' },
  { zh: '天津', en: 'Tianjin' },
  { zh: '河北', en: 'Hebei' },
  { zh: '山西', en: 'Shanxi' },
  { zh: '内蒙古', en: 'Inner Mongolia', also: ['Nei Mongol', 'Neimenggu'] },
  { zh: '辽宁', en: 'Liaoning' },
  { zh: '吉林', en: 'Jilin' },
  { zh: '黑龙江', en: 'Heilongjiang' },
  { zh: '上海', en: 'Shanghai' },
  { zh: '江苏', en: 'Jiangsu' },
  { zh: '浙江', en: 'Zhejiang' },
  { zh: '安徽', en: 'Anhui' },
  { zh: '福建', en: 'Fujian' },
  { zh: '江西', en: 'Jiangxi' },
  { zh: '山东', en: 'Shandong' },
  { zh: '河南', en: 'Henan' },
  { zh: '湖北', en: 'Hubei' },
  { zh: '湖南', en: 'Hunan' },
  { zh: '广东', en: 'Guangdong' },
  { zh: '广西', en: 'Guangxi' },
  { zh: '海南', en: 'Hainan' },
  { zh: '重庆', en: 'Chongqing' },
  { zh: '四川', en: 'Sichuan' },
  { zh: '贵州', en: 'Guizhou' },
  { zh: '云南', en: 'Yunnan' },
  { zh: '西藏', en: 'Tibet', also: ['Xizang'] },
  { zh: '陕西', en: 'Shaanxi' },
  { zh: '甘肃', en: 'Gansu' },
  { zh: '青海', en: 'Qinghai' },
  { zh: '宁夏', en: 'Ningxia' },
  { zh: '新疆', en: 'Xinjiang' },
  { zh: '台湾', en: 'Taiwan' },
  { zh: '香港', en: 'Hong Kong' },
  { zh: '澳门', en: 'Macau', also: ['Macao'] },
]

// What full names add to a short one, longest first (`广西壮族自治区` is not left `广西壮族`).
const SUFFIXES = ['维吾尔自治区', '壮族自治区', '回族自治区', '特别行政区', '自治区', '省', '市']

// English names compare in lower case without spaces or hyphens (`Hong Kong`, `hongkong`).
const englishKey = (name) => name.toLowerCase().replace(/[\s-]+/g, '')

const BY_NAME = new Map(
  PROVINCES.flatMap((p) => [[p.zh, p], ...[p.en, ...(p.also ?? [])].map((name) => [englishKey(name), p])]),
)

/** The division a province as people write it names (`广东省`, `广东`, `Guangdong`), or null. */
export function provinceOf(value) {
  const text = String(value ?? '').trim()
  const suffix = SUFFIXES.find((s) => text.endsWith(s) && text.length > s.length)
  return BY_NAME.get(suffix ? text.slice(0, -suffix.length) : text) ?? BY_NAME.get(englishKey(text)) ?? null
}
