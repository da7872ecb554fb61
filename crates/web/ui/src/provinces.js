// China's 34 provincial-level divisions: their short names, English names, ISO 3166-2:CN codes
// and places on a tile grid, and how a free-text province names one of them. The region field
// offers them; the report kind `map` draws them.
//
// Why a tile map (every division one equal square, placed roughly where it lies) and not the
// outlines: the UI is served by the binary and must work offline, and outline data of China
// would outweigh the rest of the charts. Equal tiles also keep 上海, 天津 or 澳门 as easy to
// see and to click as 新疆, and a tile map is a recognised way to draw a measure per province.

// `col`/`row` on a 7 × 8 grid, north-west at 0/0; `also` holds other English or pinyin names.
export const PROVINCES = [
  { zh: '北京', en: 'Beijing', code: 'BJ', col: 4, row: 1 },
  { zh: '天津', en: 'Tianjin', code: 'TJ', col: 5, row: 2 },
  { zh: '河北', en: 'Hebei', code: 'HE', col: 4, row: 2 },
  { zh: '山西', en: 'Shanxi', code: 'SX', col: 3, row: 2 },
  { zh: '内蒙古', en: 'Inner Mongolia', also: ['Nei Mongol', 'Neimenggu'], code: 'NM', col: 3, row: 1 },
  { zh: '辽宁', en: 'Liaoning', code: 'LN', col: 5, row: 1 },
  { zh: '吉林', en: 'Jilin', code: 'JL', col: 6, row: 1 },
  { zh: '黑龙江', en: 'Heilongjiang', code: 'HL', col: 6, row: 0 },
  { zh: '上海', en: 'Shanghai', code: 'SH', col: 6, row: 4 },
  { zh: '江苏', en: 'Jiangsu', code: 'JS', col: 5, row: 4 },
  { zh: '浙江', en: 'Zhejiang', code: 'ZJ', col: 5, row: 5 },
  { zh: '安徽', en: 'Anhui', code: 'AH', col: 4, row: 4 },
  { zh: '福建', en: 'Fujian', code: 'FJ', col: 4, row: 6 },
  { zh: '江西', en: 'Jiangxi', code: 'JX', col: 4, row: 5 },
  { zh: '山东', en: 'Shandong', code: 'SD', col: 4, row: 3 },
  { zh: '河南', en: 'Henan', code: 'HA', col: 3, row: 3 },
  { zh: '湖北', en: 'Hubei', code: 'HB', col: 3, row: 4 },
  { zh: '湖南', en: 'Hunan', code: 'HN', col: 3, row: 5 },
  { zh: '广东', en: 'Guangdong', code: 'GD', col: 3, row: 6 },
  { zh: '广西', en: 'Guangxi', code: 'GX', col: 2, row: 6 },
  { zh: '海南', en: 'Hainan', code: 'HI', col: 2, row: 7 },
  { zh: '重庆', en: 'Chongqing', code: 'CQ', col: 2, row: 4 },
  { zh: '四川', en: 'Sichuan', code: 'SC', col: 1, row: 4 },
  { zh: '贵州', en: 'Guizhou', code: 'GZ', col: 2, row: 5 },
  { zh: '云南', en: 'Yunnan', code: 'YN', col: 1, row: 5 },
  { zh: '西藏', en: 'Tibet', also: ['Xizang'], code: 'XZ', col: 0, row: 3 },
  { zh: '陕西', en: 'Shaanxi', code: 'SN', col: 2, row: 3 },
  { zh: '甘肃', en: 'Gansu', code: 'GS', col: 1, row: 2 },
  { zh: '青海', en: 'Qinghai', code: 'QH', col: 1, row: 3 },
  { zh: '宁夏', en: 'Ningxia', code: 'NX', col: 2, row: 2 },
  { zh: '新疆', en: 'Xinjiang', code: 'XJ', col: 0, row: 2 },
  { zh: '台湾', en: 'Taiwan', code: 'TW', col: 5, row: 6 },
  { zh: '香港', en: 'Hong Kong', code: 'HK', col: 4, row: 7 },
  { zh: '澳门', en: 'Macau', also: ['Macao'], code: 'MO', col: 3, row: 7 },
]

/** The grid's size in tiles. */
export const GRID = {
  cols: Math.max(...PROVINCES.map((p) => p.col)) + 1,
  rows: Math.max(...PROVINCES.map((p) => p.row)) + 1,
}

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
