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
  // The value pickers offer the chosen property's options (a dropdown's values): a datalist
  // for the single value, an "Add an option" list that appends a line to the values.
  function fitProperty(select) {
    var box = select.closest('[data-condition]');
    if (!box) return;
    var chosen = select.options[select.selectedIndex];
    var choices = [];
    try { choices = JSON.parse((chosen && chosen.getAttribute('data-choices')) || '[]'); } catch (_) {}
    var list = box.querySelector('datalist[data-choices]');
    if (list) {
      list.textContent = '';
      choices.forEach(function (c) {
        var o = document.createElement('option');
        o.value = c.value; o.label = c.label;
        list.appendChild(o);
      });
    }
    var add = box.querySelector('select[data-add-choice]');
    if (add) {
      add.length = 1;
      choices.forEach(function (c) {
        var o = document.createElement('option');
        o.value = c.value; o.textContent = c.label === c.value ? c.value : c.label + ' (' + c.value + ')';
        add.appendChild(o);
      });
      add.hidden = choices.length === 0;
    }
  }
  // Narrows a long property list to the options whose label contains the search text.
  function searchProperties(input) {
    var select = document.getElementById(input.getAttribute('aria-controls'));
    if (!select) return;
    var words = input.value.trim().toLowerCase();
    Array.prototype.forEach.call(select.options, function (o, i) {
      o.hidden = i > 0 && !o.selected && words !== '' && o.textContent.toLowerCase().indexOf(words) < 0;
    });
  }
  function addChoice(select) {
    var box = select.closest('[data-condition]');
    var values = box && box.querySelector('[data-operand=values] textarea');
    if (!values || !select.value) return;
    var lines = values.value.split('\n').filter(function (l) { return l !== ''; });
    if (lines.indexOf(select.value) < 0) lines.push(select.value);
    values.value = lines.join('\n');
    select.selectedIndex = 0;
  }
  function init(root) {
    root.querySelectorAll('select[data-operator]').forEach(fitOperator);
    root.querySelectorAll('select[data-property]').forEach(fitProperty);
  }
  document.addEventListener('change', function (e) {
    if (!e.target.matches) return;
    if (e.target.matches('select[data-operator]')) fitOperator(e.target);
    if (e.target.matches('select[data-property]')) fitProperty(e.target);
    if (e.target.matches('select[data-add-choice]')) addChoice(e.target);
  });
  document.addEventListener('input', function (e) {
    if (e.target.matches && e.target.matches('input[data-property-search]')) searchProperties(e.target);
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
