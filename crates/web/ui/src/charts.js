// Report results as charts: how each kind is drawn (the server's chart kind registry), which
// columns a chart draws (the report's `chart` spec, or the first dimension and every measure)
// and the ECharts options drawing them, each point carrying the cell it stands for (a click
// drills down to its records); a map colours China's provinces (provinces.js) on their
// outlines, loaded on first use. Only the chart types and components used here are registered
// with ECharts, so the bundle holds no others.
import { shallowRef } from 'vue'
import { init, registerMap, use } from 'echarts/core'
import { BarChart, FunnelChart, LineChart, MapChart, PieChart } from 'echarts/charts'
import { GraphicComponent, GridComponent, LegendComponent, TooltipComponent, VisualMapContinuousComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'
import { api } from './api'
import { label, t } from './i18n'
import { formatCompact, formatNumber } from './format'
import { PROVINCES, provinceOf } from './provinces'

use([
  BarChart, LineChart, PieChart, FunnelChart, MapChart,
  GridComponent, LegendComponent, TooltipComponent, VisualMapContinuousComponent, GraphicComponent, CanvasRenderer,
])

export { init }

/** The server's chart kinds by name (`GET /api/chart-kinds`), once loaded. */
export const chartKinds = shallowRef(new Map())
let loadingKinds = null

/** Loads the chart kinds once (again after a failure); resolves when they are known. */
export function loadChartKinds() {
  loadingKinds ??= api
    .chartKinds()
    .then((answer) => (chartKinds.value = new Map(answer.kinds.map((k) => [k.kind, k]))))
    .catch(() => (loadingKinds = null))
  return loadingKinds
}

/**
 * How a kind is drawn: its registry entry's renderer — `echarts` (a chart of the kind's name),
 * `figure` (one number) or `table`; a kind the server does not list is a table.
 */
export const rendererOf = (kind) => chartKinds.value.get(kind)?.renderer ?? 'table'

/** How a tile shows its result: the tile's own chart kind, else the report's, else a table. */
export function kindOf(tile) {
  return tile.chart ?? tile.result?.chart?.kind ?? 'table'
}

/** A column's label in the current locale (the server may send a string or a label object). */
export const columnLabel = (column) => label(column?.label, column?.id ?? '')

/** A measure as shown in tooltips, tables and KPIs. */
/** A measure's figure as it reads: a `percent` measure's ratio (0.25) as 25%. */
export const measureText = (value, column) =>
  column?.format === 'percent' && typeof value === 'number' ? `${formatNumber(value * 100, { maxFraction: 1 })}%` : formatNumber(value, { maxFraction: 2 })

/**
 * A dimension value as a category name: the option's label when the column is a select field
 * (the server sends `values`), else the value; an empty one has a name too.
 */
export const dimensionText = (value, column) =>
  value == null || value === '' ? t('dashboard.blank') : label(column?.values?.[value], String(value))

/**
 * The columns a chart of `result` draws: `x` (the category dimension), `ys` (the measures)
 * and `series` (a second dimension splitting each measure into series, or null). The
 * report's `chart` names them; without it, the first dimension, every measure and the second
 * dimension. A chart that names its `x` and no `series` has none (other dimensions then
 * only describe the x values, as a name beside an id).
 */
export function axes(result) {
  const columns = result?.columns ?? []
  const byId = new Map(columns.map((c) => [c.id, c]))
  const dimensions = columns.filter((c) => c.role === 'dimension')
  const measures = columns.filter((c) => c.role === 'measure')
  const spec = result?.chart ?? {}
  const x = byId.get(spec.x) ?? dimensions[0] ?? null
  const ys = (spec.y ?? []).map((id) => byId.get(id)).filter(Boolean)
  const series = spec.series || spec.x ? byId.get(spec.series) ?? null : dimensions.find((d) => d !== x) ?? null
  return { x, ys: ys.length ? ys : measures, series }
}

/**
 * `rows` summed per key (`keyOf(row)`), in the order keys first appear. Rows of a report with
 * more dimensions than the chart shows fall together; counts and sums add up.
 */
function sumBy(rows, keyOf, measure) {
  const sums = new Map()
  for (const row of rows) {
    const key = keyOf(row)
    const value = row[measure.id]
    if (typeof value === 'number') sums.set(key, (sums.get(key) ?? 0) + value)
    else if (!sums.has(key)) sums.set(key, null)
  }
  return sums
}

/**
 * Category (`keyOf(value)`, by default its name) → the first value the server sent for it
 * (what a drill-down's `cell` names).
 */
function rawValues(rows, column, keyOf = (value) => dimensionText(value, column)) {
  const raw = new Map()
  for (const row of rows) {
    const key = keyOf(row[column.id])
    if (!raw.has(key)) raw.set(key, row[column.id] ?? null)
  }
  return raw
}

/** The ECharts option drawing `result` as a chart of `kind` (one the `echarts` renderer draws). */
export function chartOption(kind, result) {
  const { x, ys, series } = axes(result)
  const rows = result?.rows ?? []
  if (!x || !ys.length) return null
  if (kind === 'map') return provinceMapOption(x, ys[0], rows)
  const tooltip = { valueFormatter: (v) => measureText(v, ys[0]), confine: true }
  // Each series reads its own measure's way (a rate as a percentage).
  const reads = (measure) => ({ tooltip: { valueFormatter: (v) => measureText(v, measure) } })

  if (kind === 'pie' || kind === 'funnel') {
    const raw = rawValues(rows, x)
    const data = [...sumBy(rows, (r) => dimensionText(r[x.id], x), ys[0])].map(([name, value]) => ({
      name,
      value,
      drill: { cell: { [x.id]: raw.get(name) }, measure: ys[0].id },
    }))
    // No legend: every slice is labelled with its name.
    return {
      tooltip: { ...tooltip, trigger: 'item' },
      series: [
        kind === 'pie'
          ? { type: 'pie', name: columnLabel(ys[0]), data, radius: ['35%', '65%'], label: { formatter: '{b}' } }
          : // In the report's order (a select's stages in their order), not re-sorted by size.
            { type: 'funnel', sort: 'none', name: columnLabel(ys[0]), data, top: 8, bottom: 8, left: '10%', width: '80%', label: { position: 'inside' } },
      ],
    }
  }

  const categories = [...new Set(rows.map((r) => dimensionText(r[x.id], x)))]
  const rawCategories = rawValues(rows, x)
  // Each point carries the cell it stands for, so a click can ask the server for its records.
  const point = (value, cell, measure) => ({ value, drill: { cell, measure: measure.id } })
  const seriesList = []
  if (series) {
    const names = [...new Set(rows.map((r) => dimensionText(r[series.id], series)))]
    const rawNames = rawValues(rows, series)
    for (const measure of ys) {
      const sums = sumBy(rows, (r) => `${dimensionText(r[x.id], x)}\u0000${dimensionText(r[series.id], series)}`, measure)
      for (const name of names) {
        seriesList.push({
          type: kind,
          name: ys.length > 1 ? `${name} · ${columnLabel(measure)}` : name,
          // Bars split into series stack: the parts of one category add up to its whole.
          ...(kind === 'bar' ? { stack: measure.id } : {}),
          ...reads(measure),
          data: categories.map((c) =>
            point(sums.get(`${c}\u0000${name}`) ?? null, { [x.id]: rawCategories.get(c), [series.id]: rawNames.get(name) }, measure),
          ),
        })
      }
    }
  } else {
    for (const measure of ys) {
      const sums = sumBy(rows, (r) => dimensionText(r[x.id], x), measure)
      seriesList.push({
        type: kind,
        name: columnLabel(measure),
        ...reads(measure),
        data: categories.map((c) => point(sums.get(c) ?? null, { [x.id]: rawCategories.get(c) }, measure)),
      })
    }
  }
  const legend = seriesList.length > 1
  return {
    tooltip: { ...tooltip, trigger: 'axis' },
    legend: legend ? { type: 'scroll', top: 0 } : undefined,
    grid: { left: 8, right: 16, top: legend ? 36 : 12, bottom: 8 },
    xAxis: { type: 'category', data: categories, axisLabel: { hideOverlap: true } },
    // An axis of rates only reads in percent.
    yAxis: { type: 'value', axisLabel: { formatter: (v) => (ys.every((m) => m.format === 'percent') ? measureText(v, ys[0]) : formatCompact(v)) } },
    series: seriesList.map((s) => (kind === 'line' ? { ...s, connectNulls: true } : s)),
  }
}

// ---- the map of provinces (kind `map`) ------------------------------------------------------

// The name the provinces' outlines are registered under with ECharts.
const MAP_NAME = 'china'
// The colour scale, light to dark: Element Plus's primary blue and its tints and shade.
const MAP_COLORS = ['#d9ecff', '#a0cfff', '#409eff', '#337ecc']
// A province with no value: Element Plus's fill grey.
const NO_VALUE = '#f0f2f5'
// Pixels kept under the map for the line naming the values that are no province.
const MAP_FOOT = 22
// How many of those values the line names before an ellipsis.
const ELSEWHERE_SHOWN = 5
// The outlines' inset of the South China Sea islands, drawn as on every map of China. It is no
// province: it has no value, and the mouse passes over it (no tooltip, no highlight).
const SOUTH_CHINA_SEA = { name: '南海诸岛', silent: true, itemStyle: { borderColor: '#c0c4cc' } }

// Whether the outlines are registered. chartOption reads it, so a reactive effect drawing a
// map (ReportTile's watcher) draws it again once they are.
const outlinesRegistered = shallowRef(false)
let loadingOutlines = null

/**
 * Whether the provinces' outlines (the `china-geojson` package's 34 provinces and 南海诸岛) are
 * registered with ECharts; the first call loads them. They are a chunk of their own, some
 * 340 KB, fetched when a map is first drawn; a failed load is tried again on the next call.
 */
function outlinesReady() {
  loadingOutlines ??= import('china-geojson/src/geojson/china.json')
    .then(({ default: geojson }) => {
      registerMap(MAP_NAME, geojson)
      outlinesRegistered.value = true
    })
    .catch((error) => {
      loadingOutlines = null
      throw error
    })
  return outlinesRegistered.value
}

/** A province's name in the current locale: its short Chinese name, or its English one. */
const provinceName = (province) => label({ 'zh-CN': province.zh, en: province.en })

/** The line naming the values that are no province and their measures (`海外 3`), or null. */
function elsewhereText(sums) {
  const named = [...sums].filter(([place]) => typeof place === 'string').map(([place, value]) => [place, measureText(value)].filter(Boolean).join(' '))
  if (!named.length) return null
  const shown = named.length > ELSEWHERE_SHOWN ? [...named.slice(0, ELSEWHERE_SHOWN), '…'] : named
  return t('dashboard.elsewhere', { list: shown.join(' · ') })
}

/**
 * The option drawing `measure` of `rows` per province of dimension `x` on the provinces'
 * outlines, or null until those are loaded. Rows naming one province (`广东`, `广东省`) add up,
 * and the province drills down with the first of their values; values naming no province are
 * listed under the map.
 */
function provinceMapOption(x, measure, rows) {
  if (!outlinesReady()) return null
  const placeOf = (value) => provinceOf(value) ?? dimensionText(value, x)
  const sums = sumBy(rows, (row) => placeOf(row[x.id]), measure)
  const raw = rawValues(rows, x, placeOf)
  const data = PROVINCES.map((p) => ({
    name: provinceName(p),
    value: sums.get(p) ?? null,
    ...(raw.has(p) ? { drill: { cell: { [x.id]: raw.get(p) }, measure: measure.id } } : {}),
  }))
  const elsewhere = elsewhereText(sums)
  const foot = elsewhere ? MAP_FOOT : 0
  const values = data.map((d) => d.value).filter((v) => v != null)
  const min = Math.min(0, ...values)
  // The scale needs a span, also when every value is 0 or there is none.
  const max = Math.max(min + 1, ...values)
  return {
    // A province without a value has NaN in the series: its tooltip names it, with no value.
    tooltip: { trigger: 'item', valueFormatter: (v) => measureText(Number.isNaN(v) ? null : v), confine: true },
    visualMap: {
      type: 'continuous',
      seriesIndex: 0,
      min,
      max,
      left: 0,
      bottom: foot,
      itemWidth: 10,
      itemHeight: 72,
      text: [measureText(max), measureText(min)],
      textStyle: { color: '#909399', fontSize: 11 },
      inRange: { color: MAP_COLORS },
    },
    series: [
      {
        type: 'map',
        map: MAP_NAME,
        name: columnLabel(measure),
        // The outlines name the provinces in Chinese; the data names them in the locale.
        nameMap: Object.fromEntries(PROVINCES.map((p) => [p.zh, provinceName(p)])),
        data: [...data, SOUTH_CHINA_SEA],
        // The whole chart but the foot; the map keeps its shape inside, centred.
        left: 0,
        right: 0,
        top: 4,
        bottom: foot + 4,
        preserveAspect: 'contain',
        // A click drills down; a selected province would stay highlighted.
        selectedMode: false,
        itemStyle: { areaColor: NO_VALUE, borderColor: '#ffffff', borderWidth: 0.8 },
        // Most provinces are too small at a tile's size for their names: a name shows on
        // hover, the province keeping its colour and taking a dark outline.
        label: { show: false },
        emphasis: {
          itemStyle: { areaColor: null, borderColor: '#303133', borderWidth: 1 },
          label: { show: true, color: '#303133', fontSize: 12, textBorderColor: '#ffffff', textBorderWidth: 2 },
        },
      },
    ],
    graphic: elsewhere ? [{ type: 'text', left: 'center', bottom: 2, style: { text: elsewhere, fill: '#909399', fontSize: 12 } }] : [],
  }
}
