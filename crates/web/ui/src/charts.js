// Report results as charts: how each kind is drawn (the server's chart kind registry), which
// columns a chart draws (the report's `chart` spec, or the first dimension and every measure)
// and the ECharts options drawing them, each point carrying the cell it stands for (a click
// drills down to its records). Only the chart types and components used here are
// registered with ECharts, so the bundle holds no others.
import { shallowRef } from 'vue'
import { init, use } from 'echarts/core'
import { BarChart, FunnelChart, LineChart, PieChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'
import { api } from './api'
import { label, t } from './i18n'
import { formatCompact, formatNumber } from './format'

use([BarChart, LineChart, PieChart, FunnelChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer])

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
export const measureText = (value) => formatNumber(value, { maxFraction: 2 })

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

/** Category name → the value the server sent for it (what a drill-down's `cell` names). */
function rawValues(rows, column) {
  const raw = new Map()
  for (const row of rows) {
    const name = dimensionText(row[column.id], column)
    if (!raw.has(name)) raw.set(name, row[column.id] ?? null)
  }
  return raw
}

/** The ECharts option drawing `result` as a chart of `kind` (one the `echarts` renderer draws). */
export function chartOption(kind, result) {
  const { x, ys, series } = axes(result)
  const rows = result?.rows ?? []
  if (!x || !ys.length) return null
  const tooltip = { valueFormatter: (v) => measureText(v), confine: true }

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
          : { type: 'funnel', name: columnLabel(ys[0]), data, top: 8, bottom: 8, left: '10%', width: '80%', label: { position: 'inside' } },
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
    yAxis: { type: 'value', axisLabel: { formatter: (v) => formatCompact(v) } },
    series: seriesList.map((s) => (kind === 'line' ? { ...s, connectNulls: true } : s)),
  }
}
