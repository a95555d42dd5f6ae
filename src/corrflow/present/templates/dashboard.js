(function () {
  const DATA = JSON.parse(document.getElementById("dashboard-data").textContent);
  const slider = document.getElementById("date-slider");
  const label = document.getElementById("date-label");
  const DAY_MS = 86400000;
  const MIN_EPISODE_SHARE = 0.004;  // of the chart's date range: a one-day episode on a 60-year axis stays visible
  const PAIR_LAYOUT = {height: 460, template: "plotly_white", margin: {l: 60, r: 20, t: 30, b: 40}};
  function cellText(frame) {
    return frame.map(row => row.map(v => (v === null ? "no data that month" : v.toFixed(2))));
  }
  let month = DATA.latest === null ? 0 : DATA.latest;  // the frame shown
  let shown = null;  // the cell last clicked (row, column), redrawn for another month
  function showMonth(i) {
    // a month's matrix under its real date: each pair's last value in the month, partial months and
    // pairs dated after the page's as-of date marked
    month = i;
    label.textContent = DATA.months[i] + " (to " + DATA.frame_dates[i] + (DATA.partial[i] ? ", partial" : "") +
      (DATA.after[i] ? ", " + DATA.after[i] + " after the as-of date " + DATA.as_of : "") + ")";
    Plotly.restyle("heatmap", {z: [DATA.frames[i]], text: [cellText(DATA.frames[i])]}, [0]);
    Plotly.relayout("heatmap", {"title.text": DATA.titles[i]});
    if (shown) showPair(shown[0], shown[1]);
  }
  function cellOf(a, b) {
    // the shown month's cell of a pair: its value and its own date (the pair's last day with a value
    // in the month), or null where the pair has none that month
    const i = DATA.order.indexOf(a), j = DATA.order.indexOf(b);
    if (!DATA.months.length || i < 0 || j < 0) return null;
    const value = DATA.frames[month][i][j];
    if (value === null) return null;
    const before = DATA.cells_before[month];
    return {value: value, date: before[a + ":" + b] || before[b + ":" + a] || DATA.frame_dates[month]};
  }
  function signed(v) { return (v >= 0 ? "+" : "") + v.toFixed(2); }
  slider.addEventListener("input", function () { showMonth(Number(slider.value)); });
  function findPair(a, b) {
    if (DATA.pairs[a + "|" + b]) return [a, b, DATA.pairs[a + "|" + b]];
    if (DATA.pairs[b + "|" + a]) return [b, a, DATA.pairs[b + "|" + a]];
    return null;
  }
  function clearPair(title, note, heading, message) {
    // nothing of the previous pair may stay under a heading that names another
    title.textContent = heading;
    delete title.dataset.pair;
    note.textContent = message;
    drawExceedance(null, null);
    Plotly.react("pair", [], Object.assign({}, PAIR_LAYOUT, {
      xaxis: {visible: false}, yaxis: {visible: false},
      annotations: [{text: message, showarrow: false, xref: "paper", yref: "paper", x: 0.5, y: 0.5}],
    }), DATA.plot_config);
  }
  function showPair(a, b) {
    const title = document.getElementById("pair-title");
    const note = document.getElementById("pair-note");
    shown = [a, b];
    drawPair(a, b, title, note);
    title.dataset.clicked = a + "|" + b;  // the cell last handled (row|column), for the browser test
  }
  function bandPolygons(dates, lo, hi) {
    // x, y of closed polygons (upper edge forward, lower edge back), null between them
    const x = [], y = [];
    let start = -1;
    for (let i = 0; i <= dates.length; i++) {
      const inside = i < dates.length && lo[i] !== null && hi[i] !== null;
      if (inside && start < 0) start = i;
      if (!inside && start >= 0) {
        for (let k = start; k < i; k++) { x.push(dates[k]); y.push(hi[k]); }
        for (let k = i - 1; k >= start; k--) { x.push(dates[k]); y.push(lo[k]); }
        x.push(null); y.push(null);
        start = -1;
      }
    }
    return {x: x, y: y};
  }
  function drawPair(a, b, title, note) {
    const found = findPair(a, b);
    if (a === b) {
      clearPair(title, note, a, "A series against itself: pick a cell off the diagonal.");
      return;
    }
    if (!found) {
      clearPair(title, note, a + " vs " + b, "No joint data for this pair (fewer than " + DATA.window +
      " days on which both traded).");
      return;
    }
    const [x, y, p] = found;
    title.textContent = x + " vs " + y + ": " + DATA.window + "-day rolling correlation (" + p.currency + ")";
    title.dataset.pair = x + "|" + y;
    const cell = DATA.months.length ? cellOf(x, y) : null;
    const cellNote = !DATA.months.length ? "" : "heatmap " + DATA.months[month] + ": " +
      (cell ? signed(cell.value) + " on " + cell.date : "no value that month") + "; ";
    note.textContent = cellNote + (DATA.names[x] || x) + " vs " + (DATA.names[y] || y) + "; " + p.source +
      (p.sign ? "; strip: sign regime (blue negative, grey mixed, red positive)" : "");
    const traces = [];
    if (p.lo) {
      // the band's edges (no fill of their own), then the band as one closed polygon per
      // stretch of days with a value: a gap ends a polygon, so no fill is drawn across it
      traces.push({x: p.dates, y: p.lo, mode: "lines", line: {width: 0}, hoverinfo: "skip", showlegend: false,
        meta: "lo"});
      traces.push({x: p.dates, y: p.hi, mode: "lines", line: {width: 0}, hoverinfo: "skip", showlegend: false,
        meta: "hi"});
      const band = bandPolygons(p.dates, p.lo, p.hi);
      traces.push({x: band.x, y: band.y, mode: "lines", line: {width: 0}, fill: "toself",
        fillcolor: "rgba(23,54,93,0.18)", name: "95 % band", hoverinfo: "skip", meta: "band"});
    }
    // null values (no correlation that day) break the line: connectgaps stays off
    traces.push({x: p.dates, y: p.corr, mode: "lines", line: {color: "#17365d", width: 1.5}, meta: "corr",
      name: DATA.window + "-day correlation", hovertemplate: "%{x}: %{y:.2f}<extra></extra>"});
    if (p.sync) {
      // markets that close hours apart: the synchronised correlation, dashed as in the report
      traces.push({x: p.dates, y: p.sync, mode: "lines", line: {color: "#c0504d", width: 1.2, dash: "dash"},
        meta: "sync", name: "synchronised (closes apart)", hovertemplate: "%{x}: %{y:.2f} synchronised<extra></extra>"});
    }
    const layout = Object.assign({}, PAIR_LAYOUT, {
      yaxis: {range: [-1, 1], domain: p.sign ? [0.12, 1] : [0, 1], title: {text: "correlation"}, zeroline: true},
      legend: {orientation: "h", y: 1.08}, shapes: [], hovermode: "x",
    });
    if (p.sign) {
      traces.push({x: p.dates, y: ["sign"], z: [p.sign], type: "heatmap", yaxis: "y2", zmin: -1, zmax: 1,
        showscale: false, hoverinfo: "skip",
        colorscale: [[0, DATA.sign_colours[0]], [0.5, DATA.sign_colours[1]], [1, DATA.sign_colours[2]]]});
      layout.yaxis2 = {domain: [0, 0.07], showticklabels: true, fixedrange: true};
      layout.xaxis = {anchor: "y2"};  // dates under the strip, not across it
    }
    const first = p.dates[0], last = p.dates[p.dates.length - 1];
    const span = Date.parse(last) - Date.parse(first);
    const minWidth = MIN_EPISODE_SHARE * span;
    // the axis spans the pair's values (a small margin), not the episodes' or the page's dates
    const margin = Math.max(0.01 * span, DAY_MS);
    layout.xaxis = Object.assign(layout.xaxis || {}, {type: "date",
      range: [new Date(Date.parse(first) - margin).toISOString().slice(0, 10),
              new Date(Date.parse(last) + margin).toISOString().slice(0, 10)]});
    if (cell) {
      // the heatmap's month on the curve: a light band over the month, the cell's value on its day
      const start = DATA.months[month] + "-01";
      const end = new Date(Date.UTC(Number(start.slice(0, 4)), Number(start.slice(5, 7)), 1)).toISOString().slice(0, 10);
      layout.shapes.push({type: "rect", xref: "x", yref: "paper", x0: Date.parse(start), x1: Date.parse(end), name: "selected month",
        y0: p.sign ? 0.12 : 0, y1: 1, fillcolor: "rgba(255,165,0,0.18)", line: {width: 0}, layer: "below"});
      traces.push({x: [cell.date], y: [cell.value], mode: "markers", meta: "cell",
        name: "heatmap " + DATA.months[month] + " (" + cell.date + ")",
        marker: {color: "#e67e00", size: 9, line: {color: "white", width: 1}},
        hovertemplate: "%{x}: %{y:.2f} (the heatmap's cell)<extra></extra>"});
    }
    const marks = {x: [], y: [], text: []};
    for (const e of DATA.episodes) {
      if (e.end < first || e.start > last) continue;
      let x0 = Date.parse(e.start), x1 = Date.parse(e.end) + DAY_MS;  // the end day drawn whole
      if (x1 - x0 < minWidth) { const middle = (x0 + x1) / 2; x0 = middle - minWidth / 2; x1 = middle + minWidth / 2; }
      layout.shapes.push({type: "rect", xref: "x", yref: "paper", x0: x0, x1: x1, name: e.name,
        y0: p.sign ? 0.12 : 0, y1: 1, fillcolor: "rgba(127,127,127,0.15)", line: {width: 0}, layer: "below"});
      marks.x.push(e.start); marks.y.push(0.93); marks.text.push(e.name + " (" + e.start + " .. " + e.end + ")");
    }
    if (marks.x.length) {
      traces.push({x: marks.x, y: marks.y, text: marks.text, mode: "markers", name: "stress episode",
        marker: {color: "rgba(90,90,90,0.6)", symbol: "triangle-down", size: 7}, hovertemplate: "%{text}<extra></extra>"});
    }
    Plotly.react("pair", traces, layout, DATA.plot_config);
    drawExceedance(x, y);
  }
  const ERA_COLOURS = ["#8fa9c7", "#c9a66b", "#9cc59a", "#b9a3cf"];
  function drawExceedance(x, y) {
    // the clicked pair's exceedance curve per era and the normal benchmark, or why there is none
    const title = document.getElementById("exceedance-title");
    const note = document.getElementById("exceedance-note");
    const e = x === null ? null : (DATA.exceedance[x + "|" + y] || DATA.exceedance[y + "|" + x]);
    const layout = Object.assign({}, PAIR_LAYOUT, {height: 360});
    if (!e) {
      title.textContent = "Exceedance correlations";
      delete title.dataset.pair;
      note.textContent = x === null ? "" : "No exceedance correlations for " + x + " vs " + y +
        " (configured pairs only; regimes.exceedance.all_pairs adds every pair).";
      Plotly.react("exceedance", [], Object.assign(layout, {xaxis: {visible: false}, yaxis: {visible: false}}),
        DATA.plot_config);
      return;
    }
    title.textContent = x + " vs " + y + ": exceedance correlations";
    title.dataset.pair = x + "|" + y;
    note.textContent = "Correlation on the days both legs are below (left: joint falls) or above (right) their " +
      "own quantile, against a bivariate normal with the same correlation (dashed). " + e.test;
    const traces = [];
    let other = 0;
    for (const era of e.eras) {
      traces.push({x: era.q, y: era.corr, customdata: era.count, mode: era.full ? "lines+markers" : "lines",
        name: era.era, line: {color: era.full ? "#17365d" : ERA_COLOURS[other++ % 4], width: era.full ? 2.2 : 1.2},
        hovertemplate: "%{x}%: %{y:.2f} on %{customdata} days<extra>" + era.era + "</extra>"});
      if (era.normal) {
        traces.push({x: era.q, y: era.normal, mode: "lines", name: "bivariate normal",
          line: {color: "black", dash: "dash", width: 1.2}, hovertemplate: "%{x}%: %{y:.2f}<extra>normal</extra>"});
      }
    }
    Object.assign(layout, {xaxis: {range: [0, 100], title: {text: "quantile of each leg's standardised return (%)"}},
      yaxis: {title: {text: "exceedance correlation"}}, legend: {orientation: "h", y: 1.12},
      shapes: [{type: "line", x0: 50, x1: 50, yref: "paper", y0: 0, y1: 1, line: {color: "#999", width: 1}}]});
    Plotly.react("exceedance", traces, layout, DATA.plot_config);
  }
  document.getElementById("heatmap").on("plotly_click", function (event) {
    const point = event.points[0];
    showPair(point.y, point.x);
  });
  // the page opens on the latest matrix that describes the universe (half its pairs valued), not on a
  // later month most series have not reached
  if (DATA.months.length) { slider.value = DATA.latest; showMonth(DATA.latest); }
  if (DATA.first) { const [a, b] = DATA.first.split("|"); showPair(a, b); }
})();
