// Click a header of a table.sortable to sort by that column (again to reverse).
// Cells sort by their data-v attribute when present, else their text; numbers numerically; empty last.
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.dataset.dir !== "asc";
      th.dataset.dir = asc ? "asc" : "desc";
      var key = function (row) {
        var c = row.cells[col];
        var v = c.dataset.v !== undefined ? c.dataset.v : c.textContent.trim();
        var n = parseFloat(v);
        return v === "" ? null : (isNaN(n) ? v : n);
      };
      var rows = Array.prototype.slice.call(table.tBodies[0].rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
        if (typeof x !== typeof y) { x = String(x); y = String(y); }
        return (x > y ? 1 : x < y ? -1 : 0) * (asc ? 1 : -1);
      });
      rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
    });
  });
});
