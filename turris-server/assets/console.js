// Turris console: the little JavaScript the pages use (htmx does the partial updates).
// Copy buttons, and filter value inputs that follow the chosen operator.
(function () {
  function fitOperator(select) {
    var box = select.closest('[data-condition]');
    if (!box) return;
    var op = select.value;
    var value = box.querySelector('[data-operand=value]');
    var values = box.querySelector('[data-operand=values]');
    if (value) value.hidden = !(op === 'equals' || op === 'contains' || op === '');
    if (values) values.hidden = op !== 'is_one_of';
  }
  function init(root) {
    root.querySelectorAll('select[data-operator]').forEach(fitOperator);
  }
  document.addEventListener('change', function (e) {
    if (e.target.matches && e.target.matches('select[data-operator]')) fitOperator(e.target);
  });
  document.addEventListener('click', function (e) {
    var button = e.target.closest && e.target.closest('[data-copy]');
    if (!button) return;
    var source = document.getElementById(button.getAttribute('data-copy'));
    if (!source) return;
    var text = source.textContent.trim();
    var done = function () { button.textContent = 'Copied'; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var range = document.createRange(); range.selectNodeContents(source);
      var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
      try { document.execCommand('copy'); done(); } catch (_) {}
    }
  });
  document.addEventListener('DOMContentLoaded', function () { init(document); });
  document.addEventListener('htmx:afterSettle', function (e) { init(e.target); });
})();
// A form with data-busy-label shows it on its button while the browser navigates away
// (the seed's "Connecting...").
document.addEventListener('submit', function (e) {
  var form = e.target;
  var label = form.getAttribute && form.getAttribute('data-busy-label');
  if (!label) return;
  var button = form.querySelector('button[type=submit]');
  if (button) setTimeout(function () { button.textContent = label; button.disabled = true; }, 0);
});
