//! Chart kinds: one registry entry per kind carrying its facets — the result it can draw (how
//! many dimensions and drawn measures, whether a second dimension may split it into series,
//! whether its category must name places), its label in each language and the UI renderer
//! that draws it. The report check refuses a chart that cannot draw its report's result, and
//! the engine serves the registry to the UI, which draws and offers kinds from it.

use defs::{Chart, ChartKind, Report};
use serde::Serialize;

use crate::fields::{self, Target};
use crate::{Context, Problem, ValueKind};

/// How many of something a chart takes: at least `min`, at most `max` (none: any number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    pub min: usize,
    pub max: Option<usize>,
}

impl Span {
    const fn at_least(min: usize) -> Span {
        Span { min, max: None }
    }

    const fn exactly(n: usize) -> Span {
        Span { min: n, max: Some(n) }
    }

    fn holds(self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }

    /// "1", "at least 1", "0 to 2": for messages.
    fn describe(self) -> String {
        match self.max {
            Some(max) if max == self.min => max.to_string(),
            Some(max) => format!("{} to {max}", self.min),
            None => format!("at least {}", self.min),
        }
    }
}

/// How the UI draws a kind: the component it hands the result to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Renderer {
    /// A table of the result's columns and rows.
    Table,
    /// One big figure: the first row's measure.
    Figure,
    /// An ECharts chart of the kind's name.
    Echarts,
}

/// A kind's name in the UI's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KindLabel {
    pub en: &'static str,
    #[serde(rename = "zh-CN")]
    pub zh_cn: &'static str,
}

/// One chart kind and everything known about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChartKindEntry {
    pub kind: ChartKind,
    pub label: KindLabel,
    pub renderer: Renderer,
    /// The report's dimensions.
    pub dimensions: Span,
    /// The measures drawn: the chart's `y`, or every measure of the report.
    pub measures: Span,
    /// Whether the chart may name a `series` dimension.
    pub series: bool,
    /// Whether the category dimension must name places (a map's provinces): a text value,
    /// not a number, a date bucket or a system column.
    pub places: bool,
}

/// A kind drawing at least one dimension and one measure, with no series and any category.
const fn drawing(kind: ChartKind, en: &'static str, zh_cn: &'static str, renderer: Renderer) -> ChartKindEntry {
    ChartKindEntry {
        kind,
        label: KindLabel { en, zh_cn },
        renderer,
        dimensions: Span::at_least(1),
        measures: Span::at_least(1),
        series: false,
        places: false,
    }
}

/// The registry entry of `kind`: one arm per kind, so a new kind cannot go without its facets.
pub const fn chart_kind(kind: ChartKind) -> ChartKindEntry {
    use ChartKind::*;
    match kind {
        Table => ChartKindEntry {
            dimensions: Span::at_least(0),
            measures: Span::at_least(0),
            series: true,
            ..drawing(Table, "Table", "表格", Renderer::Table)
        },
        // One figure: nothing to group by, one measure.
        Kpi => {
            ChartKindEntry {
                dimensions: Span::exactly(0), measures: Span::exactly(1), ..drawing(Kpi, "KPI", "指标卡", Renderer::Figure)
            }
        }
        Bar => ChartKindEntry { series: true, ..drawing(Bar, "Bar chart", "柱状图", Renderer::Echarts) },
        Line => ChartKindEntry { series: true, ..drawing(Line, "Line chart", "折线图", Renderer::Echarts) },
        // Slices of one whole: one measure shared out over the category's values.
        Pie => ChartKindEntry { measures: Span::exactly(1), ..drawing(Pie, "Pie chart", "饼图", Renderer::Echarts) },
        Funnel => ChartKindEntry { measures: Span::exactly(1), ..drawing(Funnel, "Funnel", "漏斗图", Renderer::Echarts) },
        // Rows and columns: two dimensions at least.
        Pivot => {
            ChartKindEntry { dimensions: Span::at_least(2), series: true, ..drawing(Pivot, "Pivot table", "透视表", Renderer::Table) }
        }
        // Provinces coloured by one measure, on China's province outlines.
        Map => ChartKindEntry { measures: Span::exactly(1), places: true, ..drawing(Map, "Map", "地图", Renderer::Echarts) },
    }
}

/// Every chart kind's entry, in the order a kind picker offers them.
pub fn chart_kinds() -> Vec<ChartKindEntry> {
    ChartKind::ALL.into_iter().map(chart_kind).collect()
}

/// Why a chart of `kind` cannot draw `report`'s result, located at `/chart/…` in the report
/// (the caller relocates them for a dashboard tile's kind). Names in `chart` that are not the
/// report's are the layout check's to report, not these.
pub fn chart_problems(report: &Report, kind: ChartKind, ctx: &Context<'_>) -> Vec<Problem> {
    let ctx = &ctx.for_report(report);
    let entry = chart_kind(kind);
    let name = entry.label.en.to_lowercase();
    let chart = report.chart.clone().unwrap_or(Chart { kind, x: None, y: Vec::new(), series: None });
    let drawn = if chart.y.is_empty() { report.measures.len() } else { chart.y.len() };
    let mut problems = Vec::new();
    if !entry.dimensions.holds(report.dimensions.len()) {
        let message = format!("a {name} takes {} dimension(s); this report has {}", entry.dimensions.describe(), report.dimensions.len());
        problems.push(Problem::new("/chart/kind", message));
    }
    if !entry.measures.holds(drawn) {
        let message = format!("a {name} draws {} measure(s); this one would draw {drawn}", entry.measures.describe());
        problems.push(Problem::new("/chart/kind", message));
    }
    if chart.series.is_some() && !entry.series {
        problems.push(Problem::new("/chart/series", format!("a {name} has no series")));
    }
    if entry.places && !category_names_places(report, &chart, ctx) {
        problems.push(Problem::new(
            "/chart/kind",
            format!("a {name}'s category dimension (`x`, else the first) must be a text field naming places"),
        ));
    }
    problems
}

/// Whether the dimension a chart spreads its categories over can name places: a text field
/// (provinces by name), not bucketed.
fn category_names_places(report: &Report, chart: &Chart, ctx: &Context<'_>) -> bool {
    let category = match &chart.x {
        Some(x) => report.dimensions.iter().find(|d| &d.id == x),
        None => report.dimensions.first(),
    };
    let Some(dimension) = category.filter(|d| d.bucket.is_none()) else { return false };
    fields::resolve(ctx, &report.source, &dimension.field, "", &mut Vec::new())
        .is_ok_and(|r| matches!(r.column, Target::Field { .. } | Target::Part { .. }) && r.kind == ValueKind::Text && !r.is_date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once() {
        let kinds: Vec<_> = chart_kinds().iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ChartKind::ALL);
    }

    #[test]
    fn spans_hold_and_describe_their_bounds() {
        assert_eq!((Span::exactly(1).describe(), Span::at_least(2).describe()), ("1".into(), "at least 2".into()));
        assert!(Span::at_least(0).holds(0) && !Span::exactly(0).holds(1) && !Span::at_least(2).holds(1));
    }
}
